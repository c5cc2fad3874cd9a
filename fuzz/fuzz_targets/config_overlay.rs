//! libFuzzer entry point; the target itself is [`sigil_fuzz::config_overlay`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sigil_fuzz::config_overlay(data));

//! libFuzzer entry point; the target itself is [`sigil_fuzz::key_decode`].
#![no_main]
// The macro exports the entry point unmangled.
#![allow(unsafe_code)]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sigil_fuzz::key_decode(data));

//! libFuzzer entry point; the target itself is [`sigil_fuzz::verify_request`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sigil_fuzz::verify_request(data));

//! libFuzzer entry point; the target itself is [`sigil_fuzz::verify_request`].
#![no_main]
// The macro exports the entry point unmangled.
#![allow(unsafe_code)]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sigil_fuzz::verify_request(data));

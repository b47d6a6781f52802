#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| goto_fuzz::harness::h2_frames(data));

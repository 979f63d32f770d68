#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    memory_monitor::fuzzing::s3_error_xml(data);
});

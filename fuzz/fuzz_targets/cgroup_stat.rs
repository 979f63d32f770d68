#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    memory_monitor::fuzzing::cgroup_stat(data);
});

//! Clock ticks per second, to turn `/proc/<pid>/stat` times into seconds.

/// `sysconf(_SC_CLK_TCK)`; 100 (the Linux value everywhere) if it fails.
pub fn ticks_per_second() -> u64 {
    // SAFETY: sysconf takes a constant name and has no memory effects.
    let n = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(n).ok().filter(|&n| n > 0).unwrap_or(100)
}

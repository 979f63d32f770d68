//! `--record FILE`: every sample as a `seconds,bytes` row, for `replay`.

use std::fs::File;
use std::io::Write as _;
use std::path::Path;
use std::time::Instant;

/// `--record FILE`: `seconds,bytes` rows written from a stack buffer.
pub(super) struct Recorder {
    file: File,
    origin: Option<Instant>,
}

impl Recorder {
    pub(super) fn create(path: &Path) -> std::io::Result<Recorder> {
        let mut file = File::create(path)?;
        file.write_all(b"seconds,bytes\n")?;
        Ok(Recorder { file, origin: None })
    }

    #[inline(never)]
    pub(super) fn row(&mut self, now: Instant, bytes: u64) {
        use std::fmt::Write as _;
        let origin = *self.origin.get_or_insert(now);
        let mut line = heapless::String::<48>::new();
        let secs = now.saturating_duration_since(origin).as_secs_f64();
        // 48 bytes always hold "<f64 with 3 decimals>,<u64>\n" for sane uptimes.
        if writeln!(line, "{secs:.3},{bytes}").is_ok() {
            let _ = self.file.write_all(line.as_bytes());
        }
    }
}

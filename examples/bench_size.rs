//! Size of the stripped static binary (PRODUCT §5: at most 2.5 MB): the
//! release binary run through `strip` (a no-op for the shipped profile,
//! which strips already; skipped when binutils is missing), and whether it
//! is static (an ELF without a `PT_INTERP` program header).
//!
//! Knobs: none. Binary: `MEMORY_MONITOR_RELEASE` (`just bench` sets it).

#[path = "bench_util/mod.rs"]
mod bench_util;

use std::process::{Command, ExitCode};

use bench_util::{Result, Table, Work};

const BUDGET: u64 = 2_500_000;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_size: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let bin = bench_util::monitor_bin()?;
    let work = Work::new("bench-size")?;
    let stripped = work.path("memory-monitor.stripped");
    let how = if bench_util::require_tool("strip", "binutils").is_ok() {
        let status = Command::new("strip")
            .arg("-o")
            .arg(&stripped)
            .arg(&bin)
            .status()
            .map_err(|e| format!("strip: {e}"))?;
        if !status.success() {
            return Err(format!(
                "strip -o {} {} failed",
                stripped.display(),
                bin.display()
            ));
        }
        "stripped"
    } else {
        std::fs::copy(&bin, &stripped).map_err(|e| format!("copy: {e}"))?;
        "as built (no strip(1) here)"
    };
    let elf = std::fs::read(&stripped).map_err(|e| format!("read {}: {e}", stripped.display()))?;
    let size = elf.len() as u64;
    let kind = elf_kind(&elf)?;
    println!("== binary: {size} bytes {how}; {kind}");
    let mut table = Table::default();
    table.budget(
        "stripped binary size (budget <= 2.5 MB)",
        format!(
            "{size} B = {:.2} MB = {:.2} MiB",
            size as f64 / 1e6,
            size as f64 / 1048576.0
        ),
        size <= BUDGET,
    );
    table.budget("linking (budget: static)", kind, kind.starts_with("static"));
    table.print("binary");
    Ok(())
}

/// "static" / "static-pie" / "dynamic", from the ELF64 program headers.
fn elf_kind(elf: &[u8]) -> Result<&'static str> {
    let u16_at = |o: usize| elf.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |o: usize| {
        elf.get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u64_at = |o: usize| {
        elf.get(o..o + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    };
    if elf.get(..5) != Some(b"\x7fELF\x02".as_slice()) {
        return Err("not a 64-bit ELF file".into());
    }
    let bad = || "truncated ELF header".to_string();
    let e_type = u16_at(16).ok_or_else(bad)?;
    let phoff = u64_at(32).ok_or_else(bad)? as usize;
    let phentsize = u16_at(54).ok_or_else(bad)? as usize;
    let phnum = u16_at(56).ok_or_else(bad)? as usize;
    const PT_INTERP: u32 = 3;
    for i in 0..phnum {
        let p_type = u32_at(phoff + i * phentsize).ok_or_else(bad)?;
        if p_type == PT_INTERP {
            return Ok("dynamic (has an interpreter)");
        }
    }
    // ET_DYN without an interpreter is a static PIE.
    Ok(if e_type == 3 { "static-pie" } else { "static" })
}

//! The binary we ship keeps the code of a steady-state tick together
//! (`src/link/tick.ld`, linked in by `src/link/build.rs`): after every sleep
//! each page of code the tick touches is an iTLB walk, which on a VM costs
//! more than the work. Every output section the script declares must be in
//! the binary, not empty, in the declared order and back to back. A pattern
//! that stops matching (a function renamed, moved or inlined away) drops
//! its section and fails here by name. Section headers survive `strip`, so
//! this reads the shipped binary itself.

mod common;

use std::path::Path;

/// One section header of a 64-bit little-endian ELF file.
#[derive(Debug)]
struct Section {
    name: String,
    addr: u64,
    size: u64,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    let s = b.get(at..at + 2).expect("ELF file cut short");
    u16::from_le_bytes([s[0], s[1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let s = b.get(at..at + 4).expect("ELF file cut short");
    u32::from_le_bytes(s.try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let s = b.get(at..at + 8).expect("ELF file cut short");
    u64::from_le_bytes(s.try_into().unwrap())
}

fn sections(elf: &[u8], path: &Path) -> Vec<Section> {
    assert!(
        elf.starts_with(b"\x7fELF") && elf.get(4) == Some(&2) && elf.get(5) == Some(&1),
        "{} is not a 64-bit little-endian ELF file",
        path.display()
    );
    let shoff = u64_at(elf, 0x28) as usize;
    let (entsize, count, names) = (
        usize::from(u16_at(elf, 0x3a)),
        usize::from(u16_at(elf, 0x3c)),
        usize::from(u16_at(elf, 0x3e)),
    );
    let header = |i: usize| shoff + i * entsize;
    let strtab = u64_at(elf, header(names) + 0x18) as usize;
    (0..count)
        .map(|i| {
            let h = header(i);
            let name_at = strtab + u32_at(elf, h) as usize;
            let name = elf
                .get(name_at..)
                .and_then(|s| s.split(|&b| b == 0).next())
                .expect("section name outside the file");
            Section {
                name: String::from_utf8_lossy(name).into_owned(),
                addr: u64_at(elf, h + 0x10),
                size: u64_at(elf, h + 0x20),
            }
        })
        .collect()
}

/// The output sections `tick.ld` declares, in order.
fn declared() -> Vec<String> {
    let script = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/link/tick.ld"))
        .expect("read src/link/tick.ld");
    script
        .lines()
        .filter_map(|l| l.trim().split_once(" : "))
        .map(|(name, _)| name.to_string())
        .filter(|name| name.starts_with(".text.tick."))
        .collect()
}

#[test]
fn the_tick_code_sits_in_a_few_adjacent_pages() {
    let declared = declared();
    assert!(declared.len() >= 10, "tick.ld declares only {declared:?}");
    let bin = common::release_bin();
    let elf = std::fs::read(&bin).expect("read the release binary");
    let all = sections(&elf, &bin);
    let missing: Vec<&String> = declared
        .iter()
        .filter(|d| !all.iter().any(|s| &s.name == *d && s.size > 0))
        .collect();
    assert!(
        missing.is_empty(),
        "{missing:?} matched no code in {}: a function renamed, moved or inlined away? \
         Mend the pattern in src/link/tick.ld (sections present: {:?})",
        bin.display(),
        all.iter()
            .filter(|s| s.name.starts_with(".text.tick."))
            .map(|s| &s.name)
            .collect::<Vec<_>>()
    );
    let placed: Vec<&Section> = declared
        .iter()
        .filter_map(|d| all.iter().find(|s| &s.name == d))
        .collect();
    for pair in placed.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let gap = b.addr.checked_sub(a.addr + a.size);
        assert!(
            gap.is_some_and(|g| g < 64),
            "{} ({:#x}) does not follow {} ({:#x}+{:#x}) directly",
            b.name,
            b.addr,
            a.name,
            a.addr,
            a.size
        );
    }
    let first = placed.first().unwrap();
    let last = placed.last().unwrap();
    let span = last.addr + last.size - first.addr;
    let pages = (last.addr + last.size - 1) / 4096 - first.addr / 4096 + 1;
    println!(
        "tick code: {span} bytes on {pages} pages, {} sections",
        placed.len()
    );
    // 14.7 KiB on 4 pages when written (24 before); the whole .text is ~1.5 MiB.
    assert!(
        pages <= 5,
        "the tick's code spans {pages} pages ({span} bytes): has a cold path been inlined into it?"
    );
    let text = all.iter().find(|s| s.name == ".text").expect("no .text");
    assert!(
        last.addr + last.size <= text.addr,
        "the tick's sections are not placed before .text"
    );
}

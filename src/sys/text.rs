//! The monitor's own read-only segments (code, read-only data, the
//! start-up relocation table): clean pages of the executable file, mapped
//! privately and never written. [`release`] asks the kernel to unmap them
//! (`MADV_DONTNEED`); the next instruction or constant that needs one
//! faults it back in from the page cache, with the same bytes (a running
//! executable cannot be written: `ETXTBSY`). Writable segments and RELRO
//! (relocated at start-up by a static-pie, so no longer the file's bytes)
//! are never touched.

use std::ffi::c_void;
use std::io;

/// At most this many read-only segments are released (an executable has 2–3).
const MAX_SEGMENTS: usize = 8;

#[derive(Default)]
struct Segments {
    n: usize,
    /// `[start, end)` addresses, page-aligned inwards.
    range: [(usize, usize); MAX_SEGMENTS],
}

fn page_size() -> usize {
    // SAFETY: sysconf takes a constant name and has no memory effects.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(n).ok().filter(|&n| n > 0).unwrap_or(4096)
}

/// Whether `[a, b)` and `[c, d)` share a page (`page` a power of two).
fn share_page(a: usize, b: usize, c: usize, d: usize, page: usize) -> bool {
    let (a, b) = (a & !(page - 1), b.saturating_add(page - 1) & !(page - 1));
    let (c, d) = (c & !(page - 1), d.saturating_add(page - 1) & !(page - 1));
    a < d && c < b
}

/// `dl_iterate_phdr` callback: records the first object's (the
/// executable's) read-only `PT_LOAD` segments, then stops the walk.
extern "C" fn first_object(
    info: *mut libc::dl_phdr_info,
    _size: libc::size_t,
    data: *mut c_void,
) -> libc::c_int {
    // SAFETY: `data` is the `&mut Segments` that `segments` passed to
    // dl_iterate_phdr, alive and not otherwise borrowed during the walk.
    let out = unsafe { &mut *data.cast::<Segments>() };
    // SAFETY: libc hands a valid `dl_phdr_info` for the duration of the call.
    let info = unsafe { &*info };
    if info.dlpi_phdr.is_null() {
        return 1;
    }
    // SAFETY: `dlpi_phdr` points to `dlpi_phnum` program headers of a
    // loaded object, valid while it stays loaded (the executable: always).
    let headers =
        unsafe { std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum)) };
    let base = usize::try_from(info.dlpi_addr).unwrap_or(0);
    let page = page_size();
    let span = |h: &libc::Elf64_Phdr| {
        let start = base.wrapping_add(usize::try_from(h.p_vaddr).unwrap_or(0));
        (
            start,
            start.wrapping_add(usize::try_from(h.p_memsz).unwrap_or(0)),
        )
    };
    // Pages that must keep their (relocated, written) contents.
    let keep = |a: usize, b: usize| {
        headers.iter().any(|h| {
            let written = h.p_type == libc::PT_GNU_RELRO
                || (h.p_type == libc::PT_LOAD && h.p_flags & libc::PF_W != 0);
            let (c, d) = span(h);
            written && share_page(a, b, c, d, page)
        })
    };
    for h in headers {
        if h.p_type != libc::PT_LOAD || h.p_flags & libc::PF_W != 0 || out.n == MAX_SEGMENTS {
            continue;
        }
        let (a, b) = span(h);
        // Whole pages only: inwards.
        let (a, b) = (a.saturating_add(page - 1) & !(page - 1), b & !(page - 1));
        if a < b && !keep(a, b) {
            out.range[out.n] = (a, b);
            out.n += 1;
        }
    }
    1
}

fn segments() -> Segments {
    let mut out = Segments::default();
    let data: *mut Segments = &mut out;
    // SAFETY: the callback only runs during this call and only touches
    // `out` through `data`; libc keeps the headers valid meanwhile.
    unsafe { libc::dl_iterate_phdr(Some(first_object), data.cast()) };
    out
}

/// Unmaps the executable's clean read-only pages from this process (they
/// stay in the page cache and fault back in when used). Returns how many
/// bytes were released. Allocation-free.
pub fn release() -> io::Result<usize> {
    let s = segments();
    let mut bytes = 0;
    for &(a, b) in &s.range[..s.n] {
        // SAFETY: `[a, b)` is whole pages of one of this executable's
        // read-only, never-written private file mappings (not RELRO, not a
        // writable segment); dropping them only means the next access
        // reads the same bytes back from the file.
        let rc = unsafe { libc::madvise(a as *mut c_void, b - a, libc::MADV_DONTNEED) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        bytes += b - a;
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_code_and_releases_it() {
        let s = segments();
        assert!(s.n >= 1, "no read-only segment found");
        let here = finds_the_code_and_releases_it as *const () as usize;
        assert!(
            s.range[..s.n].iter().any(|&(a, b)| a <= here && here < b),
            "this function's code is not in a released segment"
        );
        let released = release().unwrap();
        assert!(released >= 64 * 1024, "{released}");
        // Still runs, reads its constants and its code after the release.
        assert_eq!(format!("{:>5}", 42), "   42");
        assert!(share_page(0, 1, 4095, 4097, 4096));
        assert!(!share_page(0, 4096, 4096, 8192, 4096));
    }
}

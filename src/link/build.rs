//! Links the binary with `tick.ld` (next to this file), which gathers the
//! code of a steady-state tick in a few adjacent pages; see its comment and
//! tests/tick_layout.rs. Linux only; `-T<script>` is understood both by the
//! `cc` driver and by a bare `ld`/`ld.lld`, and the script only adds to the
//! default layout. The library, tests and examples link as before.

fn main() {
    println!("cargo::rerun-if-changed=src/link/tick.ld");
    println!("cargo::rerun-if-changed=src/link/build.rs");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    let Ok(dir) = std::env::var("CARGO_MANIFEST_DIR") else {
        return;
    };
    if linux {
        println!("cargo::rustc-link-arg-bins=-T{dir}/src/link/tick.ld");
    }
}

//! Writes the labelled trace suite (tests/traces/suite.rs) as CSV files that
//! `memory-monitor replay` reads: `cargo run --example gen_traces -- DIR [SEED]`.
//! Restarts are `# restart` lines; labels are `# label` comments.

#[path = "../tests/traces/suite.rs"]
mod suite;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: gen_traces DIR [SEED]");
        std::process::exit(2);
    };
    let seed = args.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let dir = std::path::PathBuf::from(dir);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("gen_traces: {}: {e}", dir.display());
        std::process::exit(1);
    }
    for t in suite::suite_seeded(seed) {
        let path = dir.join(format!("{}.csv", t.name));
        if let Err(e) = std::fs::write(&path, t.csv()) {
            eprintln!("gen_traces: {}: {e}", path.display());
            std::process::exit(1);
        }
        println!("{}", path.display());
    }
}

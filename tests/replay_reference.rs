//! `replay --format json` on the real binary against an independent,
//! deliberately naive reading of PRODUCT §1 (sort-based percentiles, plain
//! loops), over a long pseudo-random trace with plateaus, leaks and spikes:
//! every event must match to the sample.

mod common;

use common::{replay, scratch};

struct Rules {
    window: usize,
    threshold: u64,
    mult: f64,
    spike_cooldown: f64,
    leak_cooldown: f64,
}

fn pct(window: &[u64], p: f64) -> u64 {
    let mut v = window.to_vec();
    v.sort();
    let n = v.len();
    let idx = ((n as f64 * p / 100.0).ceil() as usize).clamp(1, n);
    v[idx - 1]
}

/// The expected JSON lines, written from the text of PRODUCT §1.
fn reference(rows: &[(f64, u64)], r: &Rules) -> Vec<String> {
    let mut out = Vec::new();
    let mut window: Vec<u64> = Vec::new();
    let mut baseline: Option<u64> = None;
    let (mut last_spike, mut last_leak): (Option<f64>, Option<f64>) = (None, None);
    let (mut spike_told, mut leak_told) = (false, false);
    let line = |t: f64, ev: &str, b: u64, w: &[u64], base: u64, dump: bool| {
        format!(
            "{{\"t\": {t:?}, \"event\": \"{ev}\", \"bytes\": {b}, \"p50\": {}, \"p95\": {}, \"baseline\": {base}, \"dump\": {dump}}}",
            pct(w, 50.0),
            pct(w, 95.0)
        )
    };
    for &(t, b) in rows {
        let p95_before = if window.is_empty() {
            0
        } else {
            pct(&window, 95.0)
        };
        window.push(b);
        if window.len() > r.window {
            window.remove(0);
        }
        let Some(base) = baseline else {
            if window.len() == r.window {
                baseline = Some(pct(&window, 50.0));
                out.push(line(t, "baseline", b, &window, pct(&window, 50.0), false));
            }
            continue;
        };
        if b as f64 > p95_before as f64 * r.mult {
            if last_spike.is_none_or(|s| t - s >= r.spike_cooldown) {
                out.push(line(t, "spike", b, &window, base, true));
                last_spike = Some(t);
                last_leak = Some(t);
                spike_told = true;
                baseline = Some(pct(&window, 50.0));
            } else if !spike_told {
                out.push(line(t, "spike", b, &window, base, false));
                spike_told = true;
            }
            continue;
        }
        spike_told = false;
        if pct(&window, 50.0) > base + r.threshold {
            if last_leak.is_none_or(|s| t - s >= r.leak_cooldown) {
                out.push(line(t, "slow-leak", b, &window, base, true));
                last_leak = Some(t);
                leak_told = true;
                baseline = Some(pct(&window, 50.0));
            } else if !leak_told {
                out.push(line(t, "slow-leak", b, &window, base, false));
                leak_told = true;
            }
        } else {
            leak_told = false;
        }
    }
    out
}

fn trace() -> Vec<(f64, u64)> {
    let mut seed: u64 = 0x1234_5678_9abc_def1;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut rows = Vec::new();
    let mut level: u64 = 200_000_000;
    for i in 0..3000u64 {
        let phase = (i / 300) % 4;
        match phase {
            1 => level += 300_000,      // slow leak
            3 => level -= level / 2000, // slow release
            _ => {}
        }
        let noise = next() % 4_000_000;
        let spike = if phase % 2 == 0 && next() % 23 == 0 {
            level * 3 + next() % 50_000_000
        } else {
            0
        };
        // Seconds on a 0.5 s grid: exact in binary floating point.
        rows.push((i as f64 * 0.5, level + noise + spike));
    }
    rows
}

#[test]
fn replay_matches_the_rules_to_the_sample() {
    let dir = scratch("replayref");
    let rows = trace();
    let mut csv = String::from("seconds,bytes\n# generated\n");
    for (t, b) in &rows {
        csv.push_str(&format!("{t},{b}\n"));
    }
    let file = dir.join("trace.csv");
    std::fs::write(&file, csv).unwrap();
    let rules = Rules {
        window: 30,
        threshold: 20_000_000,
        mult: 2.5,
        spike_cooldown: 30.0 * 0.5,
        leak_cooldown: 60.0,
    };
    let out = replay(
        &file,
        &["--format", "json"],
        &[
            ("CHECK_INTERVAL", "500ms"),
            ("MEMORY_CHANGE_THRESHOLD", "20MB"),
            ("DUMP_COOLDOWN", "1m"),
            ("HISTORY_WINDOW_SIZE", "30"),
            ("SPIKE_MULTIPLIER", "2.5"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let want = reference(&rows, &rules);
    assert!(want
        .iter()
        .any(|l| l.contains("\"spike\"") && l.contains("true")));
    assert!(want
        .iter()
        .any(|l| l.contains("\"slow-leak\"") && l.contains("true")));
    assert!(want
        .iter()
        .any(|l| l.contains("false}") && !l.contains("\"event\": \"baseline\"")));
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "event {i} differs");
    }
    assert_eq!(got.len(), want.len(), "event count");
}

#[test]
fn a_bad_trace_names_the_line() {
    let dir = scratch("replaybad");
    let file = dir.join("bad.csv");
    std::fs::write(&file, "seconds,bytes\n0,100\n1,lots\n").unwrap();
    let out = replay(
        &file,
        &[],
        &[
            ("CHECK_INTERVAL", "1s"),
            ("MEMORY_CHANGE_THRESHOLD", "1MB"),
            ("DUMP_COOLDOWN", "1m"),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 3: bad bytes \"lots\""), "{err}");
}

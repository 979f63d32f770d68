//! The labelled trace suite (issue 10): memory traces of 2–12 h at 10 s,
//! generated deterministically (a hand-written PRNG, fixed seeds) so the
//! bench (`just bench-detect`), the regression test (`tests/detect_suite.rs`)
//! and `cargo run --example gen_traces -- DIR` all see the same samples.
//!
//! Every trace is a base level shaped by its story (warm-up, step, leak,
//! restarts) times realistic noise: a slow wander (an Ornstein–Uhlenbeck
//! process, τ = 20 min, σ = 0.8 % of the base, plus a sine of 0.5 % over
//! 3–6 h), per-sample jitter (σ = 0.4 %) and short allocation bumps (+2–8 %
//! for 10–30 s, one every ~7 min), plus the trace's own pattern (GC
//! sawtooth, hourly batch job, request bursts, spikes).
//!
//! Labels: the onsets a detector must catch (`Leak`, `Spike`), each with the
//! end of the span in which its alerts are legitimate; everything else must
//! stay quiet.
#![allow(dead_code)]

use std::fmt::Write as _;

pub(crate) const STEP_S: f64 = 10.0;
const MB: f64 = 1_000_000.0;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum LabelKind {
    Leak,
    Spike,
}

/// An onset that must be caught; alerts in `[onset, end]` are legitimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Label {
    pub kind: LabelKind,
    pub onset: f64,
    pub end: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Row {
    Sample(f64, u64),
    /// A new process incarnation starts with the next sample.
    Restart,
}

pub(crate) struct Trace {
    pub name: &'static str,
    pub about: &'static str,
    pub rows: Vec<Row>,
    pub labels: Vec<Label>,
}

impl Trace {
    /// How long the trace lasts, in hours.
    pub(crate) fn hours(&self) -> f64 {
        let last = self.rows.iter().rev().find_map(|r| match r {
            Row::Sample(t, _) => Some(*t),
            Row::Restart => None,
        });
        (last.unwrap_or(0.0) + STEP_S) / 3600.0
    }

    /// The median of the first 60 samples: the bench's threshold is 10 % of it.
    pub(crate) fn starting_median(&self) -> u64 {
        let mut v: Vec<u64> = self
            .rows
            .iter()
            .filter_map(|r| match r {
                Row::Sample(_, b) => Some(*b),
                Row::Restart => None,
            })
            .take(60)
            .collect();
        v.sort_unstable();
        v[(v.len() - 1) / 2]
    }

    /// The trace as replay reads it: `seconds,bytes` rows, `# restart`
    /// before the first sample of a new incarnation, labels as comments.
    pub(crate) fn csv(&self) -> String {
        let mut s = format!("seconds,bytes\n# trace {}: {}\n", self.name, self.about);
        for l in &self.labels {
            let _ = writeln!(s, "# label {:?} onset={} end={}", l.kind, l.onset, l.end);
        }
        for r in &self.rows {
            let _ = match r {
                Row::Sample(t, b) => writeln!(s, "{t},{b}"),
                Row::Restart => writeln!(s, "# restart"),
            };
        }
        s
    }
}

/// splitmix64: small, fast, good enough for noise.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub(crate) fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    /// Standard normal (Box–Muller).
    pub(crate) fn normal(&mut self) -> f64 {
        let u = self.unit().max(1e-12);
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// What shapes one trace. Fractions are of `base`; times in hours.
#[derive(Clone, Copy)]
pub(crate) enum Part {
    /// Each incarnation starts at `from` × base and approaches base with time constant `tau_min`.
    WarmUp { from: f64, tau_min: f64 },
    /// A lasting step of `frac` at `at` (spread over one minute).
    Step { at: f64, frac: f64 },
    /// Linear growth of `pct_per_h` % of base per hour from `from` (restarts free it).
    Leak { from: f64, pct_per_h: f64 },
    /// GC sawtooth: rises by `amp` over `period_min`, then drops.
    Sawtooth { period_min: f64, amp: f64 },
    /// A job every hour at minute `minute`: +`frac` for `dur_min`.
    Batch {
        minute: f64,
        dur_min: f64,
        frac: f64,
    },
    /// Request bursts of ×1.5–2.2 for 10–30 s, on average every `every_min`.
    Bursts { every_min: f64 },
    /// The sample × `mult` for `dur_s` from `at`.
    Spike { at: f64, mult: f64, dur_s: f64 },
    /// New incarnations every `every` hours.
    Restarts { every: f64 },
    /// One restart at `at`.
    RestartAt { at: f64 },
}

pub(crate) struct Spec {
    pub name: &'static str,
    pub about: &'static str,
    pub hours: f64,
    pub base_mb: f64,
    pub seed: u64,
    pub parts: Vec<Part>,
}

/// The slow wander + jitter + allocation bumps, as a fraction of base.
struct Noise {
    ou: f64,
    sine_period_s: f64,
    sine_phase: f64,
    bump_left: u32,
    bump: f64,
    burst_left: u32,
    burst: f64,
}

impl Noise {
    fn new(rng: &mut Rng) -> Noise {
        Noise {
            ou: rng.normal() * 0.008,
            sine_period_s: rng.range(3.0, 6.0) * 3600.0,
            sine_phase: rng.range(0.0, std::f64::consts::TAU),
            bump_left: 0,
            bump: 0.0,
            burst_left: 0,
            burst: 1.0,
        }
    }

    fn step(&mut self, rng: &mut Rng, t: f64) -> f64 {
        let (tau, sigma) = (1200.0, 0.008);
        let a = (-STEP_S / tau).exp();
        self.ou = self.ou * a + sigma * (1.0 - a * a).sqrt() * rng.normal();
        let sine = 0.005 * (std::f64::consts::TAU * t / self.sine_period_s + self.sine_phase).sin();
        if self.bump_left == 0 && rng.unit() < 1.0 / 42.0 {
            self.bump_left = 1 + (rng.unit() * 3.0) as u32;
            self.bump = rng.range(0.02, 0.08);
        }
        let bump = if self.bump_left > 0 {
            self.bump_left -= 1;
            self.bump
        } else {
            0.0
        };
        self.ou + sine + 0.004 * rng.normal() + bump
    }
}

fn restart_times(spec: &Spec) -> Vec<f64> {
    let mut out = Vec::new();
    for p in &spec.parts {
        match *p {
            Part::Restarts { every } => {
                let mut t = every;
                while t < spec.hours {
                    out.push(t * 3600.0);
                    t += every;
                }
            }
            Part::RestartAt { at } => out.push(at * 3600.0),
            _ => {}
        }
    }
    out.sort_by(f64::total_cmp);
    out
}

/// Generates the samples and derives the labels from the parts.
pub(crate) fn generate(spec: &Spec) -> Trace {
    let mut rng = Rng::new(spec.seed);
    let mut noise = Noise::new(&mut rng);
    let base = spec.base_mb * MB;
    let end = spec.hours * 3600.0;
    let restarts = restart_times(spec);
    let mut rows = Vec::new();
    let (mut inc_start, mut next_restart) = (0.0, 0usize);
    let mut t = 0.0;
    while t < end {
        if next_restart < restarts.len() && t >= restarts[next_restart] {
            inc_start = restarts[next_restart];
            next_restart += 1;
            rows.push(Row::Restart);
        }
        let age = t - inc_start;
        let mut level = 1.0;
        let mut extra = 0.0;
        let mut mult = 1.0;
        for p in &spec.parts {
            match *p {
                Part::WarmUp { from, tau_min } => {
                    level -= (1.0 - from) * (-age / (tau_min * 60.0)).exp();
                }
                Part::Step { at, frac } => {
                    let x = ((t - at * 3600.0) / 60.0).clamp(0.0, 1.0);
                    level += frac * x;
                }
                Part::Leak { from, pct_per_h } => {
                    let start = (from * 3600.0).max(inc_start);
                    if t > start {
                        level += pct_per_h / 100.0 * (t - start) / 3600.0;
                    }
                }
                Part::Sawtooth { period_min, amp } => {
                    extra += amp * (t % (period_min * 60.0)) / (period_min * 60.0);
                }
                Part::Batch {
                    minute,
                    dur_min,
                    frac,
                } => {
                    let m = (t / 60.0) % 60.0;
                    if m >= minute && m < minute + dur_min {
                        extra += frac;
                    }
                }
                Part::Bursts { every_min } => {
                    if noise.burst_left == 0 && rng.unit() < STEP_S / (every_min * 60.0) {
                        noise.burst_left = 1 + (rng.unit() * 3.0) as u32;
                        noise.burst = rng.range(1.5, 2.2);
                    }
                    if noise.burst_left > 0 {
                        noise.burst_left -= 1;
                        mult *= noise.burst;
                    }
                }
                Part::Spike { at, mult: m, dur_s } => {
                    let s = at * 3600.0;
                    if t >= s && t < s + dur_s {
                        mult *= m;
                    }
                }
                Part::Restarts { .. } | Part::RestartAt { .. } => {}
            }
        }
        let n = noise.step(&mut rng, t);
        let bytes = (base * (level + extra + n) * mult).max(MB);
        rows.push(Row::Sample(t, bytes as u64));
        t += STEP_S;
    }
    Trace {
        name: spec.name,
        about: spec.about,
        rows,
        labels: labels(spec, &restarts, end),
    }
}

fn labels(spec: &Spec, restarts: &[f64], end: f64) -> Vec<Label> {
    let mut out = Vec::new();
    for p in &spec.parts {
        match *p {
            Part::Leak { from, .. } => {
                // A leak lives until the end, freed and restarted at each restart.
                let first = from * 3600.0;
                let mut onset = first;
                let mut cuts = restarts.iter().copied().filter(|&r| r > first);
                loop {
                    let stop = cuts.next().unwrap_or(end);
                    out.push(Label {
                        kind: LabelKind::Leak,
                        onset,
                        end: stop,
                    });
                    if stop >= end {
                        break;
                    }
                    onset = stop;
                }
            }
            Part::Spike { at, dur_s, .. } => out.push(Label {
                kind: LabelKind::Spike,
                onset: at * 3600.0,
                end: at * 3600.0 + dur_s,
            }),
            _ => {}
        }
    }
    out
}

/// The suite: every class of issue 10, each trace with its own seed.
pub(crate) fn suite() -> Vec<Trace> {
    suite_seeded(0)
}

/// The suite with every seed moved by `offset` (0 = the suite): the same
/// stories under other noise, to check a detector is not tuned to one draw.
#[rustfmt::skip]
pub(crate) fn suite_seeded(offset: u64) -> Vec<Trace> {
    use Part::*;
    let s = |name, about, hours, base_mb, seed: u64, parts| Spec {
        name, about, hours, base_mb, seed: seed + offset * 1000, parts,
    };
    let warm = |from, tau_min| WarmUp { from, tau_min };
    let leak = |from, pct_per_h| Leak { from, pct_per_h };
    let specs = vec![
        s("warmup-fast", "250 MB -> 1 GB, plateau in ~30 min", 6.0, 1000.0, 1, vec![warm(0.25, 6.0)]),
        s("warmup-slow", "400 MB -> 1.2 GB, plateau in ~45 min", 8.0, 1200.0, 2, vec![warm(0.33, 11.0)]),
        s("config-step", "+15 % at 2 h, then flat", 6.0, 800.0, 3, vec![Step { at: 2.0, frac: 0.15 }]),
        s("sawtooth", "GC sawtooth, +20 % every 3 min", 6.0, 600.0, 4,
          vec![Sawtooth { period_min: 3.0, amp: 0.2 }]),
        s("batch-hourly", "hourly batch job, +60 % for 3 min", 8.0, 1000.0, 5,
          vec![Batch { minute: 17.0, dur_min: 3.0, frac: 0.6 }]),
        s("bursts", "request bursts x1.5-2.2 for 10-30 s, every ~10 min", 6.0, 500.0, 6,
          vec![Bursts { every_min: 10.0 }]),
        s("restarts-2h", "restart every 2 h, each with a fast warm-up", 12.0, 700.0, 7,
          vec![warm(0.4, 5.0), Restarts { every: 2.0 }]),
        s("steady-noise", "flat, noise only", 12.0, 2000.0, 8, vec![]),
        s("warmup-step-batch", "warm-up, +20 % at 3 h, hourly batch", 8.0, 1500.0, 9,
          vec![warm(0.3, 8.0), Step { at: 3.0, frac: 0.2 }, Batch { minute: 40.0, dur_min: 3.0, frac: 0.6 }]),
        s("leak-2", "2 %/h from 1 h", 12.0, 1000.0, 10, vec![leak(1.0, 2.0)]),
        s("leak-5", "5 %/h from 1 h", 8.0, 1000.0, 11, vec![leak(1.0, 5.0)]),
        s("leak-10", "10 %/h from 1 h", 6.0, 1000.0, 12, vec![leak(1.0, 10.0)]),
        s("leak-20", "20 %/h from 1 h", 4.0, 1000.0, 13, vec![leak(1.0, 20.0)]),
        s("leak-100", "100 %/h from 45 min", 2.0, 1000.0, 14, vec![leak(0.75, 100.0)]),
        s("leak-sawtooth", "10 %/h under a GC sawtooth, from 1 h", 6.0, 600.0, 15,
          vec![Sawtooth { period_min: 4.0, amp: 0.25 }, leak(1.0, 10.0)]),
        s("leak-after-restart", "warm-up, restart at 3 h, the new incarnation leaks 5 %/h from 3.5 h",
          9.0, 800.0, 16, vec![warm(0.25, 6.0), RestartAt { at: 3.0 }, leak(3.5, 5.0)]),
        s("spike-short", "x4 for 20 s at 2 h", 4.0, 1000.0, 18, vec![Spike { at: 2.0, mult: 4.0, dur_s: 20.0 }]),
        s("spike-long", "x3.5 for 15 min at 1.5 h", 4.0, 1000.0, 19,
          vec![Spike { at: 1.5, mult: 3.5, dur_s: 900.0 }]),
    ];
    specs.iter().map(generate).collect()
}

//! Zero heap allocations per sample in both detectors with every trend rule
//! on (issue 10: bounded, heapless state), proven with a counting global
//! allocator over whole traces of the suite: settling, fits, events,
//! handled dumps and restarts included.

#[path = "traces/suite.rs"]
mod suite;

use std::time::{Duration, Instant};

use memory_monitor::core::detector::Params;
use memory_monitor::core::detectors::{DetectParams, Detection, Detectors};
use memory_monitor::core::trend_rules::{Rate, TrendParams};

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

fn params(detection: Detection, threshold: u64, limit: u64) -> DetectParams {
    let cooldown = Duration::from_secs(600);
    DetectParams {
        detection,
        rules: Params {
            window_size: 60,
            threshold_bytes: threshold,
            spike_multiplier_micros: 3_000_000,
            spike_cooldown: cooldown,
            leak_cooldown: cooldown,
        },
        trend: TrendParams {
            leak_rate: Some(Rate::LimitBasisPointsPerHour(200)),
            rise_min: 0,
            time_to_limit: Some(Duration::from_secs(4 * 3600)),
            growth: Some((10, Duration::from_secs(3600))),
            cooldown,
            memory_limit: Some(limit),
        },
    }
}

#[test]
fn no_allocation_per_sample_in_either_detector() {
    let traces = suite::suite();
    let t0 = Instant::now();
    for name in ["leak-after-restart", "leak-20", "spike-long", "restarts-2h"] {
        let trace = traces.iter().find(|t| t.name == name).expect("trace");
        let rows: Vec<(Instant, Option<u64>)> = trace
            .rows
            .iter()
            .map(|r| match *r {
                suite::Row::Sample(s, b) => (t0 + Duration::from_secs_f64(s), Some(b)),
                suite::Row::Restart => (t0, None),
            })
            .collect();
        let threshold = trace.starting_median() / 10;
        for detection in [Detection::Compat, Detection::Robust] {
            let mut d = Box::new(Detectors::new(params(detection, threshold, 2 << 30)));
            let (mut events, mut dumps) = (0u32, 0u32);
            let before = counting_alloc::allocations();
            for &(now, bytes) in &rows {
                let Some(bytes) = bytes else {
                    d.reset();
                    continue;
                };
                d.set_cgroup_limit(Some(1 << 31));
                if let Some(e) = d.on_sample(now, bytes) {
                    events += 1;
                    if e.dump {
                        dumps += 1;
                        d.handled(e.kind, now);
                    }
                    let _ = d.holds(e.kind);
                }
            }
            let allocs = counting_alloc::allocations() - before;
            assert_eq!(allocs, 0, "{name} {detection:?}: {allocs} allocations");
            assert!(events > 0, "{name} {detection:?}: nothing happened");
            // Robust's point: a quiet service with restarts takes no dump.
            let quiet = name == "restarts-2h" && detection == Detection::Robust;
            assert_eq!(dumps == 0, quiet, "{name} {detection:?}: {dumps} dumps");
        }
    }
}

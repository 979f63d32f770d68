use super::*;
use crate::core::event::{CaptureFailure, CaptureOutcome};
use crate::core::notify::fixture::sample_report;

#[test]
fn spike_with_s3_dump() {
    let (ctx, r) = sample_report();
    let expected = "\
memory-monitor: *spike* (memory spike), environment prod, network mainnet
Pod `web-7f9c`, target `api` pid 4242
Memory now 900.0 MiB vs baseline 300.0 MiB: +600.0 MiB (window P50 310.0 MiB, P95 290.0 MiB)
Breakdown: anon 900.0 MiB (+600.0 MiB since baseline), file 40.0 MiB (-10.0 MiB since baseline), shmem 1.0 MiB (+0 B since baseline), swap 0 B (+0 B since baseline)
jemalloc: 850.0 MiB allocated, 880.0 MiB resident
Cgroup v2 /kubepods/pod1/c1: usage 1000.0 MiB of 2.0 GiB limit, working set 950.0 MiB, PSI some avg10 1.5%
Verdict: mostly anonymous memory (900.0 MiB of 941.0 MiB): the heap and stacks
Dump: s3://bucket/dumps/web-7f9c-2026-11-22-04-18-19-spike.pprof (being uploaded), console: https://s3.console.aws.amazon.com/s3/object/bucket?region=eu-west-1&prefix=dumps/web-7f9c-2026-11-22-04-18-19-spike.pprof
Fetch it: `aws s3 cp s3://bucket/dumps/web-7f9c-2026-11-22-04-18-19-spike.pprof web-7f9c-2026-11-22-04-18-19-spike.pprof`
Open it: `go tool pprof -http=:8080 path/to/api web-7f9c-2026-11-22-04-18-19-spike.pprof`";
    assert_eq!(plain(&ctx, &r), expected);
    let slack = slack(&ctx, &r);
    assert!(slack.contains("region=eu-west-1&amp;prefix="), "{slack}");
}

#[test]
fn local_spool_and_no_dump() {
    let (mut ctx, mut r) = sample_report();
    ctx.environment.clear();
    ctx.network = None;
    r.at_baseline = None;
    r.heap = None;
    r.p50_bytes = None;
    r.cgroup = None;
    if let Some(d) = r.dump.as_mut() {
        d.uri = None;
        d.console_url = None;
        d.path = Some("/tmp/spool/web-1-spike.pprof".into());
    }
    let text = plain(&ctx, &r);
    assert!(text
        .starts_with("memory-monitor: *spike* (memory spike), environment unset\nPod `web-7f9c`"));
    assert!(text.contains("\nMemory now 900.0 MiB vs baseline 300.0 MiB: +600.0 MiB\n"));
    assert!(text
        .contains("\nBreakdown: anon 900.0 MiB, file 40.0 MiB, shmem 1.0 MiB, swap 0 B\nVerdict:"));
    assert!(text.ends_with(
        "Dump: /tmp/spool/web-1-spike.pprof (local spool on the pod)\n\
         Open it: `go tool pprof -http=:8080 path/to/api /tmp/spool/web-1-spike.pprof`"
    ));

    let outcomes = [
        (
            CaptureOutcome::NoSocket,
            "No dump: profiling is not enabled in the target (no heap-dump socket)",
        ),
        (
            CaptureOutcome::Failed(CaptureFailure::IdleTimeout),
            "No dump: the capture failed (idle-timeout)",
        ),
    ];
    for (outcome, line) in outcomes {
        if let Some(d) = r.dump.as_mut() {
            d.outcome = outcome;
        }
        let text = plain(&ctx, &r);
        assert!(text.ends_with(line), "{text}");
        assert!(!text.contains("pprof -http"), "{text}");
    }
}

#[test]
fn events_without_dump_say_their_detail() {
    let (ctx, mut r) = sample_report();
    r.kind = Kind::RestartBudgetExhausted;
    r.dump = None;
    r.baseline_bytes = None;
    r.detail = Some("2 restarts in the last 1h".into());
    let text = plain(&ctx, &r);
    assert!(
        text.starts_with("memory-monitor: *restart-budget-exhausted* (restart budget exhausted)")
    );
    assert!(text.contains("\nMemory now 900.0 MiB (window P50"));
    assert!(
        text.ends_with("Detail: 2 restarts in the last 1h"),
        "{text}"
    );
}

#[test]
fn slack_escaping() {
    assert_eq!(slack_escape("a<b>&c"), "a&lt;b&gt;&amp;c");
    for k in Kind::ALL {
        assert!(!title(k).is_empty());
    }
}

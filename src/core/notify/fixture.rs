//! A report with every field filled, for the tests of this module.

use super::Context;

/// A spike report with every field filled, for the tests of this module.
pub(crate) fn sample_report() -> (Context, crate::core::event::Report) {
    use crate::core::event::{CaptureOutcome, CgroupView, DumpRef, Kind, Report, VerdictCode};
    use crate::core::explain::Heap;
    use crate::core::status::StatusSample;
    let mib = 1u64 << 20;
    let ctx = Context {
        pod: "web-7f9c".into(),
        environment: "prod".into(),
        network: Some("mainnet".into()),
    };
    let now = StatusSample {
        rss_anon: Some(900 * mib),
        rss_file: Some(40 * mib),
        rss_shmem: Some(mib),
        vm_rss: Some(941 * mib),
        vm_hwm: Some(960 * mib),
        vm_swap: Some(0),
    };
    let report = Report {
        kind: Kind::Spike,
        target: "api".into(),
        pid: 4242,
        unix_ms: 1_795_321_099_500,
        bytes: 900 * mib,
        baseline_bytes: Some(300 * mib),
        p50_bytes: Some(310 * mib),
        p95_bytes: Some(290 * mib),
        now,
        at_baseline: Some(StatusSample {
            rss_anon: Some(300 * mib),
            rss_file: Some(50 * mib),
            ..now
        }),
        cgroup: Some(CgroupView {
            path: "/kubepods/pod1/c1".into(),
            version: 2,
            usage_bytes: Some(1000 * mib),
            limit_bytes: Some(2048 * mib),
            working_set_bytes: Some(950 * mib),
            psi_some_avg10: Some(1.5),
            ..CgroupView::default()
        }),
        heap: Some(Heap {
            allocated: 850 * mib,
            resident: 880 * mib,
        }),
        verdict: "mostly anonymous memory (900.0 MiB of 941.0 MiB): the heap and stacks".into(),
        verdict_code: VerdictCode::HeapGrowth,
        dump: Some(DumpRef {
            outcome: CaptureOutcome::Spooled,
            key: Some("dumps/web-7f9c-2026-11-22-04-18-19-spike.pprof".into()),
            uri: Some("s3://bucket/dumps/web-7f9c-2026-11-22-04-18-19-spike.pprof".into()),
            console_url: Some(
                "https://s3.console.aws.amazon.com/s3/object/bucket?region=eu-west-1&prefix=dumps/web-7f9c-2026-11-22-04-18-19-spike.pprof".into(),
            ),
            path: None,
        }),
        detail: None,
    };
    (ctx, report)
}

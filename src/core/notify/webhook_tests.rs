use super::*;
use crate::core::notify::fixture::sample_report;

#[test]
fn schema_1_literal() {
    let (ctx, r) = sample_report();
    let expected = concat!(
        r#"{"type":"memory.spike","timestamp":"2026-11-22T04:18:19.500Z","data":{"schema":1,"#,
        r#""event":"spike","pod":"web-7f9c","environment":"prod","network":"mainnet","target":"api","#,
        r#""pid":4242,"bytes":943718400,"baseline_bytes":314572800,"p50_bytes":325058560,"#,
        r#""p95_bytes":304087040,"breakdown":{"now":{"rss_anon":943718400,"rss_file":41943040,"#,
        r#""rss_shmem":1048576,"swap":0,"vm_rss":986710016,"vm_hwm":1006632960},"#,
        r#""baseline":{"rss_anon":314572800,"rss_file":52428800,"rss_shmem":1048576,"swap":0,"#,
        r#""vm_rss":986710016,"vm_hwm":1006632960},"jemalloc":{"allocated":891289600,"#,
        r#""resident":922746880}},"cgroup":{"path":"/kubepods/pod1/c1","version":2,"#,
        r#""usage_bytes":1048576000,"limit_bytes":2147483648,"high_bytes":null,"#,
        r#""working_set_bytes":996147200,"anon_bytes":null,"file_bytes":null,"#,
        r#""inactive_file_bytes":null,"oom_kills":null,"psi_some_avg10":1.5},"#,
        r#""verdict":"mostly anonymous memory (900.0 MiB of 941.0 MiB): the heap and stacks","#,
        r#""dump":{"outcome":"spooled","key":"dumps/web-7f9c-2026-11-22-04-18-19-spike.pprof","#,
        r#""uri":"s3://bucket/dumps/web-7f9c-2026-11-22-04-18-19-spike.pprof","#,
        r#""console_url":"https://s3.console.aws.amazon.com/s3/object/bucket?region=eu-west-1&prefix=dumps/web-7f9c-2026-11-22-04-18-19-spike.pprof","#,
        r#""path":null}}}"#
    );
    let got = body(&ctx, &r);
    assert_eq!(got, expected);
    let v: serde_json::Value = serde_json::from_str(&got).unwrap();
    assert_eq!(v["data"]["dump"]["outcome"], "spooled");
}

#[test]
fn nulls_when_unknown() {
    let (mut ctx, mut r) = sample_report();
    ctx.environment.clear();
    ctx.network = None;
    r.kind = crate::core::event::Kind::OomKill;
    r.cgroup = None;
    r.dump = None;
    r.heap = None;
    r.at_baseline = None;
    r.baseline_bytes = None;
    let got = body(&ctx, &r);
    assert!(got.starts_with(r#"{"type":"memory.oom_kill","#), "{got}");
    assert!(got.contains(r#""environment":null,"network":null,"#));
    assert!(got.contains(r#""baseline_bytes":null,"#));
    assert!(got.contains(r#""baseline":null,"jemalloc":null},"cgroup":null,"#));
    assert!(got.ends_with(r#""dump":null}}"#));
    let v: serde_json::Value = serde_json::from_str(&got).unwrap();
    assert_eq!(v["data"]["event"], "oom-kill");
    let c = CgroupView {
        psi_some_avg10: Some(f64::INFINITY),
        ..CgroupView::default()
    };
    let mut s = String::new();
    cgroup(&mut s, &c);
    assert!(s.ends_with(r#""psi_some_avg10":null}"#), "{s}");
}

//! The capture queue is bounded and never feeds stale work to the socket
//! (issue 11 item 7): the real worker, a real spool and a real socket that
//! holds the first capture.

#[path = "common/capture_util.rs"]
mod capture_util;
mod common;

use std::os::unix::net::UnixListener;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use memory_monitor::capture::{Done, Job, Refused, Worker, MAX_WAIT, QUEUE};
use memory_monitor::core::event::{CaptureFailure, CaptureOutcome, Kind};
use memory_monitor::io::spool::Spool;

use capture_util::*;

fn job(dir: &TempDir, pid: u32, alive: &Arc<AtomicBool>, queued: Instant) -> Job {
    Job {
        pid,
        starttime: 1,
        target: "t".into(),
        socket: dir.path("hold.sock"),
        kind: Kind::SlowLeak,
        attempt: 1,
        rss_anon_bytes: None,
        baseline_bytes: None,
        requested: SystemTime::now(),
        queued,
        alive: Arc::clone(alive),
    }
}

#[test]
fn a_full_queue_refuses_and_gone_or_stale_jobs_are_dropped() {
    let dir = TempDir::new("queue");
    // Accepts, reads nothing, answers nothing: each capture waits its read timeout.
    let listener = UnixListener::bind(dir.path("hold.sock")).unwrap();
    let held = std::thread::spawn(move || {
        let mut conns = Vec::new();
        for c in listener.incoming().take(QUEUE + 4) {
            conns.push(c);
        }
    });
    let spool = Spool::open(&spool_cfg(&dir.path("spool"), 1 << 30)).unwrap();
    let seen: Arc<Mutex<Vec<Done>>> = Arc::default();
    let sink = Arc::clone(&seen);
    let on_done = Box::new(move |d: &Done| sink.lock().unwrap().push(d.clone()));
    let cfg = capture_cfg(1 << 20, Duration::from_millis(600));
    let w = Worker::spawn(spool, cfg, "pod".into(), String::new(), on_done).unwrap();
    let alive = Arc::new(AtomicBool::new(true));
    let gone = Arc::new(AtomicBool::new(false));
    let now = Instant::now();
    // One in flight (stats, then dump: each waits 600 ms), QUEUE waiting.
    assert_eq!(w.request(job(&dir, 1, &alive, now)), Ok(()));
    std::thread::sleep(Duration::from_millis(100));
    for i in 0..QUEUE as u32 {
        let (who, queued) = match i {
            0 => (&gone, now),
            1 => (&alive, now.checked_sub(MAX_WAIT * 2).expect("uptime")),
            _ => (&alive, now),
        };
        assert_eq!(
            w.request(job(&dir, 100 + i, who, queued)),
            Ok(()),
            "job {i}"
        );
    }
    assert_eq!(w.request(job(&dir, 999, &alive, now)), Err(Refused::Full));
    // The first finishes (idle timeout); the gone one is dropped unreported;
    // the stale one is reported busy without touching the socket.
    let until = Instant::now() + Duration::from_secs(20);
    while seen.lock().unwrap().len() < 2 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen[0].pid, 1);
    assert_eq!(
        seen[0].outcome,
        CaptureOutcome::Failed(CaptureFailure::IdleTimeout)
    );
    assert_eq!(seen[1].pid, 101, "100 (gone) was dropped: {seen:?}");
    assert_eq!(
        seen[1].outcome,
        CaptureOutcome::Failed(CaptureFailure::Busy)
    );
    assert!(w.try_done().is_some());
    let stopping = w.finish();
    // The rest of the queue is dropped at stop: the worker ends promptly.
    let until = Instant::now() + Duration::from_secs(5);
    while !stopping.is_finished() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(stopping.is_finished(), "queued jobs were run after stop");
    drop(held);
}

//! Finding, announcing and losing targets: the scans `Rescan` allows,
//! restart pairing, per-target recorders.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::record::Recorder;
use super::report::{opt, spec_text};
use super::{Monitor, Target};
use crate::config::TargetSpec;
use crate::core::lifecycle::pairing::Ended;
use crate::core::lifecycle::Lifecycle;
use crate::io::discover::{self, Found};
use crate::io::procfs::{self, StatusFile};
use crate::io::{heapdump, log};

impl Monitor {
    #[inline(never)]
    pub(super) fn gone(&mut self, mut t: Target) {
        // Before the target's series are dropped: an OOM kill is counted and told.
        if let Some(note) = super::cgroup::vanished(&mut t, &self.config) {
            self.tell.note(&mut t, &note);
        }
        self.tell.gone(&t);
        if let Some(r) = self.restarts.as_mut() {
            r.gone(&mut t);
        }
        t.alive.store(false, Ordering::SeqCst);
        let last = t.life.last().unwrap_or_default();
        log::warn(
            "target-gone",
            &[
                ("target", &t.name),
                ("pid", &t.inc.pid),
                ("last_rss_anon", &opt(last.rss_anon)),
                ("peak_vm_hwm", &opt(last.vm_hwm)),
            ],
        );
        self.pairing.ended(Ended {
            name: t.name,
            ppid: t.ppid,
            pid: t.inc.pid,
            last,
        });
        self.lost += 1;
        self.rescan.lost();
        self.waiting_logged = false;
    }

    /// Scans for targets we do not track yet (when [`Rescan`] says so).
    #[inline(never)]
    pub(super) fn look(&mut self, now: Instant) {
        let found = match discover::find(&self.config.target) {
            Ok(found) => found,
            Err(e) => {
                log::warn("scan-failed", &[("error", &e)]);
                Vec::new()
            }
        };
        let mut added = 0;
        for f in found {
            if self.targets.iter().any(|t| t.inc == f.inc) {
                continue;
            }
            match self.track(f, now) {
                Ok(t) => {
                    self.announce(&t);
                    self.targets.push(t);
                    added += 1;
                }
                Err(e) => log::warn("target-unreadable", &[("pid", &f.inc.pid), ("error", &e)]),
            }
        }
        self.lost = self.lost.saturating_sub(added);
        let missing = self.targets.is_empty() || self.lost > 0;
        self.rescan.scanned(now, missing);
        if self.targets.is_empty() && !self.waiting_logged {
            log::info(
                "waiting-for-target",
                &[("target", &spec_text(&self.config.target))],
            );
            self.waiting_logged = true;
        }
    }

    fn announce(&mut self, t: &Target) {
        let fields: [(&str, &dyn std::fmt::Display); 4] = [
            ("target", &t.name),
            ("pid", &t.inc.pid),
            ("starttime", &t.inc.starttime),
            ("socket", &t.socket.display()),
        ];
        match self.pairing.found(&t.name, t.ppid) {
            Some(e) => {
                self.tell.restarted(t);
                log::warn(
                    "restart",
                    &[
                        fields[0],
                        ("old_pid", &e.pid),
                        fields[1],
                        ("last_rss_anon", &opt(e.last.rss_anon)),
                        ("peak_vm_hwm", &opt(e.last.vm_hwm)),
                    ],
                );
            }
            None => log::info("target-found", &fields),
        }
    }

    // Not inlined into the loop: a new lifecycle's detector (33 KiB) is
    // built here, and this frame must not stay under the loop for good.
    #[inline(never)]
    fn track(&mut self, f: Found, now: Instant) -> std::io::Result<Target> {
        let inc = f.inc;
        let status = StatusFile::open(inc.pid)?;
        // The file may belong to a newer process that reused the pid.
        if procfs::starttime(inc.pid)? != inc.starttime {
            return Err(std::io::Error::other("pid reused while opening"));
        }
        let exe = procfs::socket_name(inc.pid).unwrap_or_default();
        let name = match &self.config.target {
            TargetSpec::Name(n) => n.clone(),
            _ => procfs::comm(inc.pid).unwrap_or_else(|_| exe.clone()),
        };
        // Right after the status file, bound to the same start time.
        let restart = self.restarts.as_ref().map(|r| r.bind(inc, &name));
        let record = self.recorder(inc.pid);
        let cgroup = super::cgroup::attach(inc.pid, &name, &self.config.explain);
        Ok(Target {
            inc,
            ppid: f.ppid,
            socket: heapdump::socket_path(&self.config.capture, &exe),
            name,
            restart,
            status,
            life: Lifecycle::new(self.params, now),
            record,
            alive: Arc::new(AtomicBool::new(true)),
            metrics_at: None,
            cgroup,
            cgroup_base: None,
        })
    }

    /// The first target records to FILE itself, later ones to `FILE.<pid>`.
    fn recorder(&mut self, pid: u32) -> Option<Recorder> {
        let path = self.config.record.as_ref()?;
        let path = if self.recorded_once {
            PathBuf::from(format!("{}.{pid}", path.display()))
        } else {
            path.clone()
        };
        self.recorded_once = true;
        Recorder::create(&path)
            .map_err(|e| log::error("record-failed", &[("file", &path.display()), ("error", &e)]))
            .ok()
    }
}

//! memory-monitor: watches the memory of a running process, tells a real leak
//! or spike from noise, captures a jemalloc heap profile through the target's
//! Unix socket when it matters, keeps it in a durable spool and ships it to S3.
//!
//! In scope: Linux `/proc` and cgroup readings, the heap-dump socket protocol,
//! the spool, S3 PUT with SigV4 and the AWS credential chain, alerts.
//! Out of scope: symbolising profiles (use `jeprof` / `go tool pprof`),
//! any async runtime, any platform but Linux.
//!
//! ```text
//!            +------------------------------  run (one thread)  --------------------------------+
//!  /proc --> | io::procfs --pread--> core::lifecycle (phases, retries) --> core::detector      |
//!            |      ^ (scan only while looking for a target)   | Action::Capture / Report      |
//!            |      |                                          v                               |
//!            |  io::discover                 capture worker: io::heapdump --stream--> io::spool |
//!            +--------------------------------------------------------------------|-----------+
//!                                                                                 v
//!                                                    io::s3::uploader (own thread) --> S3
//! ```
//!
//! `core` is pure: no file system, network, process or clock access; time is
//! passed in. `io` holds thin adapters that read and write and decide nothing.
//! `sys` is the only module allowed to use `unsafe` (libc calls).

pub mod capture;
pub mod config;
pub mod core;
pub mod fuzzing;
pub mod inspect;
pub mod io;
pub mod run;
#[allow(unsafe_code)]
pub mod sys;

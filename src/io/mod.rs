//! Thin adapters to the outside world: they read, write and map OS errors,
//! and leave every decision to `core`.

pub mod burst;
pub mod capped;
pub mod cgroup;
pub mod discover;
pub mod heapdump;
pub mod http_server;
pub mod log;
pub mod notify;
pub mod pidfd;
pub mod procfs;
pub mod s3;
pub mod spool;

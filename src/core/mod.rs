//! The pure core: no file system, network, process or clock access. Time is
//! passed in as an argument, so everything here is deterministic and fuzzable.

pub mod cgroup;
pub mod cgroup_rules;
pub mod credentials_json;
pub mod detector;
pub mod detectors;
pub mod event;
pub mod explain;
pub mod gzip;
pub mod hex;
pub mod http;
pub mod iso8601;
pub mod jemalloc;
pub mod json;
pub mod lifecycle;
pub mod metrics;
pub mod notify;
pub mod replay;
pub mod restart;
pub mod restart_plan;
pub mod robust;
pub mod s3_endpoint;
pub mod s3_refusal;
pub mod sigv4;
pub mod spool_meta;
pub mod status;
pub mod text;
pub mod timefmt;
pub mod trend;
pub mod trend_rules;
pub mod units;
pub mod window;
pub mod xml;

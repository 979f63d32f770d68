//! The pure core: no file system, network, process or clock access. Time is
//! passed in as an argument, so everything here is deterministic and fuzzable.

pub mod detector;
pub mod event;
pub mod explain;
pub mod json;
pub mod replay;
pub mod robust;
pub mod status;
pub mod timefmt;
pub mod trend;
pub mod trend_rules;
pub mod units;
pub mod window;

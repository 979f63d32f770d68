//! The only place with `unsafe`: thin wrappers over libc calls. One libc call
//! per `unsafe` block, each with a `// SAFETY:` line; errors come back as
//! `io::Error::last_os_error()`. Nothing here decides anything.

pub mod clock;
pub mod file;
pub mod pidfd;
pub mod signal;
pub mod text;
pub mod unix;

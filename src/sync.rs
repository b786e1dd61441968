//! The synchronisation types that shared API state uses, swappable for
//! loom's under `--cfg loom` so a loom build explores every interleaving of
//! the threads sharing a [`crate::StagingRoot`].
//!
//! Only state shared between the handles of one `StagingRoot` goes through
//! this module. The real backend's process-wide reservation registry
//! ([`crate::fs::real`]) stays on `std::sync` on purpose: it is a `static`,
//! which loom types cannot be, and loom runs the API over the simulated
//! backend, never over [`crate::fs::real::RealFs`].

#[cfg(loom)]
pub use loom::sync::*;
#[cfg(not(loom))]
pub use std::sync::*;

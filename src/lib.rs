//! `stagedir`: the crash-safe staging-directory protocol, model-checked.
//!
//! A store deletes a large tree outside its global lock by renaming the tree
//! into a private staging instance under the lock and removing it after the
//! lock is released. This crate implements the protocol once, as sans-IO step
//! machines ([`protocol`]), runs them on a real filesystem ([`fs::real`]) and
//! on a deterministic simulated one ([`fs::sim`]) that every checker explores.
//! [`StagingRoot`] and [`Instance`] are the API a store uses.

pub mod api;
pub mod check;
pub mod fs;
pub mod protocol;
pub mod sync;
pub mod variants;

pub use api::{Error, Instance, Options, StagingRoot};
pub use fs::real::RealFs;
pub use protocol::recover::Report;
pub use protocol::status::{InstanceStatus, Liveness, StatusReport};

//! `stagedir`: the crash-safe staging-directory protocol, model-checked.
//!
//! A store deletes a large tree outside its global lock by renaming the tree
//! into a private staging instance under the lock and removing it after the
//! lock is released. This crate implements the protocol once, as sans-IO step
//! machines ([`protocol`]), runs them on a real filesystem ([`fs::real`]) and
//! on a deterministic simulated one ([`fs::sim`]) that every checker explores.

pub mod fs;
pub mod sync;
pub mod protocol;

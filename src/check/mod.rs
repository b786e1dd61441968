//! Checkers over the simulation: scenarios, the world, the invariant oracle,
//! the exhaustive search, and readable, replayable traces.

pub mod backend;
pub mod bfs;
pub mod fuzz;
pub mod local;
pub mod oracle;
pub mod random;
pub mod scenario;
pub mod shrink;
pub mod suite;
pub mod symmetry;
pub mod swimlane;
pub mod token;
pub mod trace;
pub mod world;

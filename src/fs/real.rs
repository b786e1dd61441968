//! The real backend: each [`Op`] is one syscall. (Being written.)
use super::{Fs, Op, OpResult};

/// Executes operations with syscalls.
#[derive(Debug, Default)]
pub struct RealFs {}

impl Fs for RealFs {
    fn execute(&mut self, _op: &Op) -> OpResult {
        todo!("real backend")
    }
}

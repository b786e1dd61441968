//! A scripted program: a fixed list of operations with the ownership the
//! script claims after each. For hand-made histories (oracle tests, and
//! implementers who want to replay a sequence of syscalls of their own
//! protocol against the oracle). Results are ignored: the script runs on.

use crate::fs::{Id, Op, OpResult};

use super::Role;

/// One scripted step: the operation, and the id the script claims to own
/// after it (ownership is whatever the script says).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ScriptStep {
    pub op: Op,
    pub owns_after: Option<Id>,
}

/// A program that performs `steps` in order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Script {
    steps: Vec<ScriptStep>,
    next: usize,
    owns: Option<Id>,
    recoverer: bool,
    results: Vec<OpResult>,
}

impl Script {
    /// `recoverer`: whether the oracle treats this program as a recoverer.
    pub fn new(steps: Vec<ScriptStep>, recoverer: bool) -> Self {
        Script { steps, next: 0, owns: None, recoverer, results: Vec::new() }
    }

    /// The results the script's operations returned, in order.
    pub fn results(&self) -> &[OpResult] {
        &self.results
    }
}

impl Role for Script {
    fn op(&self) -> Option<Op> {
        self.steps.get(self.next).map(|s| s.op.clone())
    }

    fn feed(&mut self, result: OpResult) {
        let step = &self.steps[self.next];
        self.owns = step.owns_after;
        self.results.push(result);
        self.next += 1;
    }

    fn owned(&self) -> Option<Id> {
        self.owns
    }

    fn is_recoverer(&self) -> bool {
        self.recoverer
    }
}

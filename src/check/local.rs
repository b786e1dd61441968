//! Partial-order reduction for process-local steps.
//!
//! Some steps touch nothing another process can see: drawing an id
//! ([`Op::DrawId`], a choice inside the process), the in-process registry
//! ([`Op::Reserve`], [`Op::Release`]) of a process no other machine runs
//! in, and closing a directory stream on ROOT that holds no lock
//! ([`SimFs::close_is_quiet`](crate::fs::sim::SimFs::close_is_quiet)).
//! Such a step commutes with every step of every other process, and
//! crashing the process just before it or just after it leaves the same
//! world (the crash closes the stream anyway; an id not yet used is no
//! state). So when some process's next step is local, the search expands
//! that process's step alone (each id it may draw) instead of every
//! process's actions: the other orders reach the same worlds one step
//! later (an *ample set* of one process, in the terms of Peled's and
//! Godefroid's partial-order reduction).
//!
//! The conditions that make it sound here, each checked:
//! - **independence**: the step changes only its own process's slot; ROOT
//!   is never removed (asserted in [`World::try_apply`]), so its inode
//!   cannot be freed by the close and no lowest-free inode number depends
//!   on when the close happens;
//! - **invisibility**: the oracle sees no change: the step leaves the
//!   process's owned id as it was, does not end the process (an exit
//!   closes every other descriptor), and breaks no invariant — otherwise
//!   the search expands every action of the state as usual;
//! - **no cycle**: every step changes its process's program state and no
//!   action returns the world to an earlier state (programs only move
//!   forward; retries are bounded), so no action is postponed forever;
//! - **faults off**: an injected error draws on the one budget all
//!   processes share, so with faults left the search expands everything.
//!
//! What it costs: the trace to a violation may hold local steps a shorter
//! schedule leaves out. [`super::bfs::explore`] therefore searches again
//! without it when it finds a violation, so that the counterexample it
//! reports is the shortest.

use crate::fs::Op;

use super::scenario::Scenario;
use super::world::World;

/// The first process whose next step is local in `w`, if any.
pub fn local_process(w: &World, scn: &Scenario) -> Option<usize> {
    if w.faults_left > 0 {
        return None;
    }
    w.procs.iter().enumerate().find_map(|(i, p)| {
        if !p.alive() {
            return None;
        }
        let op = p.program.next_op()?;
        let alone = || !w.procs.iter().enumerate().any(|(j, q)| j != i && q.pid == p.pid && q.alive());
        let local = match *op {
            Op::DrawId => true,
            Op::Reserve { .. } | Op::Release { .. } => alone(),
            Op::Close { fd } => alone() && w.fs.close_is_quiet(p.pid, fd, scn.root()),
            _ => false,
        };
        local.then_some(i)
    })
}

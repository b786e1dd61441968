//! Shrinking a schedule found by random search (shuttle, proptest, fuzz)
//! to a short one that still breaks the same invariant.
//!
//! Greedy and deterministic: repeatedly try removing one action (last
//! first, so a trailing tail goes quickly), replacing an injected fault by a
//! plain step, and drawing id 0 instead of another; keep any change after
//! which the replay still breaks the invariant. Stops at a fixed point or
//! after `rounds_max` passes. A schedule that is not valid any more (an
//! action not enabled) is simply not kept.

use super::oracle::Invariant;
use super::scenario::Scenario;
use super::trace::replay;
use super::world::Action;

/// Passes over the schedule before shrinking gives up improving.
pub const ROUNDS_MAX: usize = 32;

fn breaks(scn: &Scenario, actions: &[Action], inv: Invariant) -> bool {
    matches!(replay(scn, actions), Ok(t) if t.violation.as_ref().map(|v| v.invariant) == Some(inv))
}

/// Tries, for each process and each position, removing every action of
/// that process from that position on; keeps the first that still breaks.
fn drop_process_tails(scn: &Scenario, mut best: Vec<Action>, inv: Invariant) -> Vec<Action> {
    let procs: Vec<usize> = {
        let mut p: Vec<usize> = best.iter().map(|a| a.proc()).collect();
        p.sort_unstable();
        p.dedup();
        p
    };
    for p in procs {
        let positions: Vec<usize> = best.iter().enumerate().filter(|(_, a)| a.proc() == p).map(|(i, _)| i).collect();
        for &from in &positions {
            let cand: Vec<Action> =
                best.iter().enumerate().filter(|(i, a)| *i < from || a.proc() != p).map(|(_, a)| *a).collect();
            if cand.len() < best.len() && breaks(scn, &cand, inv) {
                best = truncate(scn, &cand);
                break;
            }
        }
    }
    best
}

/// Cuts everything after the step that broke `inv`.
fn truncate(scn: &Scenario, actions: &[Action]) -> Vec<Action> {
    match replay(scn, actions) {
        Ok(t) if t.violation.is_some() => actions[..t.records.len().min(actions.len())].to_vec(),
        _ => actions.to_vec(),
    }
}

/// Shrinks `actions` (which must break `inv` on `scn`).
///
/// # Panics
/// When `actions` does not break `inv` to begin with.
pub fn shrink(scn: &Scenario, actions: &[Action], inv: Invariant) -> Vec<Action> {
    assert!(breaks(scn, actions, inv), "shrink: the schedule does not break {inv}");
    let mut best = truncate(scn, actions);
    for _ in 0..ROUNDS_MAX {
        let before = best.clone();
        // Whole tails of one process first: a process that takes no part in
        // the violation is usually removable only all at once (removing one
        // of its steps leaves the next one not enabled).
        best = drop_process_tails(scn, best, inv);
        // Then contiguous chunks, halving their size (delta debugging).
        let mut size = best.len() / 2;
        while size > 1 {
            let mut start = 0;
            while start + size <= best.len() {
                let mut cand = best.clone();
                cand.drain(start..start + size);
                if breaks(scn, &cand, inv) {
                    best = truncate(scn, &cand);
                } else {
                    start += size;
                }
            }
            size /= 2;
        }
        let mut i = best.len();
        while i > 0 {
            i -= 1;
            let mut cand = best.clone();
            cand.remove(i);
            if breaks(scn, &cand, inv) {
                best = truncate(scn, &cand);
                i = i.min(best.len());
                continue;
            }
            let simpler = match best[i] {
                Action::Fault(p, _) => Some(Action::Step(p)),
                Action::Draw(p, k) if k > 0 => Some(Action::Draw(p, 0)),
                _ => None,
            };
            if let Some(a) = simpler {
                let mut cand = best.clone();
                cand[i] = a;
                if breaks(scn, &cand, inv) {
                    best = cand;
                }
            }
        }
        if best == before {
            break;
        }
    }
    best
}

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

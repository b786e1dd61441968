//! Exhaustive breadth-first search over whole-world states.
//!
//! Our own explorer rather than stateright: the world is already plain data
//! with a cheap `Hash`, and what the search needs is small (a queue, a
//! fingerprint set, parent links for the counterexample). Keeping it here
//! lets states be stored as 128-bit fingerprints (xxh3) instead of whole
//! worlds, and lets the oracle run inside the successor function with the
//! step's record at hand. BFS gives the shortest counterexample by
//! construction: states are expanded in order of depth.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::Instant;

use super::oracle::Violation;
use super::scenario::Scenario;
use super::world::{Action, World};

/// A 128-bit fingerprint of a world (xxh3-128 over its `Hash`).
pub type Fingerprint = u128;

pub fn fingerprint(w: &World) -> Fingerprint {
    let mut h = xxhash_rust::xxh3::Xxh3Default::new();
    w.hash(&mut h);
    h.digest128()
}

/// Bounds on one search.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Stop (verdict: incomplete) after this many unique states.
    pub states_max: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { states_max: 50_000_000 }
    }
}

/// What a search explored.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Stats {
    /// Transitions taken (successor states generated, duplicates included).
    pub transitions: u64,
    /// Distinct states reached.
    pub unique: u64,
    /// Terminal states (every process ended) checked with a final recovery.
    pub terminal: u64,
    /// The deepest level expanded (actions from the initial state).
    pub depth: u32,
    pub seconds: f64,
    /// False when `states_max` stopped the search early.
    pub complete: bool,
}

/// A violation with the shortest schedule that reaches it.
#[derive(Clone, Debug)]
pub struct Counterexample {
    pub scenario: Scenario,
    pub actions: Vec<Action>,
    /// True when the violation showed in the final recovery pass after the
    /// schedule (INV-5, or another invariant broken by that pass).
    pub in_final_recovery: bool,
    pub violation: Violation,
}

/// Explores every schedule of `scn`. `progress` is called about every
/// 100,000 states with the running figures.
pub fn explore(
    scn: &Scenario,
    limits: Limits,
    progress: &mut dyn FnMut(&Stats),
) -> (Stats, Option<Counterexample>) {
    let start = Instant::now();
    let init = World::new(scn);
    let init_fp = fingerprint(&init);
    // Parent links: fingerprint -> (parent fingerprint, action). The root
    // links to itself.
    let mut parents: HashMap<Fingerprint, (Fingerprint, Action)> = HashMap::new();
    parents.insert(init_fp, (init_fp, Action::Step(0)));
    let mut queue: VecDeque<(World, Fingerprint, u32)> = VecDeque::new();
    queue.push_back((init, init_fp, 0));
    let mut stats = Stats { unique: 1, ..Stats::default() };
    let mut actions = Vec::new();
    let mut next_report = 100_000;
    let path_to = |parents: &HashMap<Fingerprint, (Fingerprint, Action)>, mut fp: Fingerprint| {
        let mut path = Vec::new();
        while fp != init_fp {
            let (parent, action) = parents[&fp];
            path.push(action);
            fp = parent;
        }
        path.reverse();
        path
    };
    while let Some((world, fp, depth)) = queue.pop_front() {
        stats.depth = stats.depth.max(depth);
        if world.is_terminal() {
            stats.terminal += 1;
            let (_, violation) = world.final_check(scn);
            if let Some(violation) = violation {
                stats.seconds = start.elapsed().as_secs_f64();
                let actions = path_to(&parents, fp);
                return (stats, Some(Counterexample { scenario: scn.clone(), actions, in_final_recovery: true, violation }));
            }
            continue;
        }
        world.actions(scn, &mut actions);
        for &action in &actions {
            let mut next = world.clone();
            let (_, violation) = next.apply(scn, action);
            stats.transitions += 1;
            if let Some(violation) = violation {
                stats.seconds = start.elapsed().as_secs_f64();
                let mut path = path_to(&parents, fp);
                path.push(action);
                return (stats, Some(Counterexample { scenario: scn.clone(), actions: path, in_final_recovery: false, violation }));
            }
            let next_fp = fingerprint(&next);
            if let std::collections::hash_map::Entry::Vacant(e) = parents.entry(next_fp) {
                e.insert((fp, action));
                stats.unique += 1;
                queue.push_back((next, next_fp, depth + 1));
            }
        }
        if stats.unique >= next_report {
            next_report += 100_000;
            stats.seconds = start.elapsed().as_secs_f64();
            progress(&stats);
        }
        if stats.unique >= limits.states_max {
            stats.seconds = start.elapsed().as_secs_f64();
            return (stats, None);
        }
    }
    stats.complete = true;
    stats.seconds = start.elapsed().as_secs_f64();
    (stats, None)
}

//! The exhaustive search's reductions lose nothing: process symmetry and
//! inode relabelling (one state per class of equivalent worlds) and the
//! partial-order reduction for local steps (a process's local step
//! expanded alone). Each is checked against the plain search on the same
//! scenario:
//! - every terminal world the plain search reaches is, up to symmetry,
//!   one the reduced search reaches, and the other way round (partial-order
//!   reduction keeps every terminal state; a symmetry keeps one per class);
//! - every variant of the default suite gets the same verdict, the same
//!   broken invariant and a counterexample of the same length.

use std::collections::BTreeSet;

use stagedir::check::bfs::{explore, terminal_worlds, Limits};
use stagedir::check::scenario::{ItemShape, Scenario};
use stagedir::check::suite::{exhaustive_scenarios, Options};
use stagedir::check::symmetry::{self, Symmetry};
use stagedir::fs::sim::LockKind;
use stagedir::variants::Variant;

fn plain() -> Limits {
    Limits { symmetry: false, local_steps: false, ..Limits::default() }
}

fn reduced() -> Limits {
    Limits { symmetry: true, local_steps: true, ..Limits::default() }
}

/// The terminal classes of `scn` under `limits`, fingerprinted up to
/// symmetry, and the number of unique states the search kept.
fn terminal_classes(scn: &Scenario, limits: Limits) -> (BTreeSet<u128>, u64) {
    let (stats, worlds) = terminal_worlds(scn, limits);
    assert!(stats.complete, "{}: search incomplete", scn.describe());
    let sym = Symmetry::of(scn);
    (worlds.iter().map(|w| symmetry::fingerprint(w, &sym)).collect(), stats.unique)
}

/// The reduced search reaches exactly the plain search's terminal classes,
/// with fewer states.
#[track_caller]
fn keeps_every_outcome(scn: Scenario) {
    let (all, unique_plain) = terminal_classes(&scn, plain());
    let (kept, unique_reduced) = terminal_classes(&scn, reduced());
    println!("{:<40} terminal classes {:>5}  unique states {unique_plain} -> {unique_reduced}", scn.describe(), all.len());
    assert!(!all.is_empty());
    assert_eq!(all.len(), kept.len(), "{}: terminal classes differ", scn.describe());
    assert_eq!(all, kept, "{}: terminal classes differ", scn.describe());
    assert!(unique_reduced < unique_plain, "{}: the reductions merged nothing", scn.describe());
}

fn reference(c: u8, r: u8, ids: u8) -> Scenario {
    Scenario::new(Variant::Reference, c, r, ids)
}

#[test]
fn two_creators_one_recoverer_keep_every_outcome() {
    keeps_every_outcome(reference(2, 1, 1));
    keeps_every_outcome(reference(2, 1, 2));
}

#[test]
fn two_recoverers_keep_every_outcome() {
    keeps_every_outcome(reference(1, 2, 2));
    keeps_every_outcome(reference(2, 2, 1));
}

#[test]
fn shared_process_registry_and_faults_keep_every_outcome() {
    let mut shared = reference(1, 1, 1);
    shared.shared_process = true;
    shared.lock_kind = LockKind::Posix;
    shared.use_registry = true;
    keeps_every_outcome(shared);
    let mut faults = reference(1, 1, 1);
    faults.faults = 1;
    keeps_every_outcome(faults);
    let mut trees = reference(1, 1, 1);
    trees.item_shape = ItemShape::Tree;
    trees.foreign = true;
    keeps_every_outcome(trees);
}

/// Every variant of the default suite: the same verdict with and without
/// the reductions, the same invariant, a counterexample of the same length.
/// Where the reduced search proves the variant, the plain search runs up to
/// `PLAIN_STATES_MAX` states and must find nothing there either.
#[test]
fn every_variant_gets_the_same_verdict() {
    const PLAIN_STATES_MAX: u64 = 150_000;
    let (mut killed, mut proved) = (0, 0);
    for variant in Variant::all() {
        for scn in exhaustive_scenarios(variant, &Options::default()) {
            let describe = format!("{variant} {}", scn.describe());
            let (stats, b) = explore(&scn, reduced(), &mut |_| {});
            let plain = if b.is_some() { plain() } else { Limits { states_max: PLAIN_STATES_MAX, ..plain() } };
            let (_, a) = explore(&scn, plain, &mut |_| {});
            match (a, b) {
                (None, None) => {
                    assert!(stats.complete, "{describe}");
                    proved += 1;
                }
                (Some(a), Some(b)) => {
                    assert_eq!(a.violation.invariant, b.violation.invariant, "{describe}");
                    assert_eq!(a.actions.len(), b.actions.len(), "{describe}: counterexample length");
                    assert_eq!(a.in_final_recovery, b.in_final_recovery, "{describe}");
                    killed += 1;
                }
                (a, b) => panic!("{describe}: plain {:?}, reduced {:?}", a.map(|c| c.violation), b.map(|c| c.violation)),
            }
        }
    }
    // A run that compared nothing would prove nothing.
    assert!(killed >= 10, "only {killed} counterexamples compared");
    assert!(proved >= 10, "only {proved} proofs compared");
}

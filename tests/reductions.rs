//! The exhaustive search's reductions lose nothing: process symmetry and
//! inode relabelling (one state per class of equivalent worlds) and the
//! partial-order reduction for local steps (a process's local step
//! expanded alone). Each is checked against the plain search on the same
//! scenario:
//! - every terminal world the plain search reaches is, up to symmetry,
//!   one the reduced search reaches, and the other way round (partial-order
//!   reduction keeps every terminal state; a symmetry keeps one per class);
//!   compared twice: by class fingerprint, and by what the world left
//!   behind (its tree, how each process ended), which does not go through
//!   the fingerprint under test, so a fingerprint that merges worlds it
//!   should not shows up as a lost outcome. Shown by breaking the reductions
//!   by hand: entry names left out of the labelled digest lose 2 to 23
//!   outcomes in three of the seven configurations; `TryLock` treated as a
//!   local step loses terminal classes in all four tests;
//! - every variant of the default suite gets the same verdict, the same
//!   broken invariant and a counterexample of the same length.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use stagedir::check::bfs::{explore, terminal_worlds, Limits};
use stagedir::check::scenario::{ItemShape, Scenario};
use stagedir::check::suite::{exhaustive_scenarios, Options};
use stagedir::check::symmetry::{self, Symmetry};
use stagedir::check::world::World;
use stagedir::fs::sim::LockKind;
use stagedir::fs::FileKind;
use stagedir::variants::{Role, Variant};

fn plain() -> Limits {
    Limits { symmetry: false, local_steps: false, ..Limits::default() }
}

fn reduced() -> Limits {
    Limits { symmetry: true, local_steps: true, ..Limits::default() }
}

/// What a terminal world left behind, computed without the fingerprint
/// code under test: every path in the tree with its kind, how each process
/// ended (sorted within a role, as exchanging two recoverers changes
/// nothing), and the fault budget left. Inode numbers do not appear.
type Outcome = (Vec<(PathBuf, FileKind)>, Vec<(bool, u8)>, u8);

fn outcome(w: &World) -> Outcome {
    let mut ends: Vec<(bool, u8)> = w.procs.iter().map(|p| (p.program.is_recoverer(), p.life as u8)).collect();
    ends.sort_unstable();
    (w.fs.tree(Path::new("/")), ends, w.faults_left)
}

/// The terminal classes of `scn` under `limits`, fingerprinted up to
/// symmetry; their outcomes; and the number of unique states the search
/// kept.
fn terminal_classes(scn: &Scenario, limits: Limits) -> (BTreeSet<u128>, BTreeSet<Outcome>, u64) {
    let (stats, worlds) = terminal_worlds(scn, limits);
    assert!(stats.complete, "{}: search incomplete", scn.describe());
    let sym = Symmetry::of(scn);
    let classes = worlds.iter().map(|w| symmetry::fingerprint(w, &sym)).collect();
    (classes, worlds.iter().map(outcome).collect(), stats.unique)
}

/// The reduced search reaches exactly the plain search's terminal classes
/// and outcomes, with fewer states. The classes are compared through the
/// fingerprint under test; the outcomes are not, so a fingerprint that
/// merges worlds it should not is caught there.
#[track_caller]
fn keeps_every_outcome(scn: Scenario) {
    let (all, ends_plain, unique_plain) = terminal_classes(&scn, plain());
    let (kept, ends_reduced, unique_reduced) = terminal_classes(&scn, reduced());
    let lost: Vec<_> = ends_plain.difference(&ends_reduced).collect();
    let new: Vec<_> = ends_reduced.difference(&ends_plain).collect();
    assert!(
        lost.is_empty() && new.is_empty(),
        "{}: terminal outcomes differ: {} lost (first: {:?}), {} new (first: {:?})",
        scn.describe(),
        lost.len(),
        lost.first(),
        new.len(),
        new.first()
    );
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

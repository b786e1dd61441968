//! Exhaustive proofs of the reference protocol (crash at every step, no
//! preemption bound), and the broken variants the same search must reject
//! with their shortest counterexample.
//!
//! Run with `cargo test --release --test exhaustive -- --nocapture` to see
//! the figures (states, unique states, depth, seconds) for each scenario.

use stagedir::check::bfs::{explore, terminal_worlds, Counterexample, Limits, Stats};
use stagedir::check::scenario::Scenario;
use stagedir::check::trace::{render_lines, replay};
use stagedir::check::token;
use stagedir::fs::sim::LockKind;
use stagedir::variants::Variant;

fn run(scn: &Scenario) -> (Stats, Option<Counterexample>) {
    let (stats, cex) = explore(scn, Limits::default(), &mut |_| {});
    println!(
        "{:<28} {:<50} transitions={:>10} unique={:>9} depth={:>3} terminal={:>8} seconds={:.2}",
        scn.variant.name(),
        scn.describe(),
        stats.transitions,
        stats.unique,
        stats.depth,
        stats.terminal,
        stats.seconds
    );
    (stats, cex)
}

/// The reference holds on `scn`: the search completes and finds nothing.
#[track_caller]
fn proves(scn: Scenario) -> Stats {
    let (stats, cex) = run(&scn);
    if let Some(cex) = cex {
        let trace = replay(&cex.scenario, &cex.actions).expect("replay");
        panic!("counterexample:\n{}\ntoken: {}", render_lines(&trace), token::encode(&cex.scenario, &cex.actions));
    }
    assert!(stats.complete, "search stopped early");
    assert!(stats.terminal > 0, "no schedule reached its end");
    stats
}

fn scenario(creators: u8, recoverers: u8, ids: u8, kind: LockKind) -> Scenario {
    let mut s = Scenario::new(Variant::Reference, creators, recoverers, ids);
    s.lock_kind = kind;
    s
}

#[test]
fn reference_2_creators_1_recoverer_flock() {
    proves(scenario(2, 1, 1, LockKind::Flock));
    proves(scenario(2, 1, 2, LockKind::Flock));
}

#[test]
fn reference_1_creator_2_recoverers_flock() {
    proves(scenario(1, 2, 1, LockKind::Flock));
    proves(scenario(1, 2, 2, LockKind::Flock));
}

#[test]
fn reference_2_creators_2_recoverers_flock() {
    proves(scenario(2, 2, 1, LockKind::Flock));
    proves(scenario(2, 2, 2, LockKind::Flock));
}

#[test]
fn reference_2_creators_1_recoverer_ofd() {
    proves(scenario(2, 1, 1, LockKind::Ofd));
    proves(scenario(2, 1, 2, LockKind::Ofd));
}

#[test]
fn reference_1_creator_2_recoverers_ofd() {
    proves(scenario(1, 2, 1, LockKind::Ofd));
    proves(scenario(1, 2, 2, LockKind::Ofd));
}

#[test]
fn reference_2_creators_2_recoverers_ofd() {
    proves(scenario(2, 2, 1, LockKind::Ofd));
    proves(scenario(2, 2, 2, LockKind::Ofd));
}

#[test]
fn reference_recoverer_thread_in_a_live_owners_process_sees_it_busy() {
    let mut s = scenario(1, 1, 1, LockKind::Flock);
    s.shared_process = true;
    proves(s.clone());
    // POSIX locks never conflict within a process: the registry stands in.
    s.lock_kind = LockKind::Posix;
    s.use_registry = true;
    proves(s);
}

#[test]
fn reference_survives_injected_errors() {
    let mut s = scenario(1, 1, 1, LockKind::Flock);
    s.faults = 1;
    proves(s.clone());
    s.faults = 2;
    proves(s);
}

#[test]
fn reference_removes_trees_without_following_symlinks() {
    let mut s = scenario(1, 1, 1, LockKind::Flock);
    s.item_shape = stagedir::check::scenario::ItemShape::Tree;
    s.foreign = true;
    proves(s);
}

#[test]
fn reference_stage_across_devices_fails_and_keeps_the_item() {
    let mut s = scenario(1, 1, 1, LockKind::Flock);
    s.cross_device_item = true;
    s.items = 2;
    proves(s);
}

/// A filesystem mounted inside the first creator's item: every removal,
/// cleanup's or recovery's, stops at it with `EBUSY`; nothing on it is
/// removed (INV-6) and its instance is the only thing left (INV-5).
#[test]
fn reference_never_crosses_a_mount_inside_a_staged_tree() {
    let mut s = scenario(2, 1, 1, LockKind::Flock);
    s.mount_in_item = true;
    s.item_shape = stagedir::check::scenario::ItemShape::Tree;
    proves(s.clone());
    s.ids = 2;
    proves(s);
    let mut s = scenario(1, 1, 1, LockKind::Flock);
    s.mount_in_item = true;
    s.faults = 1;
    proves(s);
}

/// The search rejects `variant` with its shortest counterexample; the
/// replayed trace ends in the same violation.
#[track_caller]
fn rejects(mut scn: Scenario) -> Counterexample {
    scn = scn.with_variant_defaults();
    let (_, cex) = run(&scn);
    let cex = cex.unwrap_or_else(|| panic!("{} survived {}", scn.variant, scn.describe()));
    let trace = replay(&cex.scenario, &cex.actions).expect("replay");
    println!("{}\n{}token: {}\n", cex.violation, render_lines(&trace), token::encode(&cex.scenario, &cex.actions));
    assert_eq!(trace.violation.as_ref(), Some(&cex.violation), "replay reproduces the violation");
    cex
}

#[test]
fn no_identity_recheck_is_rejected_with_shortest_trace() {
    let scn = Scenario::new(Variant::from_name("no-identity-recheck").unwrap(), 2, 1, 1);
    let cex = rejects(scn);
    assert!(cex.actions.len() < 40, "shortest trace: {} steps", cex.actions.len());
}

/// The figures README.md reports, pinned: a change to the search, its
/// reductions or the model that changes how many states it visits (or a
/// state lost by the successor map) shows here, where `tests/reductions.rs`
/// cannot see it, since the plain and the reduced search share that code.
/// A change that means to alter them updates the README table too.
#[test]
fn figures_match_the_readme() {
    // Both reductions on, whatever STAGEDIR_SYMMETRY / STAGEDIR_POR say.
    let limits = Limits { symmetry: true, local_steps: true, ..Limits::default() };
    let figures = |scn: Scenario| {
        let (s, cex) = explore(&scn, limits, &mut |_| {});
        assert!(cex.is_none() && s.complete, "{}: {s:?}", scn.describe());
        (s.unique, s.transitions, s.depth, s.terminal)
    };
    for kind in [LockKind::Flock, LockKind::Ofd] {
        assert_eq!(figures(scenario(2, 1, 1, kind)), (7_240, 24_802, 45, 76), "2c+1r ids=1 {kind:?}");
        assert_eq!(figures(scenario(1, 2, 2, kind)), (13_788, 54_440, 43, 67), "1c+2r ids=2 {kind:?}");
        assert_eq!(figures(scenario(2, 2, 1, kind)), (97_028, 445_098, 63, 116), "2c+2r ids=1 {kind:?}");
    }
}

/// The search's result does not depend on how many workers expand a
/// level, nor on which of them finishes first: the same figures, the same
/// terminal worlds (the ones actually reached, not canonical copies) in the
/// same order, and the same counterexample, action for action, with 1, 2
/// and 3 threads. Levels of 256 states and more are cut into pieces.
#[test]
fn results_do_not_depend_on_the_number_of_workers() {
    let limits = |threads| Limits { threads, ..Limits::default() };
    let figures = |s: &Stats| (s.unique, s.transitions, s.terminal, s.depth, s.complete);
    let scn = scenario(2, 1, 2, LockKind::Flock);
    let (one, worlds) = terminal_worlds(&scn, limits(1));
    assert!(one.unique > 10_000, "too small to be cut into pieces: {one:?}");
    for threads in [2, 3] {
        let (stats, other) = terminal_worlds(&scn, limits(threads));
        assert_eq!(figures(&stats), figures(&one), "{threads} threads");
        assert!(other == worlds, "{threads} threads reached other terminal worlds, or in another order");
    }
    for name in ["unlock-before-unlink", "recovery-no-identity-recheck", "review-prototype"] {
        let scn = Scenario::new(Variant::from_name(name).unwrap(), 2, 1, 2).with_variant_defaults();
        let (_, cex) = explore(&scn, limits(1), &mut |_| {});
        let cex = cex.unwrap_or_else(|| panic!("{name} survived"));
        for threads in [2, 3] {
            let (_, other) = explore(&scn, limits(threads), &mut |_| {});
            let other = other.unwrap_or_else(|| panic!("{name} survived on {threads} threads"));
            assert_eq!(other.actions, cex.actions, "{name}: {threads} threads");
            assert_eq!(other.violation, cex.violation, "{name}: {threads} threads");
        }
    }
}

/// The allocator the `stagedir` binary uses (see `src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

//! shuttle models: random and PCT search over whole-world schedules of
//! scenarios larger than the exhaustive search reaches (4 to 6 processes:
//! creators staging several items, recoverers running several passes,
//! crashes, ids and injected errors drawn through `shuttle::rand`): one per
//! lock kind, and one where every instance must share one name. Each is
//! paired with a broken variant that the same search must reject, with the
//! invariant it breaks.
//!
//! `cargo test --release --test shuttle -- --nocapture` prints the figures.
//! Environment:
//! - `STAGEDIR_ITERATIONS`: schedules per strategy per scenario (default
//!   30,000; raise it for long campaigns);
//! - `STAGEDIR_SEED`: the seed of the reference runs (default fixed, so CI
//!   is reproducible; the broken runs always use their own fixed seed so
//!   that the invariant they break is known). Shuttle's own
//!   `SHUTTLE_RANDOM_SEED`, when set, overrides every seed, the broken
//!   runs' too.
//!
//! A failure prints the replay token, shuttle's schedule and the shrunk
//! trace as swimlanes.

use stagedir::check::oracle::Invariant;
use stagedir::check::random::{self, Finding, Outcome, Strategy};
use stagedir::check::scenario::{ItemShape, Scenario};
use stagedir::check::{token, trace};
use stagedir::fs::sim::LockKind;
use stagedir::variants::Variant;

/// Schedules per strategy per scenario unless `STAGEDIR_ITERATIONS` says.
const ITERATIONS_DEFAULT: u64 = 30_000;
/// The seed of the reference runs unless `STAGEDIR_SEED` says.
const SEED_DEFAULT: u64 = 0x5747_4745;
/// The broken runs' seed: fixed, so the invariant they break is fixed.
const BROKEN_SEED: u64 = 1;
/// A broken variant must fail within this many schedules.
const BROKEN_ITERATIONS_MAX: u64 = 10_000;
/// PCT's bug depth: priority changes per schedule.
const PCT_DEPTH: usize = 3;

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v}: not a number")),
        Err(_) => default,
    }
}

fn iterations() -> u64 {
    env_u64("STAGEDIR_ITERATIONS", ITERATIONS_DEFAULT)
}

fn variant(name: &str) -> Variant {
    Variant::from_name(name).expect("variant")
}

/// flock: 3 creators staging 3 files each, 2 recoverers of 3 passes, 2 ids,
/// foreign entries (a file and a symlink bait) in ROOT.
fn flock(v: Variant) -> Scenario {
    let mut s = Scenario::new(v, 3, 2, 2);
    s.lock_kind = LockKind::Flock;
    s.items = 3;
    s.recover_passes = 3;
    s.foreign = true;
    s.with_variant_defaults()
}

/// OFD locks: 3 creators staging 2 trees each (a file and a symlink out of
/// ROOT inside), 2 recoverers of 2 passes, 2 ids, one injected error.
fn ofd(v: Variant) -> Scenario {
    let mut s = Scenario::new(v, 3, 2, 2);
    s.lock_kind = LockKind::Ofd;
    s.items = 2;
    s.item_shape = ItemShape::Tree;
    s.recover_passes = 2;
    s.faults = 1;
    s.with_variant_defaults()
}

/// POSIX locks with the in-process registry: 4 creators staging 2 files
/// each and 2 recoverers of 2 passes, the first creator and the first
/// recoverer being two threads of one process (6 threads, 5 processes).
fn posix(v: Variant, registry: bool) -> Scenario {
    let mut s = Scenario::new(v, 4, 2, 2);
    s.lock_kind = LockKind::Posix;
    s.items = 2;
    s.recover_passes = 2;
    s.use_registry = registry;
    s.shared_process = true;
    s.with_variant_defaults()
}

/// One name for everyone (1 id): 4 creators staging 2 files each (the
/// first creator's first item on another device: its stage fails EXDEV), 2
/// recoverers of 2 passes, two injected errors, 3 attempts per creation.
fn one_name(v: Variant) -> Scenario {
    let mut s = Scenario::new(v, 4, 2, 1);
    s.lock_kind = LockKind::Flock;
    s.items = 2;
    s.cross_device_item = true;
    s.recover_passes = 2;
    s.faults = 2;
    s.attempts_max = 3;
    s.with_variant_defaults()
}

fn report(scn: &Scenario, strategy: Strategy, o: &Outcome) {
    println!(
        "{:<22} {:<44} {:<16} iterations={:>6} steps={:>9} crashes={:>6} faults={:>5} seconds={:>6.2} {}",
        scn.variant.name(),
        scn.describe(),
        format!("{strategy:?}"),
        o.iterations,
        o.steps,
        o.crashes,
        o.faults,
        o.seconds,
        o.finding.as_ref().map_or("holds".to_string(), |f| f.violation.invariant.code().to_string()),
    );
}

/// The scenario holds for `iterations()` schedules of `strategy`.
#[track_caller]
fn holds(scn: Scenario, strategy: Strategy) {
    assert!(
        (4..=6).contains(&scn.processes()),
        "a shuttle scenario has 4 to 6 processes"
    );
    let seed = env_u64("STAGEDIR_SEED", SEED_DEFAULT);
    let o = random::run(&scn, strategy, iterations(), seed);
    report(&scn, strategy, &o);
    if let Some(f) = &o.finding {
        panic!(
            "{} broken (seed {seed}):\n{}",
            f.violation,
            random::render(&scn, f)
        );
    }
    assert_eq!(o.iterations, iterations(), "every schedule ran");
    assert!(
        o.steps > o.iterations * scn.processes() as u64,
        "every process took steps"
    );
    if scn.crashes {
        assert!(o.crashes > 0, "no schedule crashed a process");
    }
    if scn.faults > 0 {
        assert!(o.faults > 0, "no schedule injected an error");
    }
}

/// The broken scenario fails under `strategy`, breaking `invariant`, and the
/// shrunk schedule still breaks it on replay.
#[track_caller]
fn rejects(scn: Scenario, strategy: Strategy, invariant: Invariant) -> Finding {
    let o = random::run(&scn, strategy, BROKEN_ITERATIONS_MAX, BROKEN_SEED);
    report(&scn, strategy, &o);
    let f = o.finding.unwrap_or_else(|| {
        panic!(
            "{} {}: no violation in {} schedules",
            scn.variant,
            scn.describe(),
            o.iterations
        )
    });
    assert_eq!(
        f.violation.invariant,
        invariant,
        "{}",
        random::render(&scn, &f)
    );
    let t = trace::replay(&scn, &f.actions).expect("the shrunk schedule replays");
    assert_eq!(
        t.violation.map(|v| v.invariant),
        Some(invariant),
        "shrunk replay"
    );
    assert!(
        f.actions.len() <= f.history.len(),
        "shrinking never lengthens"
    );
    f
}

#[test]
fn flock_reference_random() {
    holds(flock(Variant::Reference), Strategy::Random);
}

#[test]
fn flock_reference_pct() {
    holds(
        flock(Variant::Reference),
        Strategy::Pct { depth: PCT_DEPTH },
    );
}

#[test]
fn flock_rejects_no_identity_recheck() {
    let v = variant("no-identity-recheck");
    rejects(flock(v), Strategy::Random, Invariant::DataUnderLock);
    rejects(
        flock(v),
        Strategy::Pct { depth: PCT_DEPTH },
        Invariant::DataUnderLock,
    );
}

#[test]
fn ofd_reference_random() {
    holds(ofd(Variant::Reference), Strategy::Random);
}

#[test]
fn ofd_reference_pct() {
    holds(ofd(Variant::Reference), Strategy::Pct { depth: PCT_DEPTH });
}

#[test]
fn ofd_rejects_unlock_before_unlink() {
    let v = variant("unlock-before-unlink");
    rejects(ofd(v), Strategy::Random, Invariant::OneOwner);
    rejects(
        ofd(v),
        Strategy::Pct { depth: PCT_DEPTH },
        Invariant::OneOwner,
    );
}

#[test]
fn posix_registry_reference_random() {
    holds(posix(Variant::Reference, true), Strategy::Random);
}

#[test]
fn posix_registry_reference_pct() {
    holds(
        posix(Variant::Reference, true),
        Strategy::Pct { depth: PCT_DEPTH },
    );
}

#[test]
fn posix_rejects_posix_lock_kind_without_registry() {
    let v = variant("posix-lock-kind");
    rejects(posix(v, false), Strategy::Random, Invariant::OneOwner);
    rejects(
        posix(v, false),
        Strategy::Pct { depth: PCT_DEPTH },
        Invariant::OneOwner,
    );
}

#[test]
fn one_name_reference_random() {
    holds(one_name(Variant::Reference), Strategy::Random);
}

#[test]
fn one_name_reference_pct() {
    holds(
        one_name(Variant::Reference),
        Strategy::Pct { depth: PCT_DEPTH },
    );
}

#[test]
fn one_name_rejects_data_before_lock() {
    let v = variant("data-before-lock");
    rejects(one_name(v), Strategy::Random, Invariant::DataUnderLock);
    rejects(
        one_name(v),
        Strategy::Pct { depth: PCT_DEPTH },
        Invariant::DataUnderLock,
    );
}

/// A failure replays: shuttle's schedule through shuttle's
/// `ReplayScheduler` gives the same history, step for step, and the shrunk
/// schedule survives the replay token and replays to the same violation.
#[test]
fn failure_replays_from_shuttle_schedule_and_token() {
    let scn = ofd(variant("unlock-before-unlink"));
    let f = rejects(scn.clone(), Strategy::Random, Invariant::OneOwner);
    let lines = |h: &[stagedir::check::world::Record]| -> String {
        h.iter()
            .enumerate()
            .map(|(n, r)| trace::line(n + 1, r) + "\n")
            .collect()
    };
    // The shuttle schedule, replayed by shuttle.
    let replayed = random::replay_schedule(&scn, &f.shuttle_schedule);
    assert_eq!(
        lines(&replayed.history),
        lines(&f.history),
        "history differs on replay"
    );
    assert_eq!(replayed.history, f.history);
    assert_eq!(
        replayed.violation.as_ref().map(|v| v.invariant),
        Some(Invariant::OneOwner),
        "the replay breaks the same invariant"
    );
    // The same run as a World schedule: every record identical.
    let raw: Vec<_> = f.history.iter().map(|r| r.action).collect();
    let t = trace::replay(&scn, &raw).expect("the run's own schedule replays");
    assert_eq!(t.records, f.history);
    assert_eq!(t.violation, replayed.violation);
    // The shrunk schedule through a replay token.
    let tok = token::encode(&scn, &f.actions);
    let (scn2, actions2) = token::decode(&tok).expect("token decodes");
    assert_eq!(scn2, scn);
    assert_eq!(actions2, f.actions);
    let t2 = trace::replay(&scn2, &actions2).expect("token replays");
    assert_eq!(t2.violation.as_ref(), Some(&f.violation));
    // What a person sees: the token, shuttle's schedule and the swimlanes.
    let shown = random::render(&scn, &f);
    assert!(
        shown.starts_with(&format!("replay token: {tok}\n")),
        "{shown}"
    );
    assert!(shown.contains(&f.shuttle_schedule), "{shown}");
    assert!(shown.contains("BROKEN: INV-1"), "{shown}");
}

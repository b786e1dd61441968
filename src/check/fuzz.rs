//! Fuzzer bytes as a scenario and a schedule, for the cargo-fuzz targets in
//! `fuzz/` (and anything else that wants to turn bytes into a run: the
//! `replay --fuzz` command, tests).
//!
//! The bytes are read through [`arbitrary::Unstructured`], one byte per
//! decision, so that a fuzzer's mutation of one byte changes one decision:
//!
//! | bytes | decision |
//! |---|---|
//! | 1 (only for [`Target::ScheduleMutant`]) | the mutant: `mutants()[b % n]` |
//! | 6 | the scenario: creators 1..=3, recoverers 1..=2, ids 1..=2, items 1..=2, injected errors 0..=2, a flag byte (see [`FLAG_TREES`] and the others) |
//! | 2 or 3 per step | which live process steps next (`b % live`); what it does ([`KIND_FAULT_MIN`], [`KIND_CRASH_MIN`]); the id it draws (`b % ids`) when its step is [`crate::fs::Op::DrawId`], or which errno is injected when it is a fault |
//!
//! **Every decoded schedule is valid**: each action is taken from
//! [`World::actions`] of the state it is applied in. When the bytes run out
//! every further byte reads as 0: the first live process takes a plain step,
//! so every input ends with every process ended (the final recovery of
//! INV-5 then runs), within [`STEPS_MAX`] steps.

use std::path::{Path, PathBuf};

use arbitrary::Unstructured;

use super::oracle::Violation;
use super::scenario::{ItemShape, Scenario};
use super::shrink::shrink;
use super::token;
use super::trace::{replay, Trace};
use super::world::{Action, World};
use crate::fs::sim::{LockKind, ReaddirOrder};
use crate::variants::Variant;

/// Creator processes a decoded scenario has at most.
pub const CREATORS_MAX: u8 = 3;
/// Recoverer processes a decoded scenario has at most.
pub const RECOVERERS_MAX: u8 = 2;
/// Size of the id space at most (1 forces every instance onto one name).
pub const IDS_MAX: u8 = 2;
/// Items per creator at most.
pub const ITEMS_MAX: u8 = 2;
/// Injected errors per run at most.
pub const FAULTS_MAX: u8 = 2;
/// Steps a decoded schedule takes at most. The programs are bounded (a few
/// dozen steps each), so a run ends long before this; it only guards
/// against a program that would not.
pub const STEPS_MAX: usize = 2_000;

/// A kind byte at or above this (and below [`KIND_CRASH_MIN`]) injects an
/// error into the step, when the budget and the operation allow one.
pub const KIND_FAULT_MIN: u8 = 0xe0;
/// A kind byte at or above this crashes the process instead of stepping.
pub const KIND_CRASH_MIN: u8 = 0xf0;
const _: () = assert!(KIND_FAULT_MIN < KIND_CRASH_MIN);

/// Flag byte: items are trees (a directory with a file and a symlink out).
pub const FLAG_TREES: u8 = 1 << 0;
/// Flag byte: foreign entries are planted in ROOT.
pub const FLAG_FOREIGN: u8 = 1 << 1;
/// Flag byte: the first creator and the first recoverer share one process.
pub const FLAG_SHARED_PROCESS: u8 = 1 << 2;
/// Flag byte: the first creator's first item is on another device.
pub const FLAG_CROSS_DEVICE: u8 = 1 << 3;
/// Flag byte: OFD locks instead of flock.
pub const FLAG_OFD: u8 = 1 << 4;
/// Flag byte: POSIX locks, with the in-process registry the reference needs
/// for them (wins over [`FLAG_OFD`]).
pub const FLAG_POSIX: u8 = 1 << 5;
/// Flag byte: directories list in name order instead of reverse name order.
pub const FLAG_NAME_ORDER: u8 = 1 << 6;
/// Flag byte: recoverers run two passes instead of one.
pub const FLAG_TWO_PASSES: u8 = 1 << 7;

/// The two fuzz targets, which read the same bytes differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// `fuzz/fuzz_targets/schedule.rs`: the reference protocol.
    Schedule,
    /// `fuzz/fuzz_targets/schedule_mutant.rs`: the first byte chooses a mutant.
    ScheduleMutant,
}

impl Target {
    /// The target's name, as `cargo fuzz run` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Target::Schedule => "schedule",
            Target::ScheduleMutant => "schedule_mutant",
        }
    }

    /// Parses a name from [`Target::name`].
    pub fn from_name(name: &str) -> Option<Target> {
        [Target::Schedule, Target::ScheduleMutant].into_iter().find(|t| t.name() == name)
    }

    /// The target a file belongs to, from the cargo-fuzz layout it sits in
    /// (`fuzz/artifacts/<target>/crash-…`, `fuzz/corpus/<target>/…`): the
    /// nearest directory named after a target. `None` elsewhere.
    pub fn from_path(path: &Path) -> Option<Target> {
        path.parent()?.ancestors().find_map(|dir| dir.file_name()?.to_str().and_then(Target::from_name))
    }
}

/// The mutants, in [`Variant::all`] order: what the first byte of a
/// [`Target::ScheduleMutant`] input indexes.
pub fn mutants() -> Vec<Variant> {
    Variant::all().into_iter().filter(Variant::is_mutant).collect()
}

/// The mutant the first byte of `data` chooses (`data[0] % n`; an empty
/// input chooses the first). The mapping follows `Mutation::ALL`
/// (in `crate::protocol`): when a mutant is added, a finding file
/// from an older build may choose another one. Keep the replay token,
/// which names its variant.
pub fn mutant_of(data: &[u8]) -> Variant {
    let m = mutants();
    m[data.first().map_or(0, |b| *b as usize % m.len())]
}

/// A decoded run: the scenario, the schedule, and what the oracle said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub scenario: Scenario,
    pub actions: Vec<Action>,
    /// The first broken invariant, at the last action or in the final
    /// recovery pass.
    pub violation: Option<Violation>,
    /// Every process ended (and so the final recovery pass ran).
    pub terminal: bool,
}

/// Decodes fuzzer bytes into a scenario and a schedule (module docs give
/// the format). With `mutant`, the first byte chooses the variant among the
/// mutants; otherwise it is the reference.
pub fn decode(data: &[u8], mutant: bool) -> (Scenario, Vec<Action>) {
    let run = run_bytes(data, mutant);
    (run.scenario, run.actions)
}

/// [`decode`], judging every step with the oracle as it goes: the schedule
/// stops at the first violation. One pass over the world, so the fuzz
/// targets pay for one run per input.
pub fn run_bytes(data: &[u8], mutant: bool) -> Run {
    let (variant, rest) = if mutant { (mutant_of(data), data.get(1..).unwrap_or(&[])) } else { (Variant::Reference, data) };
    let mut u = Unstructured::new(rest);
    let scn = scenario(variant, &mut u);
    schedule(scn, &mut u)
}

fn byte(u: &mut Unstructured<'_>) -> u8 {
    u.arbitrary::<u8>().unwrap_or(0)
}

fn in_range(u: &mut Unstructured<'_>, lo: u8, hi: u8) -> u8 {
    u.int_in_range(lo..=hi).unwrap_or(lo)
}

/// The six scenario bytes.
fn scenario(variant: Variant, u: &mut Unstructured<'_>) -> Scenario {
    let creators = in_range(u, 1, CREATORS_MAX);
    let recoverers = in_range(u, 1, RECOVERERS_MAX);
    let ids = in_range(u, 1, IDS_MAX);
    let mut scn = Scenario::new(variant, creators, recoverers, ids);
    scn.items = in_range(u, 1, ITEMS_MAX);
    scn.faults = in_range(u, 0, FAULTS_MAX);
    let flags = byte(u);
    let has = |f: u8| flags & f != 0;
    if has(FLAG_TREES) {
        scn.item_shape = ItemShape::Tree;
    }
    scn.foreign = has(FLAG_FOREIGN);
    scn.shared_process = has(FLAG_SHARED_PROCESS);
    scn.cross_device_item = has(FLAG_CROSS_DEVICE);
    if has(FLAG_POSIX) {
        scn.lock_kind = LockKind::Posix;
        scn.use_registry = true;
    } else if has(FLAG_OFD) {
        scn.lock_kind = LockKind::Ofd;
    }
    if has(FLAG_NAME_ORDER) {
        scn.order = ReaddirOrder::Name;
    }
    if has(FLAG_TWO_PASSES) {
        scn.recover_passes = 2;
    }
    // A variant that fixes its lock kind (the POSIX mutant) gets it, and
    // without the registry unless the bytes asked for POSIX themselves.
    scn.with_variant_defaults()
}

/// The steps: bytes choose the process, then what it does.
fn schedule(scn: Scenario, u: &mut Unstructured<'_>) -> Run {
    let mut world = World::new(&scn);
    let mut actions = Vec::new();
    let mut enabled = Vec::new();
    let mut live = Vec::new();
    while !world.is_terminal() && actions.len() < STEPS_MAX {
        world.actions(&scn, &mut enabled);
        live.clear();
        live.extend(world.procs.iter().enumerate().filter(|(_, p)| p.alive()).map(|(i, _)| i as u8));
        let p = live[byte(u) as usize % live.len()];
        let kind = byte(u);
        let mine = enabled.iter().copied().filter(|a| a.proc() == p as usize);
        let (plain, faults, crash) = mine.fold((Vec::new(), Vec::new(), None), |(mut s, mut f, c), a| {
            match a {
                Action::Step(_) | Action::Draw(..) => s.push(a),
                Action::Fault(..) => f.push(a),
                Action::Crash(_) => return (s, f, Some(a)),
            }
            (s, f, c)
        });
        let action = match (kind, crash) {
            (k, Some(c)) if k >= KIND_CRASH_MIN => c,
            (k, _) if k >= KIND_FAULT_MIN && !faults.is_empty() => faults[byte(u) as usize % faults.len()],
            // A draw: the id is the next byte.
            _ if matches!(plain[0], Action::Draw(..)) => plain[byte(u) as usize % plain.len()],
            _ => plain[0],
        };
        debug_assert!(enabled.contains(&action), "decoded an action that is not enabled");
        actions.push(action);
        let (_, violation) = world.apply(&scn, action);
        if violation.is_some() {
            return Run { scenario: scn, actions, violation, terminal: false };
        }
    }
    let terminal = world.is_terminal();
    let violation = if terminal { world.final_check(&scn).1 } else { None };
    Run { scenario: scn, actions, violation, terminal }
}

/// The inverse of [`run_bytes`]: bytes that decode to `scn` and begin with
/// `actions` (after them the bytes run out, so the decoded schedule goes on
/// with plain steps of the first live process). For seed corpora and tests.
/// `None` when `scn` is not one the decoder makes, or an action is not
/// enabled where it stands. `mutant` says which target the bytes are for
/// (a mutant scenario needs it).
pub fn encode(scn: &Scenario, actions: &[Action], mutant: bool) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    if mutant {
        out.push(mutants().iter().position(|v| *v == scn.variant)? as u8);
    } else if scn.variant != Variant::Reference {
        return None;
    }
    let mut flags = 0;
    for (on, flag) in [
        (scn.item_shape == ItemShape::Tree, FLAG_TREES),
        (scn.foreign, FLAG_FOREIGN),
        (scn.shared_process, FLAG_SHARED_PROCESS),
        (scn.cross_device_item, FLAG_CROSS_DEVICE),
        (scn.lock_kind == LockKind::Ofd, FLAG_OFD),
        (scn.lock_kind == LockKind::Posix && scn.use_registry, FLAG_POSIX),
        (scn.order == ReaddirOrder::Name, FLAG_NAME_ORDER),
        (scn.recover_passes == 2, FLAG_TWO_PASSES),
    ] {
        if on {
            flags |= flag;
        }
    }
    out.extend([
        scn.creators.checked_sub(1)?,
        scn.recoverers.checked_sub(1)?,
        scn.ids.checked_sub(1)?,
        scn.items.checked_sub(1)?,
        scn.faults,
        flags,
    ]);
    if decode(&out, mutant).0 != *scn {
        return None;
    }
    let mut world = World::new(scn);
    let mut enabled = Vec::new();
    for &a in actions {
        world.actions(scn, &mut enabled);
        if !enabled.contains(&a) {
            return None;
        }
        let live = world.procs.iter().take(a.proc()).filter(|p| p.alive()).count();
        out.push(live as u8);
        let mine = || enabled.iter().filter(|b| b.proc() == a.proc());
        match a {
            Action::Step(_) => out.push(0),
            Action::Draw(..) => {
                out.push(0);
                out.push(mine().filter(|b| matches!(b, Action::Draw(..))).position(|b| *b == a)? as u8);
            }
            Action::Fault(..) => {
                out.push(KIND_FAULT_MIN);
                out.push(mine().filter(|b| matches!(b, Action::Fault(..))).position(|b| *b == a)? as u8);
            }
            Action::Crash(_) => out.push(KIND_CRASH_MIN),
        }
        world.apply(scn, a);
    }
    Some(out)
}

/// The variant the `schedule_mutant` target is restricted to, from
/// `STAGEDIR_FUZZ_VARIANT` (a name `stagedir check --variant` takes): inputs
/// whose first byte chooses another mutant are rejected, so that a finding
/// file still names its mutant by its first byte. `None` when unset.
///
/// # Panics
/// When the variable names no mutant (a typo would otherwise fuzz nothing).
pub fn variant_filter() -> Option<Variant> {
    let name = std::env::var("STAGEDIR_FUZZ_VARIANT").ok()?;
    let v = Variant::from_name(&name).unwrap_or_else(|e| panic!("STAGEDIR_FUZZ_VARIANT: {e}"));
    assert!(v.is_mutant(), "STAGEDIR_FUZZ_VARIANT={name}: not a mutant (the schedule target runs the reference)");
    Some(v)
}

/// What a fuzz target does with one input: run it, and on a violation print
/// the replay token first, then the shrunk counterexample as swimlanes, and
/// panic (libFuzzer records the input as a finding).
///
/// # Panics
/// When the run breaks an invariant.
pub fn check(data: &[u8], target: Target) {
    let run = run_bytes(data, target == Target::ScheduleMutant);
    if let Some(v) = &run.violation {
        eprintln!("replay: stagedir replay '{}'", token::encode(&run.scenario, &run.actions));
        let (actions, trace) = shrunk(&run);
        eprintln!("{}", super::swimlane::render(&trace, &actions));
        panic!("{v} (shrunk replay: stagedir replay '{}')", token::encode(&run.scenario, &actions));
    }
}

/// The shrunk schedule of a run that broke an invariant, and its trace.
fn shrunk(run: &Run) -> (Vec<Action>, Trace) {
    let v = run.violation.as_ref().expect("a run with a violation");
    let actions = shrink(&run.scenario, &run.actions, v.invariant);
    let trace = replay(&run.scenario, &actions).expect("a shrunk schedule replays");
    (actions, trace)
}

/// Why a fuzz file could not be turned into a token.
#[derive(Debug, thiserror::Error)]
pub enum FuzzFileError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
}

/// Turns a fuzz input file (a finding under `fuzz/artifacts/<target>/`, or
/// any corpus entry) into a replay token: decode, replay, shrink
/// ([`shrink`]) when it breaks an invariant, [`token::encode`].
///
/// The target is read from the path ([`Target::from_path`]). A file outside
/// the cargo-fuzz layout is decoded as [`Target::Schedule`] first and, when
/// that breaks nothing, as [`Target::ScheduleMutant`]; either way the token
/// names its variant, so it replays the same trace. A file that breaks
/// nothing still gives a token (of the clean run, unshrunk).
///
/// # Errors
/// [`FuzzFileError::Read`] when the file cannot be read.
pub fn token_from_fuzz_file(path: impl AsRef<Path>) -> Result<String, FuzzFileError> {
    let path = path.as_ref();
    let data = std::fs::read(path).map_err(|source| FuzzFileError::Read { path: path.to_path_buf(), source })?;
    let run = match Target::from_path(path) {
        Some(t) => run_bytes(&data, t == Target::ScheduleMutant),
        None => {
            let reference = run_bytes(&data, false);
            if reference.violation.is_some() {
                reference
            } else {
                let mutant = run_bytes(&data, true);
                if mutant.violation.is_some() {
                    mutant
                } else {
                    reference
                }
            }
        }
    };
    Ok(token_of(&run))
}

/// The token of a run: shrunk when it broke an invariant.
pub fn token_of(run: &Run) -> String {
    match &run.violation {
        Some(_) => token::encode(&run.scenario, &shrunk(run).0),
        None => token::encode(&run.scenario, &run.actions),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::oracle::Invariant;
    use crate::protocol::Mutation;

    /// `n` deterministic pseudo-random bytes (xorshift64 from `x`).
    fn xorshift_bytes(x: &mut u64, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                *x ^= *x << 13;
                *x ^= *x >> 7;
                *x ^= *x << 17;
                *x as u8
            })
            .collect()
    }

    #[test]
    fn empty_input_is_one_creator_then_one_recoverer_to_the_end() {
        let run = run_bytes(&[], false);
        assert_eq!(run.scenario, Scenario::new(Variant::Reference, 1, 1, 1));
        assert!(run.terminal);
        assert_eq!(run.violation, None);
        // The creator runs to its end before the recoverer takes a step.
        let first_recoverer_step = run.actions.iter().position(|a| a.proc() == 1).expect("recoverer ran");
        assert!(run.actions[..first_recoverer_step].iter().all(|a| a.proc() == 0));
        assert!(run.actions[first_recoverer_step..].iter().all(|a| a.proc() == 1));
        assert!(run.actions.iter().all(|a| matches!(a, Action::Step(_) | Action::Draw(_, 0))));
    }

    #[test]
    fn header_bytes_choose_the_scenario() {
        let (scn, _) = decode(&[2, 1, 1, 1, 2, FLAG_TREES | FLAG_OFD | FLAG_TWO_PASSES], false);
        assert_eq!((scn.creators, scn.recoverers, scn.ids, scn.items, scn.faults), (3, 2, 2, 2, 2));
        assert_eq!(scn.item_shape, ItemShape::Tree);
        assert_eq!(scn.lock_kind, LockKind::Ofd);
        assert_eq!(scn.recover_passes, 2);
        assert!(!scn.foreign && !scn.shared_process && !scn.cross_device_item);
        let (scn, _) = decode(&[0, 0, 0, 0, 0, FLAG_POSIX | FLAG_OFD | FLAG_FOREIGN], false);
        assert_eq!(scn.lock_kind, LockKind::Posix);
        assert!(scn.use_registry && scn.foreign);
    }

    #[test]
    fn first_byte_chooses_the_mutant() {
        let m = mutants();
        assert_eq!(m.len(), Mutation::ALL.len());
        assert!(m.iter().all(Variant::is_mutant));
        for (k, v) in m.iter().enumerate() {
            assert_eq!(decode(&[k as u8], true).0.variant, *v);
            assert_eq!(decode(&[(k + m.len()) as u8], true).0.variant, *v);
        }
        assert_eq!(decode(&[], true).0.variant, m[0]);
        let posix = m.iter().position(|v| *v == Variant::Mutant(Mutation::PosixLockKind)).expect("posix mutant");
        let (scn, _) = decode(&[posix as u8], true);
        assert_eq!(scn.lock_kind, LockKind::Posix);
        assert!(!scn.use_registry, "the POSIX mutant runs without the registry");
    }

    #[test]
    fn every_decoded_action_is_enabled_where_it_is_taken() {
        // Deterministic pseudo-random inputs (xorshift), lengths 0..300.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut enabled = Vec::new();
        for n in 0..300usize {
            let data = xorshift_bytes(&mut x, n);
            for mutant in [false, true] {
                let run = run_bytes(&data, mutant);
                let mut w = World::new(&run.scenario);
                for a in &run.actions {
                    w.actions(&run.scenario, &mut enabled);
                    assert!(enabled.contains(a), "{a:?} not enabled");
                    w.apply(&run.scenario, *a);
                }
                assert!(run.actions.len() < STEPS_MAX, "a run reached the step bound");
                // The run's own verdict is the replay's.
                let t = replay(&run.scenario, &run.actions).expect("replays");
                assert_eq!(t.violation, run.violation);
                if !mutant {
                    assert_eq!(run.violation, None, "reference broke on {data:?}");
                    assert!(run.terminal);
                }
            }
        }
    }

    #[test]
    fn kind_bytes_crash_and_inject() {
        // 1 creator, 1 recoverer, 1 id, 1 item, 1 fault, no flags; then the
        // creator crashes at once.
        let run = run_bytes(&[0, 0, 0, 0, 1, 0, 0, KIND_CRASH_MIN], false);
        assert_eq!(run.actions[0], Action::Crash(0));
        // The creator draws (byte 0: id 0), then its create_excl fails with
        // an injected error (fault byte, then which errno: 1 = EACCES).
        let run = run_bytes(&[0, 0, 0, 0, 1, 0, 0, 0, 0, 0, KIND_FAULT_MIN, 1], false);
        assert_eq!(run.actions[0], Action::Draw(0, 0));
        assert_eq!(run.actions[1], Action::Fault(0, crate::fs::Errno::EACCES));
        assert_eq!(run.violation, None);
    }

    #[test]
    fn target_comes_from_the_cargo_fuzz_layout() {
        let t = |p: &str| Target::from_path(Path::new(p));
        assert_eq!(t("fuzz/artifacts/schedule_mutant/crash-0a1b"), Some(Target::ScheduleMutant));
        assert_eq!(t("/x/fuzz/corpus/schedule/seed-1"), Some(Target::Schedule));
        assert_eq!(t("/tmp/crash-0a1b"), None);
        // The file's own name does not count.
        assert_eq!(t("/tmp/schedule"), None);
    }

    #[test]
    fn a_mutant_finding_file_becomes_a_shrunk_token_that_replays_the_violation() {
        // Search the mutant inputs for one that breaks no-identity-recheck.
        let mut x: u64 = 7;
        let finding = (0..20_000)
            .map(|_| {
                // A first byte of 0 picks the first mutant, no-identity-recheck.
                let mut d = xorshift_bytes(&mut x, 120);
                d[0] = 0;
                d
            })
            .find(|d| run_bytes(d, true).violation.is_some())
            .expect("a violation of no-identity-recheck within 20,000 inputs");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("artifacts").join("schedule_mutant").join("crash-1");
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, &finding).expect("write");
        let tok = token_from_fuzz_file(&path).expect("token");
        let (scn, actions) = token::decode(&tok).expect("decodes");
        assert_eq!(scn.variant, Variant::Mutant(Mutation::NoIdentityRecheck));
        let raw = run_bytes(&finding, true);
        assert!(actions.len() <= raw.actions.len());
        let t = replay(&scn, &actions).expect("replays");
        let inv = t.violation.expect("the shrunk token still breaks").invariant;
        assert_eq!(Some(inv), raw.violation.map(|v| v.invariant));
        assert_ne!(inv, Invariant::NothingLeaks, "this mutant breaks ownership before any leak");
        // Outside the layout, the same bytes are tried as the reference
        // first (which holds) and then as a mutant input: the same token.
        let loose = dir.path().join("crash-1");
        std::fs::write(&loose, &finding).expect("write");
        assert_eq!(token_from_fuzz_file(&loose).expect("token"), tok);
    }

    #[test]
    fn a_clean_file_gives_the_token_of_its_whole_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("corpus").join("schedule").join("empty");
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, []).expect("write");
        let run = run_bytes(&[], false);
        assert_eq!(token_from_fuzz_file(&path).expect("token"), token::encode(&run.scenario, &run.actions));
        assert!(matches!(token_from_fuzz_file(dir.path().join("missing")), Err(FuzzFileError::Read { .. })));
    }

    #[test]
    fn encode_is_the_inverse_of_decode() {
        let mut x: u64 = 99;
        for n in 0..200usize {
            let data = xorshift_bytes(&mut x, n);
            for mutant in [false, true] {
                let run = run_bytes(&data, mutant);
                let bytes = encode(&run.scenario, &run.actions, mutant).expect("encodable");
                let again = run_bytes(&bytes, mutant);
                assert_eq!(again.scenario, run.scenario);
                assert_eq!(again.actions, run.actions);
                assert_eq!(again.violation, run.violation);
            }
        }
        // Not enabled: the recoverer of a 1c+1r scenario is process 1, not 2.
        let scn = Scenario::new(Variant::Reference, 1, 1, 1);
        assert_eq!(encode(&scn, &[Action::Step(2)], false), None);
        // Not a scenario the decoder makes: four creators.
        assert_eq!(encode(&Scenario::new(Variant::Reference, 4, 1, 1), &[], false), None);
    }
}

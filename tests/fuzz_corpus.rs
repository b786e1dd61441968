//! The committed seed corpus of the fuzz targets (`fuzz/corpus/<target>/`):
//! small hand-picked schedules, each described here as a scenario and a
//! policy that picks its steps, and encoded with `check::fuzz::encode`.
//!
//! The seeds must break nothing, on the reference and on the mutants alike:
//! a finding of `schedule_mutant` has to come from the search, not from a
//! seed. `STAGEDIR_WRITE_SEEDS=1 cargo test --test fuzz_corpus` rewrites the
//! files from the descriptions. Files a fuzzing run adds to the directory
//! (named by their SHA-1, ignored by git) are not seeds and are left alone.

use std::path::{Path, PathBuf};

use stagedir::check::fuzz::{self, Target};
use stagedir::check::scenario::{ItemShape, Scenario};
use stagedir::check::world::{Action, World};
use stagedir::fs::sim::LockKind;
use stagedir::variants::Variant;

/// How a seed picks its next action among the enabled ones.
#[derive(Clone, Copy, Debug)]
enum Policy {
    /// Each process runs to its end, in order.
    Sequential,
    /// One step each, in turn.
    RoundRobin,
    /// Process `proc` takes `steps` steps, then crashes; then sequential.
    CrashAfter { proc: u8, steps: usize },
    /// Sequential, but the `nth` step that can take an injected error gets one.
    FaultAt { nth: usize },
    /// Round robin, drawing id `1` whenever there is a choice.
    RoundRobinDrawOne,
}

struct Seed {
    name: &'static str,
    scenario: Scenario,
    policy: Policy,
}

fn scn(creators: u8, recoverers: u8, ids: u8) -> Scenario {
    Scenario::new(Variant::Reference, creators, recoverers, ids)
}

fn seeds() -> Vec<Seed> {
    let mut out = vec![
        Seed { name: "sequential", scenario: scn(1, 1, 1), policy: Policy::Sequential },
        Seed { name: "two-creators-one-id", scenario: scn(2, 1, 1), policy: Policy::RoundRobin },
        Seed { name: "creator-crashes-after-staging", scenario: scn(1, 1, 1), policy: Policy::CrashAfter { proc: 0, steps: 9 } },
        Seed { name: "creator-crashes-after-lock-file", scenario: scn(1, 1, 1), policy: Policy::CrashAfter { proc: 0, steps: 2 } },
        Seed { name: "three-creators-two-recoverers-two-ids", scenario: scn(3, 2, 2), policy: Policy::RoundRobinDrawOne },
    ];
    let mut faults = scn(1, 1, 1);
    faults.faults = 1;
    out.push(Seed { name: "fault-in-cleanup", scenario: faults.clone(), policy: Policy::FaultAt { nth: 8 } });
    out.push(Seed { name: "fault-in-create", scenario: faults, policy: Policy::FaultAt { nth: 1 } });
    let mut trees = scn(1, 1, 1);
    trees.item_shape = ItemShape::Tree;
    trees.foreign = true;
    out.push(Seed { name: "trees-and-foreign-entries", scenario: trees, policy: Policy::CrashAfter { proc: 0, steps: 9 } });
    let mut shared = scn(1, 1, 1);
    shared.shared_process = true;
    shared.lock_kind = LockKind::Posix;
    shared.use_registry = true;
    out.push(Seed { name: "shared-process-posix", scenario: shared, policy: Policy::RoundRobin });
    let mut xdev = scn(1, 1, 1);
    xdev.cross_device_item = true;
    xdev.items = 2;
    out.push(Seed { name: "cross-device-item", scenario: xdev, policy: Policy::Sequential });
    out
}

/// The actions the policy takes on `scn` until every process has ended.
fn schedule(scn: &Scenario, policy: Policy) -> Vec<Action> {
    let mut world = World::new(scn);
    let mut actions = Vec::new();
    let mut enabled = Vec::new();
    let mut turn = 0usize;
    let mut faultable = 0usize;
    while !world.is_terminal() {
        world.actions(scn, &mut enabled);
        let live: Vec<usize> = (0..world.procs.len()).filter(|&i| world.procs[i].alive()).collect();
        let first_plain = |p: usize| {
            *enabled.iter().find(|a| a.proc() == p && matches!(a, Action::Step(_) | Action::Draw(_, 0))).expect("a plain step")
        };
        let action = match policy {
            Policy::Sequential => first_plain(live[0]),
            Policy::RoundRobin | Policy::RoundRobinDrawOne => {
                let p = live[turn % live.len()];
                turn += 1;
                match first_plain(p) {
                    Action::Draw(p, 0) if matches!(policy, Policy::RoundRobinDrawOne) && scn.ids > 1 => Action::Draw(p, 1),
                    a => a,
                }
            }
            Policy::CrashAfter { proc, steps } => {
                let p = proc as usize;
                if world.procs[p].alive() && actions.len() == steps {
                    Action::Crash(proc)
                } else if world.procs[p].alive() {
                    first_plain(p)
                } else {
                    first_plain(live[0])
                }
            }
            Policy::FaultAt { nth } => {
                let p = live[0];
                match enabled.iter().find(|a| a.proc() == p && matches!(a, Action::Fault(..))) {
                    Some(f) => {
                        faultable += 1;
                        if faultable == nth {
                            *f
                        } else {
                            first_plain(p)
                        }
                    }
                    None => first_plain(p),
                }
            }
        };
        actions.push(action);
        world.apply(scn, action);
    }
    actions
}

fn corpus_dir(target: Target) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join("corpus").join(target.name())
}

/// Every seed file of a target: (file name, bytes), from the descriptions.
fn expected(target: Target) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for seed in seeds() {
        let actions = schedule(&seed.scenario, seed.policy);
        match target {
            Target::Schedule => {
                let bytes = fuzz::encode(&seed.scenario, &actions, false).expect("encodable seed");
                out.push((seed.name.to_string(), bytes));
            }
            Target::ScheduleMutant => {
                for v in fuzz::mutants() {
                    let mut s = seed.scenario.clone();
                    s.variant = v;
                    let s = s.with_variant_defaults();
                    // The policy's steps on the mutant: its programs may take
                    // other steps than the reference's.
                    let actions = schedule(&s, seed.policy);
                    let Some(bytes) = fuzz::encode(&s, &actions, true) else { continue };
                    // A seed that already breaks the mutant would make the
                    // search look better than it is: leave it out.
                    if fuzz::run_bytes(&bytes, true).violation.is_none() {
                        out.push((format!("{}-{}", v.name(), seed.name), bytes));
                    }
                }
            }
        }
    }
    out
}

/// Whether a corpus file is one `cargo fuzz run` added (named by the SHA-1
/// of its content, ignored by git) rather than a seed.
fn added_by_the_fuzzer(name: &str) -> bool {
    name.len() == 40 && name.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The seed files in the corpus directory (not what a fuzzing run added).
fn committed(target: Target) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(corpus_dir(target))
        .expect("corpus directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            !name.starts_with('.') && !added_by_the_fuzzer(&name)
        })
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).expect("read")))
        .collect();
    files.sort();
    files
}

#[track_caller]
fn check_corpus(target: Target) {
    let mut want = expected(target);
    want.sort();
    if std::env::var_os("STAGEDIR_WRITE_SEEDS").is_some() {
        let dir = corpus_dir(target);
        std::fs::create_dir_all(&dir).expect("mkdir");
        for (name, _) in committed(target) {
            std::fs::remove_file(dir.join(name)).expect("remove an old seed");
        }
        for (name, bytes) in &want {
            std::fs::write(dir.join(name), bytes).expect("write seed");
        }
    }
    let have = committed(target);
    let names = |v: &[(String, Vec<u8>)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&have), names(&want), "seed files of {}", target.name());
    for ((name, h), (_, w)) in have.iter().zip(&want) {
        assert_eq!(h, w, "{}/{name} differs from its description", target.name());
    }
}

#[test]
fn schedule_seeds_match_their_descriptions() {
    check_corpus(Target::Schedule);
}

#[test]
fn schedule_mutant_seeds_match_their_descriptions() {
    check_corpus(Target::ScheduleMutant);
}

#[test]
fn reference_seeds_break_nothing_and_reach_the_final_recovery() {
    for seed in seeds() {
        let actions = schedule(&seed.scenario, seed.policy);
        let bytes = fuzz::encode(&seed.scenario, &actions, false).expect("encodable");
        let run = fuzz::run_bytes(&bytes, false);
        assert_eq!(run.actions, actions, "{}: decodes to its schedule", seed.name);
        assert!(run.terminal, "{}", seed.name);
        assert_eq!(run.violation, None, "{}", seed.name);
    }
}

#[test]
fn seeds_cover_crashes_faults_and_every_scenario_flag() {
    let all: Vec<(Scenario, Vec<Action>)> =
        seeds().into_iter().map(|s| (s.scenario.clone(), schedule(&s.scenario, s.policy))).collect();
    let any_action = |f: &dyn Fn(&Action) -> bool| all.iter().any(|(_, a)| a.iter().any(f));
    assert!(any_action(&|a| matches!(a, Action::Crash(_))), "a crash");
    assert!(any_action(&|a| matches!(a, Action::Fault(..))), "an injected error");
    assert!(any_action(&|a| matches!(a, Action::Draw(_, 1))), "a draw of the second id");
    let any = |f: &dyn Fn(&Scenario) -> bool| all.iter().any(|(s, _)| f(s));
    assert!(any(&|s| s.creators == 3 && s.recoverers == 2));
    assert!(any(&|s| s.item_shape == ItemShape::Tree && s.foreign));
    assert!(any(&|s| s.shared_process && s.lock_kind == LockKind::Posix));
    assert!(any(&|s| s.cross_device_item));
    // Every mutant has seeds of its own (data-before-lock and
    // unlink-lock-before-data break INV-4 on almost any schedule that gets
    // as far as the data directory, so few seeds survive for them).
    // tree-root-stat is the exception: its scenarios plant the foreign
    // symlink, and every final recovery leaks it, so every seed breaks it.
    let mutant_seeds = expected(Target::ScheduleMutant);
    for v in fuzz::mutants() {
        if v == Variant::Mutant(stagedir::protocol::Mutation::TreeRootStat) {
            continue;
        }
        let n = mutant_seeds.iter().filter(|(name, _)| name.starts_with(&format!("{}-", v.name()))).count();
        assert!(n >= 1, "{} has no seed", v.name());
    }
}

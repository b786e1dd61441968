//! Generated programs for the proptest state-machine tests: a scenario
//! shape, and transitions (a process takes a step, a process crashes, an
//! error is injected into a process's step, a recovery pass runs), listed
//! simplest first so that shrinking moves towards plain steps.
//!
//! The reference state machine is the simulated world itself: a transition
//! is generated only when it is enabled there, and the preconditions check
//! that again while shrinking, so a shrunk sequence is still a valid one.
//!
//! The same program runs on SimFs for any variant ([`run_sim`]: it becomes a
//! scenario and a schedule of [`Action`]s, with a replay token) and on the
//! real filesystem ([`real::run_real`]). A variant whose programs take other
//! steps than the model's reads a transition leniently: a step of a process
//! that has ended is skipped, an injected error the operation cannot have
//! is a plain step.

pub mod real;

use std::fmt;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::sample::SizeRange;
use proptest::strategy::Union;
use proptest_state_machine::strategy::Sequential;

use stagedir::check::oracle::Violation;
use stagedir::check::scenario::{ItemShape, Scenario};
use stagedir::check::world::{fault_errnos, Action, Life, Proc, Task, World};
use stagedir::fs::{Errno, Op};
use stagedir::variants::{Role, Variant};

/// Transitions a generated program has at most.
pub const TRANSITIONS_MAX: usize = 48;
/// Steps a run takes at most (transitions, recovery passes and the final
/// round robin together); the programs end long before.
pub const STEPS_MAX: usize = 5_000;

/// The shape of a generated scenario: what the initial state shrinks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    /// 1..=2 creator processes.
    pub creators: u8,
    /// 0..=2 recoverer processes that run among the creators, step by step
    /// (the `Recover` transition runs a whole pass at once besides).
    pub recoverers: u8,
    /// 1..=2 ids (1: every instance collides on one name).
    pub ids: u8,
    /// 1..=2 items per creator.
    pub items: u8,
    /// 0..=2 injected errors.
    pub faults: u8,
    /// Items are trees (a file and a symlink out) instead of files.
    pub trees: bool,
    /// ROOT holds foreign entries (a file, a symlink named like data).
    pub foreign: bool,
    /// The first creator and the first recoverer are two threads of one
    /// process (when there is a recoverer): a crash kills both, and a lock
    /// kind owned by the process cannot tell them apart.
    pub shared: bool,
}

impl Shape {
    pub fn strategy() -> impl Strategy<Value = Shape> {
        (1..=2u8, 0..=2u8, 1..=2u8, 1..=2u8, 0..=2u8, any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
            |(creators, recoverers, ids, items, faults, trees, foreign, shared)| Shape {
                creators,
                recoverers,
                ids,
                items,
                faults,
                trees,
                foreign,
                shared: shared && recoverers > 0,
            },
        )
    }

    /// Processes that exist from the start (creators, then recoverers).
    pub fn processes(&self) -> usize {
        self.creators as usize + self.recoverers as usize
    }

    /// The scenario for `variant`, with `recover_passes` extra recoverer
    /// processes (one per `Recover` transition, in order).
    pub fn scenario(&self, variant: Variant, recover_passes: usize) -> Scenario {
        let extra = u8::try_from(recover_passes).expect("recover transitions fit u8");
        let mut s = Scenario::new(variant, self.creators, self.recoverers + extra, self.ids);
        s.items = self.items;
        s.faults = self.faults;
        s.item_shape = if self.trees { ItemShape::Tree } else { ItemShape::File };
        s.foreign = self.foreign;
        s.shared_process = self.shared;
        s.with_variant_defaults()
    }
}

/// One transition of a generated program, simplest first.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transition {
    /// Process `p` takes its next step (drawing id `k` when it is a draw).
    Step(u8, u8),
    /// Process `p` dies now.
    Crash(u8),
    /// Process `p`'s next step fails with this errno instead.
    Fault(u8, Errno),
    /// A recovery pass runs alone, start to end, in a process of its own.
    Recover,
}

impl fmt::Debug for Transition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Transition::Step(p, 0) => write!(f, "step p{p}"),
            Transition::Step(p, k) => write!(f, "step p{p} (draw id {k})"),
            Transition::Crash(p) => write!(f, "crash p{p}"),
            Transition::Fault(p, e) => write!(f, "fault p{p} {}", e.name().unwrap_or("?")),
            Transition::Recover => f.write_str("recover"),
        }
    }
}

/// The reference state of the state machine: the simulated world of the
/// model variant, grown by one process per `Recover`.
#[derive(Clone)]
pub struct Model {
    pub shape: Shape,
    scn: Scenario,
    world: World,
}

impl fmt::Debug for Model {
    /// Only the shape: it is what a failing case prints as its initial state.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} on {}", self.shape, self.scn.variant)
    }
}

impl Model {
    pub fn new(shape: Shape, variant: Variant) -> Model {
        let scn = shape.scenario(variant, 0);
        let world = World::new(&scn);
        Model { shape, scn, world }
    }

    fn enabled(&self) -> Vec<Action> {
        let mut out = Vec::new();
        self.world.actions(&self.scn, &mut out);
        out
    }

    /// The transitions enabled here, grouped simplest first.
    fn transitions(&self) -> BoxedStrategy<Transition> {
        let (mut steps, mut crashes, mut faults) = (Vec::new(), Vec::new(), Vec::new());
        for a in self.enabled() {
            match a {
                Action::Step(p) => steps.push(Transition::Step(p, 0)),
                Action::Draw(p, k) => steps.push(Transition::Step(p, k)),
                Action::Crash(p) => crashes.push(Transition::Crash(p)),
                Action::Fault(p, e) => faults.push(Transition::Fault(p, e)),
            }
        }
        let mut groups: Vec<(u32, BoxedStrategy<Transition>)> = Vec::new();
        for (weight, group) in [(12, steps), (1, crashes), (1, faults)] {
            if !group.is_empty() {
                groups.push((weight, proptest::sample::select(group).boxed()));
            }
        }
        groups.push((2, Just(Transition::Recover).boxed()));
        Union::new_weighted(groups).boxed()
    }

    fn precondition(&self, t: &Transition) -> bool {
        match action_of(*t) {
            Some(a) => self.enabled().contains(&a),
            None => true,
        }
    }

    fn apply(mut self, t: &Transition) -> Model {
        match action_of(*t) {
            Some(a) => {
                self.world.apply(&self.scn, a);
            }
            None => {
                let program = self.scn.variant.recoverer(self.scn.root(), &self.scn.role_params(), 1);
                let pid = self.world.fs.spawn();
                self.world.procs.push(Proc { pid, program: std::sync::Arc::new(Task::new(program)), life: Life::Running });
                let p = self.world.procs.len() - 1;
                run_to_end(&self.scn, &mut self.world, p, &mut Vec::new());
            }
        }
        self
    }
}

/// The action a process transition stands for in the model (exact there);
/// `None` for `Recover`.
fn action_of(t: Transition) -> Option<Action> {
    match t {
        Transition::Step(p, k) => Some(if k > 0 { Action::Draw(p, k) } else { Action::Step(p) }),
        Transition::Crash(p) => Some(Action::Crash(p)),
        Transition::Fault(p, e) => Some(Action::Fault(p, e)),
        Transition::Recover => None,
    }
}

/// The generated input: the model's initial state, the transitions, and
/// proptest-state-machine's counter of transitions the test saw.
pub type Program = (Model, Vec<Transition>, Option<Arc<std::sync::atomic::AtomicUsize>>);

/// Programs generated against `model_variant`'s world, 1 to `max`
/// transitions long.
pub fn programs(
    model_variant: Variant,
    max: usize,
) -> Sequential<Model, Transition, BoxedStrategy<Model>, BoxedStrategy<Transition>> {
    Sequential::new(
        SizeRange::from(1..=max),
        move || Shape::strategy().prop_map(move |s| Model::new(s, model_variant)).boxed(),
        |m: &Model, t: &Transition| m.precondition(t),
        |m: &Model| m.transitions(),
        |m: Model, t: &Transition| m.apply(t),
    )
}

/// The plain step process `p` takes next (a draw of id `k mod ids`).
fn plain(scn: &Scenario, world: &World, p: usize, k: u8) -> Action {
    let op = world.procs[p].program.op().expect("a live process has a step");
    if op == Op::DrawId {
        Action::Draw(p as u8, k % scn.ids)
    } else {
        Action::Step(p as u8)
    }
}

/// Runs process `p` alone until it ends or breaks an invariant, appending
/// its actions; returns the violation.
fn run_to_end(scn: &Scenario, world: &mut World, p: usize, actions: &mut Vec<Action>) -> Option<Violation> {
    while world.procs[p].alive() {
        assert!(actions.len() < STEPS_MAX, "a process did not end within {STEPS_MAX} steps");
        let a = plain(scn, world, p, 0);
        actions.push(a);
        if let (_, Some(v)) = world.apply(scn, a) {
            return Some(v);
        }
    }
    None
}

/// A program's run on SimFs.
#[derive(Clone, Debug)]
pub struct SimRun {
    pub scenario: Scenario,
    /// The schedule: what `stagedir replay` takes, with the scenario.
    pub actions: Vec<Action>,
    pub violation: Option<Violation>,
    /// Transitions consumed, up to and including the one that broke an
    /// invariant (all of them when none did, or the end did).
    pub seen: usize,
}

impl SimRun {
    pub fn token(&self) -> String {
        stagedir::check::token::encode(&self.scenario, &self.actions)
    }
}

/// Runs a program on SimFs for `variant`: each transition as its action,
/// read leniently (module docs); then every process still running takes
/// one step in turn until all have ended, and the final recovery pass runs
/// (INV-5). Stops at the first violation.
pub fn run_sim(shape: &Shape, transitions: &[Transition], variant: Variant) -> SimRun {
    let passes = transitions.iter().filter(|t| **t == Transition::Recover).count();
    let scn = shape.scenario(variant, passes);
    let mut world = World::new(&scn);
    let mut actions = Vec::new();
    let mut next_pass = shape.processes();
    let done = |actions: Vec<Action>, violation, seen| SimRun { scenario: scn.clone(), actions, violation, seen };
    for (i, t) in transitions.iter().enumerate() {
        let violation = match *t {
            Transition::Recover => {
                next_pass += 1;
                run_to_end(&scn, &mut world, next_pass - 1, &mut actions)
            }
            Transition::Step(p, _) | Transition::Crash(p) | Transition::Fault(p, _)
                if !world.procs[p as usize].alive() =>
            {
                None
            }
            Transition::Step(p, k) => {
                let a = plain(&scn, &world, p as usize, k);
                actions.push(a);
                world.apply(&scn, a).1
            }
            Transition::Crash(p) => {
                actions.push(Action::Crash(p));
                world.apply(&scn, Action::Crash(p)).1
            }
            Transition::Fault(p, e) => {
                let op = world.procs[p as usize].program.op().expect("live");
                let a = if world.faults_left > 0 && fault_errnos(&op).contains(&e) {
                    Action::Fault(p, e)
                } else {
                    plain(&scn, &world, p as usize, 0)
                };
                actions.push(a);
                world.apply(&scn, a).1
            }
        };
        if violation.is_some() {
            return done(actions, violation, i + 1);
        }
    }
    // Every process still running ends, one step each in turn.
    while !world.is_terminal() {
        for p in 0..world.procs.len() {
            if world.procs[p].alive() {
                assert!(actions.len() < STEPS_MAX, "the run did not end within {STEPS_MAX} steps");
                let a = plain(&scn, &world, p, 0);
                actions.push(a);
                if let (_, Some(v)) = world.apply(&scn, a) {
                    return done(actions, Some(v), transitions.len());
                }
            }
        }
    }
    let (_, violation) = world.final_check(&scn);
    done(actions, violation, transitions.len())
}

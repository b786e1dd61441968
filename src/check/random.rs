//! Random search over whole-world schedules, driven by shuttle.
//!
//! Each process of the [`World`] is one shuttle thread; the world sits behind
//! one `shuttle::sync::Mutex`, and a thread takes exactly one step per
//! acquisition, so every step is a scheduling point and shuttle's scheduler
//! (uniformly random, or PCT) chooses the interleaving. Every other choice is
//! drawn through `shuttle::rand`, so it is part of shuttle's schedule too:
//! which processes crash and at which of their steps (at most
//! [`CRASHES_MAX`] a run, planned when the run starts), which id a
//! [`Op::DrawId`] draws, and, when the scenario allows faults, which steps
//! fail with which errno.
//!
//! Every step is judged by the same oracle as the exhaustive search
//! ([`World::apply`]); when the last process ends, the final recovery pass
//! checks INV-5. The actions applied are recorded in order, so a failure is
//! both a shuttle schedule (replayable by [`replay_schedule`] or
//! `shuttle::replay`) and a [`World`] schedule (replayable by
//! [`trace::replay`] and shrunk by [`shrink::shrink`]).
//!
//! **What it cannot see.** It samples: a run of `n` iterations covers `n`
//! schedules out of astronomically many, and a passing run proves nothing.
//! The exhaustive search ([`super::bfs`]) is the proof for small scenarios;
//! this reaches larger ones (more processes, items and passes).

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Once};
use std::time::Instant;

use shuttle::rand::{thread_rng, Rng};
use shuttle::scheduler::{
    PctScheduler, RandomScheduler, ReplayScheduler, RoundRobinScheduler, Scheduler,
};
use shuttle::{Config, FailurePersistence, Runner};

use super::oracle::Violation;
use super::scenario::Scenario;
use super::shrink;
use super::swimlane;
use super::token;
use super::trace;
use super::world::{fault_errnos, Action, Record, World};
use crate::fs::Op;
use crate::variants::Role;

/// Crashes planned in one run at most (each of a random process at a random
/// one of its steps; a process that ends first never crashes).
pub const CRASHES_MAX: u32 = 2;

/// How much longer than its round-robin length a process's crash or fault
/// step may be drawn (interleavings make recoverers see more ids).
const STEPS_SLACK_PERCENT: u32 = 150;

/// Bound on the steps of the round-robin run that measures process lengths.
const STEPS_MEASURE_MAX: usize = 100_000;

/// Which shuttle scheduler chooses the interleavings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// A random runnable thread at every step (`shuttle::check_random`).
    Random,
    /// Probabilistic Concurrency Testing with `depth` priority changes per
    /// run (`shuttle::check_pct`): finds bugs that need few preemptions
    /// with a guaranteed probability.
    Pct { depth: usize },
}

/// A violation found by a run.
#[derive(Clone, Debug)]
pub struct Finding {
    /// The schedule as [`World`] actions, shrunk with [`shrink::shrink`]:
    /// `trace::replay(scn, &actions)` breaks [`Finding::violation`].
    pub actions: Vec<Action>,
    /// The violation the shrunk schedule shows.
    pub violation: Violation,
    /// Shuttle's schedule of the failing run, as `shuttle::replay` takes it
    /// (replay it with [`replay_schedule`]).
    pub shuttle_schedule: String,
    /// Every step of the failing run as it happened, before shrinking.
    pub history: Vec<Record>,
}

/// What a run did.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Schedules executed (the failing one included).
    pub iterations: u64,
    pub seconds: f64,
    /// Operations executed over all iterations (plain steps and id draws;
    /// not crashes, injected errors or the final recovery passes).
    pub steps: u64,
    /// Crashes over all iterations.
    pub crashes: u64,
    /// Injected errors over all iterations.
    pub faults: u64,
    pub finding: Option<Finding>,
}

/// One replayed shuttle schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replayed {
    /// Every step, in order.
    pub history: Vec<Record>,
    pub violation: Option<Violation>,
}

/// Runs up to `iterations` schedules of `scn` chosen by `strategy` from
/// `seed`, stopping at the first violation, which comes back shrunk.
///
/// # Panics
/// When something other than the oracle panics inside a run (a machine fed
/// a result it cannot take: a bug in a machine or in the simulation); the
/// message carries the panic's and shuttle's schedule.
pub fn run(scn: &Scenario, strategy: Strategy, iterations: u64, seed: u64) -> Outcome {
    let start = Instant::now();
    let iterations_max = usize::try_from(iterations).unwrap_or(usize::MAX);
    let outcome = match strategy {
        Strategy::Random => execute(
            scn,
            RandomScheduler::new_from_seed(seed, iterations_max),
            false,
        ),
        Strategy::Pct { depth } => execute(
            scn,
            PctScheduler::new_from_seed(seed, depth, iterations_max),
            false,
        ),
    };
    let (counts, last) = outcome;
    let finding = last.filter(|r| r.violation.is_some()).map(|r| {
        let violation = r.violation.expect("violation");
        let actions: Vec<Action> = r.history.iter().map(|rec| rec.action).collect();
        let shrunk = shrink::shrink(scn, &actions, violation.invariant);
        let trace = trace::replay(scn, &shrunk).expect("a shrunk schedule replays");
        Finding {
            violation: trace
                .violation
                .expect("a shrunk schedule still breaks the invariant"),
            actions: shrunk,
            shuttle_schedule: r.schedule,
            history: r.history,
        }
    });
    Outcome {
        iterations: counts.executions,
        seconds: start.elapsed().as_secs_f64(),
        steps: counts.steps,
        crashes: counts.crashes,
        faults: counts.faults,
        finding,
    }
}

/// Replays one shuttle schedule of `scn` (from [`Finding::shuttle_schedule`]
/// or shuttle's own failure message) with shuttle's `ReplayScheduler`.
///
/// # Panics
/// When the schedule is malformed, or belongs to another scenario (shuttle
/// reports the divergence).
pub fn replay_schedule(scn: &Scenario, schedule: &str) -> Replayed {
    let (_, last) = execute(scn, ReplayScheduler::new_from_encoded(schedule), true);
    let last = last.expect("a replay records its run");
    Replayed {
        history: last.history,
        violation: last.violation,
    }
}

/// A failure as a person reads it: the replay token first, then shuttle's
/// schedule, then the shrunk trace as swimlanes.
pub fn render(scn: &Scenario, finding: &Finding) -> String {
    let trace = trace::replay(scn, &finding.actions).expect("a finding replays");
    format!(
        "replay token: {}\nshuttle schedule (shuttle::replay or check::random::replay_schedule):\n{}\n{}",
        token::encode(scn, &finding.actions),
        finding.shuttle_schedule,
        swimlane::render(&trace, &finding.actions),
    )
}

/// The end of one shuttle execution: its steps, its violation, its schedule.
struct Last {
    history: Vec<Record>,
    violation: Option<Violation>,
    schedule: String,
}

/// What every execution of one run shares (outside shuttle's control).
struct Ctx {
    scn: Scenario,
    /// Per process: the bound (exclusive) of the step at which a planned
    /// crash or fault may strike.
    steps_bound: Vec<u32>,
    executions: AtomicU64,
    steps: AtomicU64,
    crashes: AtomicU64,
    faults: AtomicU64,
    /// Record every execution's end (replay), not only a failing one's.
    keep_every: bool,
    last: std::sync::Mutex<Option<Last>>,
}

/// An event planned for step `step` of process `proc`.
#[derive(Clone, Copy, Debug)]
enum Planned {
    Crash,
    /// The errno is `fault_errnos(op)[index % len]`, or no fault when the
    /// op takes none.
    Fault(usize),
}

/// The world and what a run has done so far, behind shuttle's mutex.
struct State {
    world: World,
    history: Vec<Record>,
    /// Steps taken so far, per process.
    steps: Vec<u32>,
    /// (process, step, event), planned at the start of the run.
    plan: Vec<(usize, u32, Planned)>,
}

/// Totals over the executions of one run.
struct Counts {
    executions: u64,
    steps: u64,
    crashes: u64,
    faults: u64,
}

fn execute<S: Scheduler + 'static>(
    scn: &Scenario,
    scheduler: S,
    keep_every: bool,
) -> (Counts, Option<Last>) {
    install_quiet_hook();
    let ctx = Arc::new(Ctx {
        scn: scn.clone(),
        steps_bound: steps_bound(scn),
        executions: AtomicU64::new(0),
        steps: AtomicU64::new(0),
        crashes: AtomicU64::new(0),
        faults: AtomicU64::new(0),
        keep_every,
        last: std::sync::Mutex::new(None),
    });
    let mut config = Config::new();
    config.failure_persistence = FailurePersistence::None;
    let runner = Runner::new(scheduler, config);
    let body_ctx = Arc::clone(&ctx);
    let result = {
        let _quiet = Quiet::on();
        panic::catch_unwind(AssertUnwindSafe(move || {
            runner.run(move || body(&body_ctx))
        }))
    };
    let last = ctx.last.lock().unwrap_or_else(|p| p.into_inner()).take();
    let counts = Counts {
        executions: ctx.executions.load(Ordering::Relaxed),
        steps: ctx.steps.load(Ordering::Relaxed),
        crashes: ctx.crashes.load(Ordering::Relaxed),
        faults: ctx.faults.load(Ordering::Relaxed),
    };
    match result {
        Ok(_) => (counts, last),
        Err(payload) => match last {
            Some(last) if last.violation.is_some() => (counts, Some(last)),
            // Shuttle keeps the last execution's schedule on this thread.
            _ => panic!(
                "shuttle run of {} {} panicked outside the oracle: {}\nshuttle schedule:\n{}",
                scn.variant,
                scn.describe(),
                panic_message(&*payload),
                current_schedule()
            ),
        },
    }
}

/// One execution: spawn a thread per process, let them step, judge.
fn body(ctx: &Arc<Ctx>) {
    ctx.executions.fetch_add(1, Ordering::Relaxed);
    let scn = &ctx.scn;
    let world = World::new(scn);
    let n = world.procs.len();
    let plan = plan(scn, &ctx.steps_bound);
    let state = Arc::new(shuttle::sync::Mutex::new(State {
        world,
        history: Vec::new(),
        steps: vec![0; n],
        plan,
    }));
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let state = Arc::clone(&state);
            let ctx = Arc::clone(ctx);
            shuttle::thread::spawn(move || process(i, &ctx, &state))
        })
        .collect();
    for t in threads {
        t.join().expect("a process thread panicked");
    }
    let st = state.lock().unwrap_or_else(|p| p.into_inner());
    // Every process has ended: INV-5 (and the final pass's own steps).
    let (_, violation) = st.world.final_check(scn);
    if violation.is_some() || ctx.keep_every {
        finish(ctx, st.history.clone(), violation);
    }
}

/// Plans the run's crashes and faults, drawing through `shuttle::rand`.
fn plan(scn: &Scenario, steps_bound: &[u32]) -> Vec<(usize, u32, Planned)> {
    let mut rng = thread_rng();
    let mut plan = Vec::new();
    let mut draw = |rng: &mut shuttle::rand::rngs::ThreadRng, event: Planned| {
        let p = rng.gen_range(0..steps_bound.len());
        let step = rng.gen_range(0..steps_bound[p]);
        plan.push((p, step, event));
    };
    if scn.crashes && !steps_bound.is_empty() {
        for _ in 0..rng.gen_range(0..=CRASHES_MAX) {
            draw(&mut rng, Planned::Crash);
        }
    }
    if scn.faults > 0 && !steps_bound.is_empty() {
        for _ in 0..rng.gen_range(0..=u32::from(scn.faults)) {
            let index = rng.gen_range(0..4);
            draw(&mut rng, Planned::Fault(index));
        }
    }
    plan
}

/// One process: one step per acquisition of the world's mutex.
fn process(i: usize, ctx: &Ctx, state: &shuttle::sync::Mutex<State>) {
    let scn = &ctx.scn;
    let p = u8::try_from(i).expect("processes are named by u8");
    loop {
        let mut guard = state.lock().unwrap_or_else(|e| e.into_inner());
        let st = &mut *guard;
        if !st.world.procs[i].alive() {
            return;
        }
        let step = st.steps[i];
        st.steps[i] += 1;
        let op = st.world.procs[i]
            .program
            .op()
            .expect("a running program has a next step");
        let planned = st
            .plan
            .iter()
            .find(|(q, s, _)| *q == i && *s == step)
            .map(|(_, _, e)| *e);
        let action = match planned {
            Some(Planned::Crash) => Action::Crash(p),
            Some(Planned::Fault(k))
                if st.world.faults_left > 0 && !fault_errnos(&op).is_empty() =>
            {
                let errnos = fault_errnos(&op);
                Action::Fault(p, errnos[k % errnos.len()])
            }
            _ if op == Op::DrawId => Action::Draw(p, thread_rng().gen_range(0..scn.ids)),
            _ => Action::Step(p),
        };
        let counter = match action {
            Action::Crash(_) => &ctx.crashes,
            Action::Fault(..) => &ctx.faults,
            _ => &ctx.steps,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let (record, violation) = st.world.apply(scn, action);
        st.history.push(record);
        if violation.is_some() {
            let history = std::mem::take(&mut st.history);
            drop(guard);
            finish(ctx, history, violation);
        }
    }
}

thread_local! {
    /// Set while a run is in progress on this thread: panics are expected
    /// (they are how a failure stops shuttle) and not printed.
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Hands the execution's end to the runner; a violation then panics, which
/// is how shuttle learns that the execution failed (it stops the run).
fn finish(ctx: &Ctx, history: Vec<Record>, violation: Option<Violation>) {
    let message = violation.as_ref().map(Violation::to_string);
    *ctx.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(Last {
        history,
        violation,
        schedule: current_schedule(),
    });
    if let Some(message) = message {
        panic!("{message}");
    }
}

/// Shuttle's schedule of the current execution so far, serialized as
/// `shuttle::replay` takes it (what shuttle itself prints on a failure).
fn current_schedule() -> String {
    use shuttle_engine::runtime::execution::CurrentSchedule;
    use shuttle_engine::scheduler::serialization::serialize_schedule;
    serialize_schedule(&CurrentSchedule::get_schedule())
}

/// Per process, the bound of the step a crash or fault is planned at: its
/// length in a round-robin run without crashes or faults, plus slack.
fn steps_bound(scn: &Scenario) -> Vec<u32> {
    let mut w = World::new(scn);
    let mut steps = vec![0u32; w.procs.len()];
    let mut taken = 0;
    while !w.is_terminal() && taken < STEPS_MEASURE_MAX {
        for (i, taken_by) in steps.iter_mut().enumerate() {
            if !w.procs[i].alive() {
                continue;
            }
            let p = u8::try_from(i).expect("processes are named by u8");
            let op = w.procs[i].program.op().expect("running");
            // Different ids where the scenario has several, so that creators
            // get as far as they can.
            let action = if op == Op::DrawId {
                Action::Draw(p, p % scn.ids.max(1))
            } else {
                Action::Step(p)
            };
            let _ = w.apply(scn, action);
            *taken_by += 1;
            taken += 1;
        }
    }
    steps
        .iter()
        .map(|&s| (s.max(1) * STEPS_SLACK_PERCENT).div_ceil(100))
        .collect()
}

fn install_quiet_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        // Shuttle installs its own hook (once, on its first execution) around
        // whatever hook is there; run one empty execution first so that
        // ours goes around shuttle's and silences it too.
        Runner::new(RoundRobinScheduler::new(1), Config::new()).run(|| {});
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info);
            }
        }));
    });
}

/// Silences the panic hook on this thread until dropped (restoring what was
/// there, also when unwinding). The hook is process-wide and tests run in
/// parallel, so it is switched per thread rather than swapped.
struct Quiet(bool);

impl Quiet {
    fn on() -> Quiet {
        Quiet(QUIET.with(|q| q.replace(true)))
    }
}

impl Drop for Quiet {
    fn drop(&mut self) {
        QUIET.with(|q| q.set(self.0));
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variants::Variant;

    /// A schedule that is not the scenario's fails loudly, naming the
    /// scenario and carrying a schedule, instead of replaying into some
    /// other history.
    #[test]
    fn a_foreign_schedule_panics_with_the_scenario_and_a_schedule() {
        let scn = Scenario::new(Variant::Reference, 1, 1, 1);
        let broken = Scenario::new(
            Variant::from_name("data-before-lock").expect("variant"),
            3,
            2,
            2,
        );
        let found = run(&broken, Strategy::Random, 100, 1)
            .finding
            .expect("data-before-lock fails");
        let replay = std::panic::catch_unwind(|| replay_schedule(&scn, &found.shuttle_schedule));
        let message = panic_message(&*replay.expect_err("a foreign schedule replayed"));
        assert!(message.contains("panicked outside the oracle"), "{message}");
        assert!(message.contains(&scn.describe()), "{message}");
        // Shuttle's serialized schedules start with their format's magic 0x91.
        assert!(message.contains("shuttle schedule:\n91"), "{message}");
    }

    /// Process lengths from a round-robin run bound the planned steps, with
    /// slack: a creator staging more items is longer.
    #[test]
    fn steps_bound_grows_with_the_work() {
        let mut one = Scenario::new(Variant::Reference, 1, 1, 1);
        one.items = 1;
        let mut three = one.clone();
        three.items = 3;
        let (a, b) = (steps_bound(&one), steps_bound(&three));
        assert_eq!(a.len(), 2);
        assert!(b[0] > a[0], "{a:?} {b:?}");
        assert!(a.iter().all(|&s| s > 1), "{a:?}");
    }
}

//! The default suite of `stagedir check`: every variant under every checker
//! that applies, as data, and its verdict table.

use std::fmt;

use super::bfs::{self, Limits};
use super::random;
use super::oracle::{Invariant, Violation};
use super::scenario::Scenario;
use super::world::Action;
use crate::fs::sim::LockKind;
use crate::variants::Variant;

/// A checker the suite can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Checker {
    /// Breadth-first search over every schedule (crash at every step).
    Exhaustive,
    /// shuttle's random scheduler over a larger scenario.
    ShuttleRandom,
    /// shuttle's PCT scheduler (probabilistic concurrency testing, depth 3).
    ShuttlePct,
}

impl Checker {
    pub const ALL: [Checker; 3] = [Checker::Exhaustive, Checker::ShuttleRandom, Checker::ShuttlePct];

    pub fn name(&self) -> &'static str {
        match self {
            Checker::Exhaustive => "exhaustive",
            Checker::ShuttleRandom => "shuttle-random",
            Checker::ShuttlePct => "shuttle-pct",
        }
    }

    /// Parses a name from [`Checker::name`].
    ///
    /// # Errors
    /// A message listing the valid names.
    pub fn from_name(name: &str) -> Result<Checker, String> {
        Checker::ALL.iter().copied().find(|c| c.name() == name).ok_or_else(|| {
            let names: Vec<_> = Checker::ALL.iter().map(|c| c.name()).collect();
            format!("unknown checker `{name}`; valid checkers: {}", names.join(", "))
        })
    }
}

impl fmt::Display for Checker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The outcome of one checker on one scenario.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub enum Verdict {
    /// Nothing found and the space was covered (exhaustive) or the budget
    /// spent (random).
    Holds,
    /// An invariant broke.
    Violated(Invariant),
    /// The search hit its bound before covering the space.
    Incomplete,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Holds => f.write_str("holds"),
            Verdict::Violated(_) => f.write_str("VIOLATED"),
            Verdict::Incomplete => f.write_str("incomplete"),
        }
    }
}

/// One row of the verdict table.
#[derive(Clone, Debug)]
pub struct Row {
    pub variant: Variant,
    pub checker: Checker,
    pub scenario: Scenario,
    /// States (exhaustive) or schedules (random) explored.
    pub explored: u64,
    pub seconds: f64,
    pub verdict: Verdict,
    /// The shortest (or shrunk) schedule that breaks the invariant.
    pub counterexample: Option<(Vec<Action>, Violation)>,
}

/// What the user narrowed the suite to.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Empty: every variant.
    pub variants: Vec<Variant>,
    /// Empty: every checker.
    pub checkers: Vec<Checker>,
    /// Total processes (creators + recoverers) for the exhaustive search.
    pub processes: Option<u8>,
    pub ids: Option<u8>,
    pub lock_kind: Option<LockKind>,
    /// Schedules per random checker.
    pub iterations: Option<u64>,
    pub seed: Option<u64>,
}

/// The exhaustive scenarios for `variant`: two creators and a recoverer
/// sharing one id; a creator and a recoverer that are threads of one
/// process; one creator and one recoverer with one injected error; two
/// creators and a recoverer with two ids (not for the status mutants). The
/// mount mutant's scenarios are one creator and one recoverer: its mount is
/// in the first creator's item only.
pub fn exhaustive_scenarios(variant: Variant, opts: &Options) -> Vec<Scenario> {
    let ids = opts.ids.unwrap_or(1);
    let mut out = Vec::new();
    let (c, r) = match opts.processes {
        Some(n) if n >= 2 => (n - n / 2, n / 2),
        Some(_) => (1, 0),
        None if variant.forced_mount_in_item() => (1, 1),
        None => (2, 1),
    };
    out.push(Scenario::new(variant, c, r, ids));
    let mut shared = Scenario::new(variant, 1, 1, ids);
    shared.shared_process = true;
    out.push(shared);
    let mut faults = Scenario::new(variant, 1, 1, ids);
    faults.faults = 1;
    out.push(faults);
    // Two ids: instances of different names interleave, and a creator that
    // loses its first id to a recoverer retries with the other. Not for the
    // status mutants: with a status thread (no process symmetry) that
    // search is millions of states, and status reads ids one at a time.
    if opts.ids.is_none() && variant.forced_statuses() == 0 && !variant.forced_mount_in_item() {
        out.push(Scenario::new(variant, 2, 1, 2));
    }
    for s in &mut out {
        if let Some(kind) = opts.lock_kind {
            s.lock_kind = kind;
        }
        *s = s.clone().with_variant_defaults();
    }
    out
}

/// Schedules per random checker in the default suite.
pub const ITERATIONS_DEFAULT: u64 = 10_000;
/// Seed of the random checkers unless `--seed` is given.
pub const SEED_DEFAULT: u64 = 0x5eed;

/// The scenario the random checkers run: larger than the exhaustive search
/// reaches. Three creators staging two items each, two recoverers running
/// two passes, two ids, one injected error; crashes are part of the
/// schedule.
pub fn random_scenario(variant: Variant, opts: &Options) -> Scenario {
    let (c, r) = match opts.processes {
        Some(n) if n >= 2 => (n - n / 2, n / 2),
        Some(_) => (1, 0),
        None => (3, 2),
    };
    let mut s = Scenario::new(variant, c, r, opts.ids.unwrap_or(2));
    s.items = 2;
    s.recover_passes = 2;
    s.faults = 1;
    if let Some(kind) = opts.lock_kind {
        s.lock_kind = kind;
    }
    // The POSIX mutant is only visible to threads of one process.
    if variant.forced_lock_kind().is_some() {
        s.shared_process = true;
    }
    s.with_variant_defaults()
}

/// Runs the suite; `progress` hears about every row as it starts (its
/// index and the total) and about running searches.
pub fn run(opts: &Options, progress: &mut dyn FnMut(Progress<'_>)) -> Vec<Row> {
    let variants = if opts.variants.is_empty() { Variant::all() } else { opts.variants.clone() };
    let checkers = if opts.checkers.is_empty() { Checker::ALL.to_vec() } else { opts.checkers.clone() };
    let mut plan = Vec::new();
    for &v in &variants {
        for &c in &checkers {
            match c {
                Checker::Exhaustive => {
                    plan.extend(exhaustive_scenarios(v, opts).into_iter().map(|s| (v, c, s)));
                }
                Checker::ShuttleRandom | Checker::ShuttlePct => plan.push((v, c, random_scenario(v, opts))),
            }
        }
    }
    let mut total = plan.len();
    let mut rows: Vec<Row> = Vec::with_capacity(total);
    let mut index = 0;
    let mut plan: std::collections::VecDeque<_> = plan.into();
    while let Some((variant, checker, scenario)) = plan.pop_front() {
        progress(Progress::Start { index, total, variant, checker, scenario: &scenario });
        index += 1;
        let row = match checker {
            Checker::Exhaustive => {
                let (stats, cex) = bfs::explore(&scenario, Limits::default(), &mut |s| {
                    progress(Progress::States(s.unique));
                });
                let verdict = match (&cex, stats.complete) {
                    (Some(c), _) => Verdict::Violated(c.violation.invariant),
                    (None, true) => Verdict::Holds,
                    (None, false) => Verdict::Incomplete,
                };
                Row {
                    variant,
                    checker,
                    scenario,
                    explored: stats.unique,
                    seconds: stats.seconds,
                    verdict,
                    counterexample: cex.map(|c| (c.actions, c.violation)),
                }
            }
            Checker::ShuttleRandom | Checker::ShuttlePct => {
                let strategy = if checker == Checker::ShuttlePct {
                    random::Strategy::Pct { depth: 3 }
                } else {
                    random::Strategy::Random
                };
                let iterations = opts.iterations.unwrap_or(ITERATIONS_DEFAULT);
                let out = random::run(&scenario, strategy, iterations, opts.seed.unwrap_or(SEED_DEFAULT));
                let verdict = match &out.finding {
                    Some(f) => Verdict::Violated(f.violation.invariant),
                    None => Verdict::Holds,
                };
                Row {
                    variant,
                    checker,
                    scenario,
                    explored: out.iterations,
                    seconds: out.seconds,
                    verdict,
                    counterexample: out.finding.map(|f| (f.actions, f.violation)),
                }
            }
        };
        rows.push(row);
        // A published protocol's first finding hides the rest: once its
        // planned rows are done, search again past what was found.
        let last_of_variant = plan.front().is_none_or(|(v, c, _)| *v != variant || *c != checker);
        if variant.is_published() && checker == Checker::Exhaustive && last_of_variant {
            if let Some(next) = past_row(variant, &rows, opts) {
                plan.push_front((variant, checker, next));
                total += 1;
            }
        }
    }
    rows
}

/// The next "past" scenario for a published variant: one creator and two
/// recoverers, letting pass every invariant already found broken, unless
/// that was already searched or nothing was found. At most two such rows.
fn past_row(variant: Variant, rows: &[Row], opts: &Options) -> Option<Scenario> {
    let mine: Vec<&Row> = rows.iter().filter(|r| r.variant == variant && r.checker == Checker::Exhaustive).collect();
    let mut found: Vec<Invariant> = mine
        .iter()
        .filter_map(|r| match r.verdict {
            Verdict::Violated(i) => Some(i),
            _ => None,
        })
        .chain(mine.iter().flat_map(|r| r.scenario.past.iter().copied()))
        .collect();
    found.sort();
    found.dedup();
    let searched_past = mine.iter().filter(|r| !r.scenario.past.is_empty()).count();
    if found.is_empty() || searched_past >= 2 || mine.iter().any(|r| r.scenario.past == found) {
        return None;
    }
    let mut s = Scenario::new(variant, 1, 2, opts.ids.unwrap_or(1));
    if let Some(kind) = opts.lock_kind {
        s.lock_kind = kind;
    }
    s.past = found;
    Some(s.with_variant_defaults())
}

/// Progress events for a progress bar.
pub enum Progress<'a> {
    Start { index: usize, total: usize, variant: Variant, checker: Checker, scenario: &'a Scenario },
    States(u64),
}

/// The verdict table as text.
pub fn table(rows: &[Row]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<29} {:<14} {:<46} {:>12} {:>8}  {:<10} invariant",
        "variant", "checker", "scenario", "explored", "seconds", "verdict"
    );
    for r in rows {
        let inv = match &r.verdict {
            Verdict::Violated(i) => i.to_string(),
            _ => "-".to_string(),
        };
        let _ = writeln!(
            s,
            "{:<29} {:<14} {:<46} {:>12} {:>8.2}  {:<10} {}",
            r.variant.name(),
            r.checker.name(),
            r.scenario.describe(),
            r.explored,
            r.seconds,
            r.verdict,
            inv
        );
    }
    s
}

//! Checker throughput on the standard scenario
//! (`Scenario::new(Variant::Reference, 2, 1, 2)`: two creators, one
//! recoverer, two ids, crashes on):
//!
//! - `bfs`: one whole exhaustive search ([`explore`], default
//!   [`Limits`]: all cores, `STAGEDIR_THREADS` to change); the summary
//!   divides the distinct states it reached by the median time of a search.
//! - `bfs_plain`: the same search with its reductions off (no symmetry, no
//!   inode relabelling, no local-step reduction); the summary reports the
//!   ratio of the two medians, the time the reductions save.
//!
//! - `shuttle_random`, `shuttle_pct`: [`random::run`] with
//!   [`Strategy::Random`] and [`Strategy::Pct`] (depth 3, as `stagedir
//!   check` uses it), [`SHUTTLE_ITERATIONS`] schedules a call, a new seed
//!   each call; criterion reports schedules per second.
//! - `fuzz_exec`: the `schedule` fuzz target's body ([`fuzz::check`]) on
//!   [`FUZZ_INPUTS`] inputs that decode to the standard scenario (its six
//!   scenario bytes from [`fuzz::encode`]) followed by 0 to
//!   [`FUZZ_TAIL_MAX`] pseudo-random schedule bytes, as a fuzzer's mutants
//!   of a seed would be; criterion reports executions per second. This is
//!   the target without libFuzzer and without coverage instrumentation, so
//!   an upper bound on what `cargo fuzz run` reaches.
//!
//! A search takes many seconds, so criterion takes its fewest samples (10,
//! one search each).

mod common;

use std::cell::Cell;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use stagedir::check::bfs::{explore, Limits, Stats};
use stagedir::check::fuzz::{self, Target};
use stagedir::check::random::{self, Strategy};
use stagedir::check::scenario::Scenario;
use stagedir::variants::Variant;

use common::{human_ns, Summary};

const GROUP: &str = "checker";

/// Shuttle schedules per timed call.
const SHUTTLE_ITERATIONS: u64 = 1_000;

/// Fuzz inputs per timed call, and the most schedule bytes one carries.
const FUZZ_INPUTS: usize = 1_000;
const FUZZ_TAIL_MAX: usize = 128;

/// Inputs for the fuzz target that decode to the standard scenario, with
/// pseudo-random schedule bytes (xorshift64*, fixed seed).
fn fuzz_inputs(scn: &Scenario) -> Vec<Vec<u8>> {
    let prefix = fuzz::encode(scn, &[], false).expect("the standard scenario has a fuzz encoding");
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    (0..FUZZ_INPUTS)
        .map(|_| {
            let len = (next() % (FUZZ_TAIL_MAX as u64 + 1)) as usize;
            let mut input = prefix.clone();
            input.extend((0..len).map(|_| (next() >> 56) as u8));
            input
        })
        .collect()
}

fn standard() -> Scenario {
    Scenario::new(Variant::Reference, 2, 1, 2)
}

/// The figures of the last search the bench ran.
#[derive(Default)]
struct Seen {
    bfs: Cell<Option<Stats>>,
    bfs_plain: Cell<Option<Stats>>,
}

fn checker(c: &mut Criterion, seen: &Seen) {
    let scn = standard();
    let limits = Limits::default();
    let mut g = c.benchmark_group(GROUP);
    g.sample_size(10).warm_up_time(Duration::from_millis(1)).measurement_time(Duration::from_secs(60));
    g.bench_function("bfs", |b| {
        b.iter(|| {
            let (stats, cex) = explore(black_box(&scn), limits, &mut |_| {});
            assert!(cex.is_none(), "the reference protocol has a counterexample");
            assert!(stats.complete, "the search hit states_max");
            seen.bfs.set(Some(stats));
        })
    });
    let plain = Limits { symmetry: false, local_steps: false, ..limits };
    g.bench_function("bfs_plain", |b| {
        b.iter(|| {
            let (stats, cex) = explore(black_box(&scn), plain, &mut |_| {});
            assert!(cex.is_none(), "the reference protocol has a counterexample");
            assert!(stats.complete, "the search hit states_max");
            seen.bfs_plain.set(Some(stats));
        })
    });

    g.throughput(Throughput::Elements(SHUTTLE_ITERATIONS));
    g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(10));
    for (name, strategy) in [("shuttle_random", Strategy::Random), ("shuttle_pct", Strategy::Pct { depth: 3 })] {
        g.bench_function(name, |b| {
            let mut seed = 0u64;
            b.iter(|| {
                seed += 1;
                let out = random::run(black_box(&scn), strategy, SHUTTLE_ITERATIONS, seed);
                assert!(out.finding.is_none(), "the reference protocol has a violation");
                assert_eq!(out.iterations, SHUTTLE_ITERATIONS, "every schedule ran");
            })
        });
    }

    let inputs = fuzz_inputs(&scn);
    for input in &inputs {
        let run = fuzz::run_bytes(input, false);
        assert_eq!(run.scenario, scn, "a fuzz input decodes to the standard scenario");
        assert!(run.terminal && run.violation.is_none(), "{run:?}");
    }
    g.throughput(Throughput::Elements(FUZZ_INPUTS as u64));
    g.bench_function("fuzz_exec", |b| {
        b.iter(|| {
            for input in &inputs {
                fuzz::check(black_box(input), Target::Schedule);
            }
        })
    });
    g.finish();
}

fn main() {
    let s = Summary::start();
    let seen = Seen::default();
    let mut c = common::criterion();
    checker(&mut c, &seen);
    c.final_summary();

    println!();
    println!("checker summary (medians of this run):");
    if let (Some(ns), Some(stats)) = (s.median_ns(GROUP, "bfs"), seen.bfs.take()) {
        let secs = ns / 1e9;
        println!(
            "  bfs, standard scenario, {} thread(s): {} unique states, {} transitions in {} (median): {:.0} states/s, {:.0} transitions/s",
            Limits::default().threads,
            stats.unique,
            stats.transitions,
            human_ns(ns),
            stats.unique as f64 / secs,
            stats.transitions as f64 / secs
        );
    } else {
        println!("  bfs: not run");
    }
    if let (Some(reduced), Some(plain), Some(stats)) =
        (s.median_ns(GROUP, "bfs"), s.median_ns(GROUP, "bfs_plain"), seen.bfs_plain.take())
    {
        println!(
            "  bfs_plain (no reductions): {} unique states in {} (median); the reductions make the search {:.1}x faster",
            stats.unique,
            human_ns(plain),
            plain / reduced
        );
    }
    for name in ["shuttle_random", "shuttle_pct"] {
        match s.median_ns(GROUP, name) {
            Some(ns) => println!(
                "  {name}, standard scenario: {SHUTTLE_ITERATIONS} schedules in {} (median): {:.0} schedules/s",
                human_ns(ns),
                SHUTTLE_ITERATIONS as f64 / (ns / 1e9)
            ),
            None => println!("  {name}: not run"),
        }
    }
    match s.median_ns(GROUP, "fuzz_exec") {
        Some(ns) => println!(
            "  fuzz_exec, standard scenario: {FUZZ_INPUTS} inputs in {} (median): {:.0} execs/s",
            human_ns(ns),
            FUZZ_INPUTS as f64 / (ns / 1e9)
        ),
        None => println!("  fuzz_exec: not run"),
    }
}

/// The allocator the `stagedir` binary uses (see `src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

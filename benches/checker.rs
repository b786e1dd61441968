//! Checker throughput on the standard scenario
//! (`Scenario::new(Variant::Reference, 2, 1, 2)`: two creators, one
//! recoverer, two ids, crashes on):
//!
//! - `bfs`: one whole exhaustive search ([`explore`], default
//!   [`Limits`]: all cores, `STAGEDIR_THREADS` to change); the summary
//!   divides the distinct states it reached by the median time of a search.
//!
//! - `shuttle_random`, `shuttle_pct`: [`random::run`] with
//!   [`Strategy::Random`] and [`Strategy::Pct`] (depth 3, as `stagedir
//!   check` uses it), [`SHUTTLE_ITERATIONS`] schedules a call, a new seed
//!   each call; criterion reports schedules per second.
//!
//! A search takes many seconds, so criterion takes its fewest samples (10,
//! one search each).

mod common;

use std::cell::Cell;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use stagedir::check::bfs::{explore, Limits, Stats};
use stagedir::check::random::{self, Strategy};
use stagedir::check::scenario::Scenario;
use stagedir::variants::Variant;

use common::{human_ns, Summary};

const GROUP: &str = "checker";

/// Shuttle schedules per timed call.
const SHUTTLE_ITERATIONS: u64 = 1_000;

fn standard() -> Scenario {
    Scenario::new(Variant::Reference, 2, 1, 2)
}

/// The figures of the last search the bench ran.
#[derive(Default)]
struct Seen {
    bfs: Cell<Option<Stats>>,
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
}

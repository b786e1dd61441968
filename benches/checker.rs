//! Checker throughput on the standard scenario
//! (`Scenario::new(Variant::Reference, 2, 1, 2)`: two creators, one
//! recoverer, two ids, crashes on):
//!
//! - `bfs`: one whole exhaustive search ([`explore`], default
//!   [`Limits`]: all cores, `STAGEDIR_THREADS` to change); the summary
//!   divides the distinct states it reached by the median time of a search.
//!
//! A search takes many seconds, so criterion takes its fewest samples (10,
//! one search each).

mod common;

use std::cell::Cell;
use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use stagedir::check::bfs::{explore, Limits, Stats};
use stagedir::check::scenario::Scenario;
use stagedir::variants::Variant;

use common::{human_ns, Summary};

const GROUP: &str = "checker";

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
}

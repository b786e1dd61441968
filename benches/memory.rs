//! Resident memory after 1,000,000 create/stage/cleanup cycles in one
//! process against after 1,000: the library must keep no per-path or per-id
//! state that grows (the leak class containers/storage fixed in 2025).
//! Target (issue 8): within 1 MiB.
//!
//! A measurement, not a timed criterion bench: `cargo bench` runs this
//! `main` and it prints the figures: `VmRSS` and `RssAnon` from
//! `/proc/self/status` (the kernel may drop the executable's file pages
//! from `VmRSS` under memory pressure, so it can shrink; `RssAnon`, the
//! heap and stacks, is where a leak would grow), and the wall and CPU time
//! per cycle (CPU time is what the machine's other load does not inflate).
//!
//! Each cycle is what a store does: create an empty file to delete (the
//! item), create an instance, stage the item, clean up. Environment:
//! `STAGEDIR_BENCH_MEMORY_CYCLES` (default 1,000,000),
//! `STAGEDIR_BENCH_DIR` (default tmpfs, see `common::base_dir`).

mod common;

use std::fs::File;
use std::time::Instant;

use stagedir::StagingRoot;

use common::{cpu_seconds, rss, verdict, Rss, Scratch};

/// Where RSS is read, in cycles done; the first is the baseline.
const CHECKPOINTS: [u64; 4] = [1_000, 10_000, 100_000, 1_000_000];
const GROWTH_MAX_BYTES: u64 = 1 << 20;

fn main() {
    if !common::selected("memory") {
        return;
    }
    let cycles_max: u64 = if common::test_mode() {
        CHECKPOINTS[0]
    } else {
        std::env::var("STAGEDIR_BENCH_MEMORY_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000)
    };
    let scratch = Scratch::new("memory");
    let root = StagingRoot::open(scratch.join("root")).unwrap();
    let item = scratch.join("item");

    println!("memory: {cycles_max} create/stage/cleanup cycles, ROOT on {}", common::fs_type(&scratch.path));
    println!(
        "{:>10}  {:>10}  {:>12}  {:>9}  {:>14}  {:>14}",
        "cycles", "VmRSS KiB", "RssAnon KiB", "seconds", "wall µs/cycle", "cpu µs/cycle"
    );
    let r = rss();
    println!("{:>10}  {:>10}  {:>12}", 0, r.total / 1024, r.anon / 1024);
    let mut readings: Vec<(u64, Rss)> = Vec::new();
    let t = Instant::now();
    let cpu0 = cpu_seconds();
    let mut last = (0u64, 0f64, cpu0);
    for cycle in 1..=cycles_max {
        File::create_new(&item).expect("create the item");
        let mut inst = root.create_instance().expect("create_instance");
        inst.stage(&item).expect("stage");
        inst.cleanup().expect("cleanup");
        if CHECKPOINTS.contains(&cycle) || cycle == cycles_max {
            let r = rss();
            let (secs, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds());
            let n = (cycle - last.0) as f64;
            println!(
                "{cycle:>10}  {:>10}  {:>12}  {secs:>9.1}  {:>14.1}  {:>14.1}",
                r.total / 1024,
                r.anon / 1024,
                (secs - last.1) / n * 1e6,
                (cpu - last.2) / n * 1e6
            );
            readings.push((cycle, r));
            last = (cycle, secs, cpu);
        }
    }
    assert!(root.recover().unwrap().live.is_empty());
    let (Some(&(c0, r0)), Some(&(c1, r1))) = (readings.first(), readings.last()) else { return };
    if c1 <= c0 {
        return;
    }
    for (name, a, b) in [("VmRSS", r0.total, r1.total), ("RssAnon", r0.anon, r1.anon)] {
        let growth = b as i64 - a as i64;
        println!(
            "memory: {name} after {c1} cycles - after {c0} = {growth:+} bytes ({:+.1} KiB); target growth <= 1 MiB: {}",
            growth as f64 / 1024.0,
            verdict(growth <= GROWTH_MAX_BYTES as i64)
        );
    }
}

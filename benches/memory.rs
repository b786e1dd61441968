//! Resident memory after 1,000,000 create/stage/cleanup cycles in one
//! process against after 1,000: the library must keep no per-path or per-id
//! state that grows (the leak class containers/storage fixed in 2025).
//! Target (issue 8): within 1 MiB.
//!
//! A measurement, not a timed criterion bench: `cargo bench` runs this
//! `main` and it prints the figures (RSS from `VmRSS` in
//! `/proc/self/status`, and how long the cycles took).
//!
//! Each cycle is what a store does: create an empty file to delete (the
//! item), create an instance, stage the item, clean up. Environment:
//! `STAGEDIR_BENCH_MEMORY_CYCLES` (default 1,000,000),
//! `STAGEDIR_BENCH_DIR` (default tmpfs, see `common::base_dir`).

mod common;

use std::fs::File;
use std::time::Instant;

use stagedir::StagingRoot;

use common::{rss_bytes, verdict, Scratch};

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
    println!("{:>10}  {:>12}  {:>10}  {:>10}", "cycles", "VmRSS KiB", "seconds", "µs/cycle");
    println!("{:>10}  {:>12}", 0, rss_bytes() / 1024);
    let mut readings: Vec<(u64, u64)> = Vec::new();
    let t = Instant::now();
    let mut last = (0u64, 0f64);
    for cycle in 1..=cycles_max {
        File::create_new(&item).expect("create the item");
        let mut inst = root.create_instance().expect("create_instance");
        inst.stage(&item).expect("stage");
        inst.cleanup().expect("cleanup");
        if CHECKPOINTS.contains(&cycle) || cycle == cycles_max {
            let rss = rss_bytes();
            let secs = t.elapsed().as_secs_f64();
            let per = (secs - last.1) / (cycle - last.0) as f64 * 1e6;
            println!("{cycle:>10}  {:>12}  {secs:>10.1}  {per:>10.1}", rss / 1024);
            readings.push((cycle, rss));
            last = (cycle, secs);
        }
    }
    assert!(root.recover().unwrap().live.is_empty());
    if let (Some(&(c0, r0)), Some(&(c1, r1))) = (readings.first(), readings.last()) {
        if c1 > c0 {
            let growth = r1 as i64 - r0 as i64;
            println!(
                "memory: VmRSS after {c1} cycles - after {c0} = {growth} bytes ({:+.1} KiB); target <= 1 MiB: {}",
                growth as f64 / 1024.0,
                verdict(growth <= GROWTH_MAX_BYTES as i64)
            );
        }
    }
}

//! Recovery when there is nothing to recover: `StagingRoot::recover` on an
//! empty ROOT against the least any recovery must do, a bare
//! `std::fs::read_dir` of an empty directory read to its end. Side by side
//! in one run. Target (issue 8): within 2x.

mod common;

use std::fs;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::Criterion;
use stagedir::StagingRoot;

use common::{human_ns, verdict, Scratch, Summary};

const GROUP: &str = "recover_noop";

/// Pairs of recover and read_dir calls, alternating, for the summary.
const PAIRS: usize = 20_000;

fn recover_noop(c: &mut Criterion, root: &StagingRoot, empty: &Path) {
    // What the timed calls must find: nothing.
    assert_eq!(root.recover().unwrap(), stagedir::Report::default());
    assert_eq!(read_dir(empty), 0);

    let mut g = c.benchmark_group(GROUP);
    g.sample_size(100).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    g.bench_function("recover", |b| b.iter(|| black_box(root.recover().expect("recover"))));
    g.bench_function("read_dir", |b| {
        b.iter(|| black_box(read_dir(black_box(empty))))
    });
    g.finish();
}

/// The bare listing: `std::fs::read_dir` read to its end; how many
/// entries it held.
fn read_dir(dir: &Path) -> usize {
    let mut n = 0;
    for entry in fs::read_dir(dir).expect("read_dir") {
        entry.expect("entry");
        n += 1;
    }
    n
}

fn time(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

fn main() {
    let s = Summary::start();
    let scratch = Scratch::new("recover-noop");
    let root = StagingRoot::open(scratch.join("root")).unwrap();
    let empty = scratch.join("empty");
    fs::create_dir(&empty).unwrap();
    let mut c = common::criterion();
    recover_noop(&mut c, &root, &empty);
    c.final_summary();

    println!();
    println!("recover_noop summary (medians of this run; ROOT on {}):", common::fs_type(&scratch.path));
    let (rec, dir) = (s.median_ns(GROUP, "recover"), s.median_ns(GROUP, "read_dir"));
    let show = |v: Option<f64>| v.map_or_else(|| "not run".to_owned(), human_ns);
    println!("  recover on an empty ROOT: {}", show(rec));
    println!("  read_dir of an empty dir: {}", show(dir));
    if let (Some(r), Some(d)) = (rec, dir) {
        println!("  ratio of the medians {:.2}x", r / d);
    }
    if common::test_mode() || !common::selected(GROUP) {
        return;
    }
    let p = common::paired(
        PAIRS,
        || time(|| drop(black_box(root.recover().expect("recover")))),
        || time(|| {
            black_box(read_dir(black_box(&empty)));
        }),
    );
    println!(
        "  {PAIRS} alternating pairs: recover {}, read_dir {}, median of per-pair ratios {:.2}x; target <= 2x: {}",
        human_ns(p.a_ns),
        human_ns(p.b_ns),
        p.ratio,
        verdict(p.ratio <= 2.0)
    );
}

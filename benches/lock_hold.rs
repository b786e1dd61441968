//! How long the store lock is held to get rid of a tree of 1k, 10k and 100k
//! files, three ways, side by side in one run:
//!
//! - `staging`: create an instance, stage the tree (one rename), release
//!   the lock: the whole protocol path through [`StagingRoot`] and
//!   [`stagedir::RealFs`] (the tree is removed by `cleanup` afterwards,
//!   outside the lock).
//! - `plain`: `std::fs::remove_dir_all` of the tree under the lock.
//! - `floor`: the same work as staging in bare syscalls (rustix): create
//!   and flock one file, one mkdir, one rename of the tree into it.
//!
//! The timed interval is the lock hold: from the return of the store lock's
//! `flock(LOCK_EX)` to the return of its `flock(LOCK_UN)`. Everything else
//! (building trees, cleanup, moving a staged tree back) is outside it:
//! `iter_custom` runs setup and teardown around each timed interval and
//! adds up only the intervals, which is `iter_batched` with per-iteration
//! setup plus a teardown that the timing must not include (cleanup of a
//! 100k tree). The staged tree is real and whole: after each iteration it
//! is renamed back from the instance (rename is O(1) in the tree's size,
//! so reusing it changes nothing the timing sees), and the instance, empty
//! then, is cleaned up. `plain` consumes its tree: it builds a fresh one
//! before each iteration.
//!
//! Targets (issue 8): staging at least 100x shorter than plain at 10k files;
//! staging within 3x of the floor.

mod common;

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use rustix::fs::{FlockOperation, Mode, OFlags, RenameFlags, CWD};
use stagedir::StagingRoot;

use common::{build_tree, human_ns, verdict, Scratch, Summary};

const SIZES: [usize; 3] = [1_000, 10_000, 100_000];
const GROUP: &str = "lock_hold";

/// The store's global lock: a flock(2) on a file beside ROOT (what
/// `stagedir delete` takes).
struct StoreLock(File);

impl StoreLock {
    fn open(path: &Path) -> StoreLock {
        StoreLock(File::options().read(true).write(true).create(true).truncate(false).open(path).unwrap())
    }

    /// Runs `f` holding the lock; returns how long the lock was held and
    /// what `f` returned.
    fn held<R>(&self, f: impl FnOnce() -> R) -> (Duration, R) {
        self.0.lock().expect("store lock");
        let t = Instant::now();
        let r = f();
        self.0.unlock().expect("store unlock");
        (t.elapsed(), r)
    }
}

struct Fixture {
    scratch: Scratch,
    root: StagingRoot,
    store: StoreLock,
}

impl Fixture {
    fn new() -> Fixture {
        let scratch = Scratch::new("lock-hold");
        let root = StagingRoot::open(scratch.join("root")).unwrap();
        let store = StoreLock::open(&scratch.join("root.store-lock"));
        Fixture { scratch, root, store }
    }

    /// The reusable tree of `n` files (built on first use).
    fn kept_tree(&self, n: usize) -> PathBuf {
        let at = self.scratch.join(&format!("tree-{n}"));
        if !at.exists() {
            build_tree(&at, n);
        }
        at
    }
}

/// Counts the regular files below `at`.
fn count_files(at: &Path) -> usize {
    let mut n = 0;
    for e in fs::read_dir(at).unwrap() {
        let e = e.unwrap();
        let kind = e.file_type().unwrap();
        if kind.is_dir() {
            n += count_files(&e.path());
        } else if kind.is_file() {
            n += 1;
        }
    }
    n
}

/// One staging iteration: the lock hold of create + stage + release.
fn staging_once(fx: &Fixture, tree: &Path) -> Duration {
    let (held, (mut inst, to)) = fx.store.held(|| {
        let mut inst = fx.root.create_instance().expect("create_instance");
        let to = inst.stage(tree).expect("stage");
        (inst, to)
    });
    // Outside the lock: put the tree back, clean up the empty instance.
    fs::rename(&to, tree).unwrap();
    inst.cleanup().expect("cleanup");
    held
}

/// One floor iteration: the same work in bare syscalls.
fn floor_once(fx: &Fixture, tree: &Path) -> Duration {
    let lock = fx.scratch.join("floor.lock");
    let data = fx.scratch.join("floor.data");
    let to = data.join("0-tree");
    let (held, fd) = fx.store.held(|| {
        let flags = OFlags::CREATE | OFlags::EXCL | OFlags::RDWR | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::open(&lock, flags, Mode::from_raw_mode(0o600)).unwrap();
        rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive).unwrap();
        rustix::fs::mkdir(&data, Mode::from_raw_mode(0o700)).unwrap();
        rustix::fs::renameat_with(CWD, tree, CWD, &to, RenameFlags::NOREPLACE).unwrap();
        fd
    });
    fs::rename(&to, tree).unwrap();
    fs::remove_dir(&data).unwrap();
    fs::remove_file(&lock).unwrap();
    drop(fd);
    held
}

/// One plain iteration: build a fresh tree (not timed), remove it under
/// the lock.
fn plain_once(fx: &Fixture, n: usize) -> Duration {
    let tree = fx.scratch.join(&format!("plain-{n}"));
    build_tree(&tree, n);
    let (held, r) = fx.store.held(|| fs::remove_dir_all(&tree));
    r.expect("remove_dir_all");
    held
}

fn sum(iters: u64, mut once: impl FnMut() -> Duration) -> Duration {
    (0..iters).map(|_| once()).sum()
}

fn selected(f: &str, n: usize) -> bool {
    common::selected(&format!("{GROUP}/{f}/{n}"))
}

fn lock_hold(c: &mut Criterion, fx: &Fixture) {
    let mut g = c.benchmark_group(GROUP);
    for n in SIZES {
        // Built before timing starts, so criterion's warm-up sees the
        // cost of an iteration and not of the build.
        let tree = (selected("staging", n) || selected("floor", n)).then(|| fx.kept_tree(n));
        // staging and floor: microseconds an iteration; many samples.
        g.sample_size(50).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(2));
        if let Some(tree) = &tree {
            g.bench_with_input(BenchmarkId::new("staging", n), tree, |b, t| b.iter_custom(|i| sum(i, || staging_once(fx, t))));
            g.bench_with_input(BenchmarkId::new("floor", n), tree, |b, t| b.iter_custom(|i| sum(i, || floor_once(fx, t))));
        }
        // plain: each iteration builds and removes a whole tree (seconds
        // at 100k on tmpfs); the fewest samples criterion allows there.
        let (samples, secs) = match n {
            1_000 => (30, 3),
            10_000 => (20, 8),
            _ => (10, 40),
        };
        g.sample_size(samples).warm_up_time(Duration::from_millis(1)).measurement_time(Duration::from_secs(secs));
        g.bench_with_input(BenchmarkId::new("plain", n), &n, |b, &n| b.iter_custom(|i| sum(i, || plain_once(fx, n))));
    }
    g.finish();
}

/// Pairs of staging and floor iterations, alternating, per size.
const PAIRS: usize = 2_000;

fn summary(s: &Summary, fx: &Fixture) {
    println!();
    println!("lock_hold summary (scratch on {}):", common::fs_type(&fx.scratch.path));
    println!("  criterion medians, each bench in turn:");
    println!("{:>10}  {:>12}  {:>12}  {:>12}  {:>13}  {:>13}", "files", "staging", "floor", "plain", "plain/staging", "staging/floor");
    let show = |v: Option<f64>| v.map_or_else(|| "not run".to_owned(), human_ns);
    let show_ratio = |r: Option<f64>| r.map_or_else(|| "-".to_owned(), |r| format!("{r:.1}x"));
    for n in SIZES {
        let get = |f: &str| s.median_ns(GROUP, &format!("{f}/{n}"));
        let (st, fl, pl) = (get("staging"), get("floor"), get("plain"));
        let ratio = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a / b);
        let speedup = ratio(pl, st);
        println!(
            "{n:>10}  {:>12}  {:>12}  {:>12}  {:>13}  {:>13}",
            show(st),
            show(fl),
            show(pl),
            show_ratio(speedup),
            show_ratio(ratio(st, fl))
        );
        if n == 10_000 {
            if let Some(r) = speedup {
                println!("            target plain/staging >= 100x at 10k files: {}", verdict(r >= 100.0));
            }
        }
    }
    if common::test_mode() {
        return;
    }
    println!("  staging against the floor, {PAIRS} alternating pairs per size (median of per-pair ratios):");
    for n in SIZES {
        if !(selected("staging", n) && selected("floor", n)) {
            continue;
        }
        let tree = fx.kept_tree(n);
        let p = common::paired(PAIRS, || staging_once(fx, &tree), || floor_once(fx, &tree));
        println!(
            "{n:>10}  staging {:>10}  floor {:>10}  staging/floor {:.2}x; target <= 3x: {}",
            human_ns(p.a_ns),
            human_ns(p.b_ns),
            p.ratio,
            verdict(p.ratio <= 3.0)
        );
        // Every staging and floor iteration moved this tree and back: it
        // must still be whole.
        assert_eq!(count_files(&tree), n, "the staged tree came back whole");
    }
}

fn main() {
    let s = Summary::start();
    let fx = Fixture::new();
    let mut c = common::criterion();
    lock_hold(&mut c, &fx);
    c.final_summary();
    summary(&s, &fx);
}

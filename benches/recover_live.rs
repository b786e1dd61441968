//! Recovery with 1, 100 and 1,000 live instances held by another process:
//! every pass lists ROOT and, for each id, opens its lock file, finds the
//! lock busy and skips it. The cost per live instance is the slope between
//! 1 and 1,000.
//!
//! The other process is this bench binary run again with
//! `STAGEDIR_BENCH_HOLD_ROOT` and `STAGEDIR_BENCH_HOLD_COUNT` set: it
//! creates that many instances through the API, prints `ready N`, and holds
//! them until its standard input closes, then cleans them up.

mod common;

use std::hint::black_box;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion};
use stagedir::StagingRoot;

use common::{human_ns, Scratch, Summary};

const GROUP: &str = "recover_live";
const COUNTS: [usize; 3] = [1, 100, 1_000];
const ENV_ROOT: &str = "STAGEDIR_BENCH_HOLD_ROOT";
const ENV_COUNT: &str = "STAGEDIR_BENCH_HOLD_COUNT";

/// The helper process: holds `count` instances of `root` until stdin closes.
fn hold(root: &Path, count: usize) {
    let root = StagingRoot::open(root).expect("helper: open ROOT");
    let mut held: Vec<_> = (0..count).map(|_| root.create_instance().expect("helper: create_instance")).collect();
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready {count}").unwrap();
    out.flush().unwrap();
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    for inst in &mut held {
        inst.cleanup().expect("helper: cleanup");
    }
}

/// A helper process holding `count` live instances of `root`.
struct Holder {
    child: Child,
}

impl Holder {
    fn spawn(root: &Path, count: usize) -> Holder {
        let exe = std::env::current_exe().unwrap();
        let mut child = Command::new(exe)
            .env(ENV_ROOT, root)
            .env(ENV_COUNT, count.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the holder process");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), format!("ready {count}"), "holder did not get ready");
        Holder { child }
    }

    /// Closes its stdin: it cleans up and exits.
    fn finish(mut self) {
        drop(self.child.stdin.take());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "holder exited {status}");
    }
}

#[track_caller]
fn assert_all_live(root: &StagingRoot, count: usize) {
    let report = root.recover().unwrap();
    assert_eq!(report.live.len(), count, "live instances seen by recover");
    assert!(report.reclaimed.is_empty() && report.errors.is_empty(), "{report:?}");
}

fn recover_live(c: &mut Criterion, scratch: &Scratch) {
    let mut g = c.benchmark_group(GROUP);
    g.sample_size(50).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    for count in COUNTS {
        let path = scratch.join(&format!("root-{count}"));
        let root = StagingRoot::open(&path).unwrap();
        let holder = Holder::spawn(root.path(), count);
        assert_all_live(&root, count);
        g.bench_with_input(BenchmarkId::new("recover", count), &count, |b, _| {
            b.iter(|| black_box(root.recover().expect("recover")))
        });
        // Nothing was reclaimed from under the holder.
        assert_all_live(&root, count);
        holder.finish();
        assert!(root.recover().unwrap().live.is_empty(), "the holder cleaned up");
    }
    g.finish();
}

fn main() {
    if let (Some(root), Some(count)) = (std::env::var_os(ENV_ROOT), std::env::var_os(ENV_COUNT)) {
        let count = count.to_str().and_then(|c| c.parse().ok()).expect("holder count");
        hold(Path::new(&root), count);
        return;
    }
    let s = Summary::start();
    let scratch = Scratch::new("recover-live");
    let mut c = common::criterion();
    recover_live(&mut c, &scratch);
    c.final_summary();

    println!();
    println!("recover_live summary (medians of this run; ROOT on {}):", common::fs_type(&scratch.path));
    let m: Vec<Option<f64>> = COUNTS.iter().map(|n| s.median_ns(GROUP, &format!("recover/{n}"))).collect();
    for (n, v) in COUNTS.iter().zip(&m) {
        println!("  {n:>5} live: {}", v.map_or_else(|| "not run".to_owned(), human_ns));
    }
    let (first, last) = (COUNTS[0], COUNTS[COUNTS.len() - 1]);
    if let (Some(a), Some(b)) = (m[0], m[m.len() - 1]) {
        println!("  per live instance (slope {first}..{last}): {}", human_ns((b - a) / (last - first) as f64));
    }
}

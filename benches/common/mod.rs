//! Helpers shared by the benches: scratch directories, trees to delete,
//! the criterion configuration, and the closing summary that reads back the
//! medians criterion measured in this run.
//!
//! Each bench file uses some of these; the rest are dead code there.
#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use criterion::Criterion;

/// Files per directory in a bench tree.
pub const FILES_PER_DIR: usize = 100;

/// Bytes written to each file of a bench tree (a small real file: on ext4
/// it takes a data block that removal frees).
pub const FILE_BYTES: usize = 64;

/// Where scratch directories go: `STAGEDIR_BENCH_DIR`, else tmpfs
/// (`/dev/shm`) when the machine has it, else the temporary directory.
/// tmpfs keeps the disk's noise out: plain removal is then as fast as it
/// can be, so a ratio against it is a lower bound.
pub fn base_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("STAGEDIR_BENCH_DIR") {
        return PathBuf::from(dir);
    }
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// The filesystem type of `path` as `/proc/self/mounts` names it (the
/// longest mount point that is a prefix of `path`).
pub fn fs_type(path: &Path) -> String {
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let mut best: Option<(usize, String)> = None;
    for line in mounts.lines() {
        let mut f = line.split_whitespace();
        let (Some(_dev), Some(at), Some(kind)) = (f.next(), f.next(), f.next()) else { continue };
        if path.starts_with(at) && best.as_ref().is_none_or(|(len, _)| at.len() > *len) {
            best = Some((at.len(), kind.to_owned()));
        }
    }
    best.map_or_else(|| "?".to_owned(), |(_, k)| k)
}

/// A scratch directory removed (plainly) when dropped.
pub struct Scratch {
    pub path: PathBuf,
}

impl Scratch {
    /// `BASE/stagedir-bench-NAME-PID`, made fresh.
    pub fn new(name: &str) -> Scratch {
        let base = base_dir();
        let path = base.join(format!("stagedir-bench-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        eprintln!("scratch: {} ({})", path.display(), fs_type(&path));
        Scratch { path }
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Builds a tree of `files` regular files at `at` (which must not exist):
/// `at/dK/fJ`, [`FILES_PER_DIR`] files a directory, [`FILE_BYTES`] each.
/// Returns how many entries it made below `at` (files and directories).
pub fn build_tree(at: &Path, files: usize) -> usize {
    fs::create_dir(at).unwrap_or_else(|e| panic!("mkdir {}: {e}", at.display()));
    let content = [b'x'; FILE_BYTES];
    let mut entries = 0;
    let mut dir = PathBuf::new();
    for i in 0..files {
        if i % FILES_PER_DIR == 0 {
            dir = at.join(format!("d{}", i / FILES_PER_DIR));
            fs::create_dir(&dir).unwrap();
            entries += 1;
        }
        let mut f = fs::File::create_new(dir.join(format!("f{i}"))).unwrap();
        f.write_all(&content).unwrap();
        entries += 1;
    }
    entries
}

/// Resident memory of this process in bytes, from `/proc/self/status`.
#[derive(Clone, Copy, Debug)]
pub struct Rss {
    /// `VmRSS`: all resident pages, the executable's and libraries' file
    /// pages included (which the kernel may drop and read back at will).
    pub total: u64,
    /// `RssAnon`: resident anonymous pages (heap, stacks): where a leak
    /// shows.
    pub anon: u64,
}

pub fn rss() -> Rss {
    let status = fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let field = |name: &str| -> u64 {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("no {name} line"));
        let kib: u64 = line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("a number of kB");
        kib * 1024
    };
    Rss { total: field("VmRSS:"), anon: field("RssAnon:") }
}

/// CPU time (user + system) this process has used, in seconds, from
/// `/proc/self/stat` (in USER_HZ clock ticks: 100 a second on Linux,
/// fixed by the kernel's ABI for that file).
pub fn cpu_seconds() -> f64 {
    let stat = fs::read_to_string("/proc/self/stat").expect("read /proc/self/stat");
    // Fields after the command name, which is in parentheses and may hold
    // spaces: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    const USER_HZ: f64 = 100.0;
    ticks as f64 / USER_HZ
}

/// Where criterion writes its results: `CRITERION_HOME`, else
/// `CARGO_TARGET_DIR/criterion`, else `target/criterion` (cargo runs a
/// bench in the package root).
pub fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
    target.join("criterion")
}

/// Criterion with its output where [`Summary`] reads it, then the command
/// line (`cargo bench -- FILTER` etc.).
pub fn criterion() -> Criterion {
    Criterion::default().output_directory(&criterion_dir()).configure_from_args()
}

/// Whether a filter on the command line (`cargo bench -- FILTER`) selects
/// `name`: no filter selects everything.
pub fn selected(name: &str) -> bool {
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()))
}

/// True under `cargo test --benches` / `cargo bench -- --test` (run once,
/// briefly, as a smoke test).
pub fn test_mode() -> bool {
    std::env::args().any(|a| a == "--test")
}

/// Reads back the medians criterion measured in this process's run, for the
/// closing summary. A result older than this process (left by an earlier
/// run, the bench filtered out now) reads as `None`.
pub struct Summary {
    started: SystemTime,
}

impl Summary {
    pub fn start() -> Summary {
        Summary { started: SystemTime::now() }
    }

    /// The median time of one iteration of `group/id`, in nanoseconds.
    pub fn median_ns(&self, group: &str, id: &str) -> Option<f64> {
        let mut path = criterion_dir().join(group);
        for part in id.split('/') {
            path.push(part);
        }
        let path = path.join("new").join("estimates.json");
        let modified = fs::metadata(&path).and_then(|m| m.modified()).ok()?;
        if modified < self.started {
            return None;
        }
        let doc: serde_json::Value = serde_json::from_str(&fs::read_to_string(&path).ok()?).ok()?;
        doc["median"]["point_estimate"].as_f64()
    }
}

/// Runs `a` and `b` alternately, `pairs` times each, and returns the
/// median of `a`, the median of `b`, and the median of the per-pair ratios
/// `a / b`: a ratio that load changing over the run (other processes on the
/// machine) cannot skew, since both sides of a pair see the same moment.
pub fn paired(pairs: usize, mut a: impl FnMut() -> Duration, mut b: impl FnMut() -> Duration) -> Paired {
    let mut ta = Vec::with_capacity(pairs);
    let mut tb = Vec::with_capacity(pairs);
    let mut ratios = Vec::with_capacity(pairs);
    for i in 0..pairs {
        // Alternate which side goes first, so neither always runs warm.
        let (x, y) = if i % 2 == 0 {
            let x = a();
            (x, b())
        } else {
            let y = b();
            (a(), y)
        };
        ta.push(x.as_secs_f64() * 1e9);
        tb.push(y.as_secs_f64() * 1e9);
        ratios.push(x.as_secs_f64() / y.as_secs_f64().max(1e-12));
    }
    Paired { a_ns: median(&mut ta), b_ns: median(&mut tb), ratio: median(&mut ratios), pairs }
}

/// What [`paired`] measured.
#[derive(Clone, Copy, Debug)]
pub struct Paired {
    pub a_ns: f64,
    pub b_ns: f64,
    /// The median of the per-pair ratios a/b.
    pub ratio: f64,
    pub pairs: usize,
}

pub fn median(v: &mut [f64]) -> f64 {
    assert!(!v.is_empty(), "median of nothing");
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// A duration in nanoseconds, in the unit that reads best.
pub fn human_ns(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.3} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// "met" or "NOT met".
pub fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "NOT met"
    }
}

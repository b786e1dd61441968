//! Multi-process crash test: owner processes loop create / stage / verify /
//! cleanup and recoverer processes loop recover, all on one ROOT, while this
//! test SIGKILLs random ones of them at random moments and respawns them.
//! At the end one recovery runs with no worker alive.
//!
//! Environment (both optional):
//! - `STAGEDIR_CRASH_SECS`: how long to run (default 45);
//! - `STAGEDIR_CRASH_KILLS`: the least number of kills (default 200); the
//!   mean pause between kills is chosen to give about twice that.
//!
//! What is asserted, and why it is sound despite the kills (the event log's
//! line order is the order of its O_APPEND writes; see `stagedir worker`):
//! - no worker found its staged items touched (no `VIOLATION` line, no
//!   process exited by itself);
//! - every item whose stage had to fail is intact at the end (each is
//!   logged before its stage is tried, so a kill cannot hide one);
//! - no id had two owners: each logged ownership interval is inside the
//!   real one (`own` after acquiring, `release` before letting go), and a
//!   killed owner's interval is closed at its own last log line, when it
//!   was certainly alive and still owning. Overlaps among these intervals
//!   are real double ownership; the check can miss an overlap, never invent
//!   one;
//! - ROOT is empty after the final recovery, and the canary that every
//!   staged tree links to is intact (removal never followed a link).

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_stagedir");
const OWNERS: usize = 3;
const RECOVERERS: usize = 2;

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v.parse().unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

/// A 64-bit LCG (Knuth's MMIX constants), seeded from getrandom.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}

struct Harness {
    dir: PathBuf,
    root: PathBuf,
    log: PathBuf,
    canary: PathBuf,
    other_fs: Option<PathBuf>,
    spawned: u64,
}

struct Proc {
    child: Child,
    role: &'static str,
    out: PathBuf,
}

impl Harness {
    fn spawn(&mut self, role: &'static str) -> Proc {
        self.spawned += 1;
        let n = self.spawned;
        let out = self.dir.join(format!("out/{n}-{role}.txt"));
        let mut cmd = Command::new(BIN);
        cmd.arg("worker")
            .arg("--role")
            .arg(role)
            .arg("--root")
            .arg(&self.root)
            .arg("--work")
            .arg(self.dir.join(format!("work/{n}")))
            .arg("--log")
            .arg(&self.log)
            .arg("--canary")
            .arg(&self.canary)
            .stdin(Stdio::null())
            .stdout(fs::File::create(&out).unwrap())
            .stderr(fs::File::create(out.with_extension("err")).unwrap());
        if let Some(o) = &self.other_fs {
            cmd.arg("--other-fs").arg(o);
        }
        Proc { child: cmd.spawn().unwrap(), role, out }
    }

    fn note(&self, line: &str) {
        let mut f = fs::File::options().append(true).open(&self.log).unwrap();
        f.write_all(format!("{line}\n").as_bytes()).unwrap();
    }
}

fn other_filesystem(than: &Path) -> Option<tempfile::TempDir> {
    use std::os::unix::fs::MetadataExt;
    let dev = fs::metadata(than).ok()?.dev();
    ["/dev/shm", "/tmp", "/var/tmp", "/run"].iter().find_map(|c| {
        let d = tempfile::tempdir_in(c).ok()?;
        (fs::metadata(d.path()).ok()?.dev() != dev).then_some(d)
    })
}

/// One parsed log line: kind, id (None for `-`), pid, rest.
struct Event {
    kind: String,
    id: Option<String>,
    pid: u32,
    rest: String,
}

fn parse(log: &str) -> Vec<Event> {
    log.lines()
        .map(|l| {
            let mut parts = l.splitn(4, ' ');
            let kind = parts.next().unwrap().to_owned();
            let id = parts.next().unwrap_or("-");
            let pid = parts.next().unwrap_or("0").parse().unwrap_or(0);
            let rest = parts.next().unwrap_or("").to_owned();
            Event { kind, id: (id != "-").then(|| id.to_owned()), pid, rest }
        })
        .collect()
}

/// Logged ownership intervals `(start line, end line, pid)` per id.
fn intervals(events: &[Event]) -> BTreeMap<String, Vec<(usize, usize, u32)>> {
    let mut last_line: HashMap<u32, usize> = HashMap::new();
    for (i, e) in events.iter().enumerate() {
        last_line.insert(e.pid, i);
    }
    let mut open: HashMap<(String, u32), usize> = HashMap::new();
    let mut out: BTreeMap<String, Vec<(usize, usize, u32)>> = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        let Some(id) = &e.id else { continue };
        match e.kind.as_str() {
            "own" => {
                let prev = open.insert((id.clone(), e.pid), i);
                assert!(prev.is_none(), "line {i}: pid {} owns {id} twice", e.pid);
            }
            "release" => {
                if let Some(start) = open.remove(&(id.clone(), e.pid)) {
                    out.entry(id.clone()).or_default().push((start, i, e.pid));
                }
            }
            _ => {}
        }
    }
    // Never released (killed, or still owning at its last line): closed at
    // that process's last line, when it was alive and owned the id.
    for ((id, pid), start) in open {
        out.entry(id).or_default().push((start, last_line[&pid], pid));
    }
    out
}

#[test]
fn sigkilled_workers_and_recoverers_never_share_an_id_or_lose_an_item() {
    let secs = env_u64("STAGEDIR_CRASH_SECS", 45);
    let kills_min = env_u64("STAGEDIR_CRASH_KILLS", 200);
    let tmp = tempfile::tempdir().unwrap();
    let other = other_filesystem(tmp.path());
    if other.is_none() {
        println!("note: no second filesystem found; workers stage no EXDEV items");
    }
    let mut h = Harness {
        dir: tmp.path().to_path_buf(),
        root: tmp.path().join("root"),
        log: tmp.path().join("events.log"),
        canary: tmp.path().join("canary"),
        other_fs: other.as_ref().map(|d| d.path().to_path_buf()),
        spawned: 0,
    };
    fs::create_dir(tmp.path().join("out")).unwrap();
    fs::create_dir(tmp.path().join("work")).unwrap();
    fs::write(&h.canary, b"canary").unwrap();
    fs::File::create(&h.log).unwrap();
    let mut seed = [0u8; 8];
    getrandom::fill(&mut seed).unwrap();
    let mut rng = Lcg(u64::from_le_bytes(seed));
    println!("crash test: seed {:#x}, {secs} s, at least {kills_min} kills", rng.0);

    // Owners create ROOT (concurrently: open_root tolerates EEXIST). A
    // recoverer never creates it and reports ENOENT as an error, so the
    // recoverers start once ROOT exists; no kill happens before that.
    let mut procs: Vec<Proc> = (0..OWNERS).map(|_| h.spawn("owner")).collect();
    let waited = Instant::now();
    while !h.root.is_dir() {
        assert!(waited.elapsed() < Duration::from_secs(60), "no owner created {} within 60 s", h.root.display());
        std::thread::sleep(Duration::from_millis(5));
    }
    procs.extend((0..RECOVERERS).map(|_| h.spawn("recoverer")));
    let mean_pause_ms = (secs * 1000 / (kills_min * 2)).max(1);
    let start = Instant::now();
    let mut kills = 0u64;
    let mut exited_by_themselves = Vec::new();
    while start.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_millis(rng.below(2 * mean_pause_ms)));
        for p in &mut procs {
            if let Some(status) = p.child.try_wait().unwrap() {
                exited_by_themselves.push(format!("{} {} ({})", p.role, status, p.out.display()));
                let role = p.role;
                *p = h.spawn(role);
            }
        }
        let victim = &mut procs[rng.below((OWNERS + RECOVERERS) as u64) as usize];
        let pid = victim.child.id();
        victim.child.kill().unwrap(); // SIGKILL
        victim.child.wait().unwrap();
        kills += 1;
        h.note(&format!("killed - 0 {pid}"));
        let role = victim.role;
        *victim = h.spawn(role);
    }
    for p in &mut procs {
        p.child.kill().unwrap();
        p.child.wait().unwrap();
    }
    let elapsed = start.elapsed();

    // The final recovery, with no worker alive.
    let out = Command::new(BIN).arg("--json").arg("recover").arg(&h.root).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "final recover: {stdout} {}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["report"]["errors"].as_array().unwrap().len(), 0, "{doc}");
    assert_eq!(doc["report"]["live"].as_array().unwrap().len(), 0, "{doc}");

    let log = fs::read_to_string(&h.log).unwrap();
    let events = parse(&log);
    let count = |kind: &str| events.iter().filter(|e| e.kind == kind).count();
    println!(
        "crash test: {kills} kills in {:.1} s; {} processes; {} instances cleaned, {} reclaimed by recoverers, \
         {} by the final pass; {} failing stages checked",
        elapsed.as_secs_f64(),
        h.spawned,
        count("cleaned"),
        count("reclaimed"),
        doc["report"]["reclaimed"].as_array().unwrap().len(),
        count("stage-failed"),
    );

    let violations: Vec<_> = log.lines().filter(|l| l.starts_with("VIOLATION") || l.starts_with("error")).collect();
    assert!(violations.is_empty(), "{violations:#?}");
    assert!(exited_by_themselves.is_empty(), "{exited_by_themselves:#?}");

    // No id ever had two owners.
    let mut checked = 0;
    for (id, mut spans) in intervals(&events) {
        spans.sort();
        for w in spans.windows(2) {
            let ((s1, e1, p1), (s2, e2, p2)) = (w[0], w[1]);
            assert!(e1 <= s2, "id {id}: pid {p1} owned it over lines {s1}..{e1} and pid {p2} from line {s2}..{e2}");
        }
        checked += spans.len();
    }

    // No item whose stage had to fail was lost.
    let mut must_fail = 0;
    for e in events.iter().filter(|e| e.kind == "must-fail") {
        let (token, path) = e.rest.split_once(' ').unwrap();
        assert_eq!(fs::read_to_string(path).unwrap(), token, "{path}");
        must_fail += 1;
    }

    let left: Vec<_> = fs::read_dir(&h.root).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "ROOT not empty after the final recovery: {left:?}");
    assert_eq!(fs::read(&h.canary).unwrap(), b"canary");

    // The run exercised what it claims to.
    assert!(kills >= kills_min, "only {kills} kills in {secs} s");
    assert!(count("cleaned") >= 10, "owners made no progress");
    assert!(count("stage-failed") >= 1 && must_fail >= 1, "no failing stage was tried");
    assert!(events.iter().any(|e| e.kind == "own" && e.rest == "recoverer"), "recoverers reclaimed nothing");
    assert!(checked >= 10, "only {checked} ownership intervals");
}

//! `stagedir worker` (hidden): one process of the multi-process crash test
//! (tests/crash.rs), which kills these processes with SIGKILL at random.
//!
//! Every event goes to one shared log opened with `O_APPEND`, one write(2)
//! per line, so the file's line order is the order in which the writes
//! happened. Lines: `KIND ID PID [REST]`, `ID` being 32 hex digits or `-`.
//!
//! Ownership is logged so that a logged interval lies inside the real one:
//! `own` after the lock is verified (create returned, or the recovery
//! machine's `owned()` turned on), `release` before the operation that ends
//! it (the lock file's unlink, or, when a recovery gives an id up after a
//! failure, before its close). Two overlapping logged intervals of one id
//! are therefore two real owners at once.
//!
//! - `--role owner`: loop { make small trees; create an instance (`own`);
//!   stage them (`stage`, `staged`); now and then stage an item that must
//!   fail (a name too long for `<n>-<name>`, or, with `--other-fs`, an item
//!   on another filesystem) and check it is untouched (`stage-failed`);
//!   verify every staged item twice with pauses between (`verified`); clean
//!   up (`release` by the backend wrapper, then `cleaned`) }.
//! - `--role recoverer`: loop { one recovery pass, driving the machine step
//!   by step to log `own`/`release`; `reclaimed` per id }.
//!
//! A check that fails logs `VIOLATION ...` and exits 3; an unexpected error
//! logs `error ...` and exits 2.

use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use stagedir::fs::{id_hex, Errno, Fs, Id, Op, OpResult};
use stagedir::protocol::layout::{classify, lock_path, Name};
use stagedir::protocol::recover::Recover;
use stagedir::protocol::{Config, Machine};
use stagedir::{Options, RealFs, StagingRoot};

use super::output::Global;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Role {
    Owner,
    Recoverer,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long)]
    root: PathBuf,
    /// This process's scratch directory (created).
    #[arg(long)]
    work: PathBuf,
    /// The shared event log (appended to).
    #[arg(long)]
    log: PathBuf,
    /// A file every staged tree links to; cleanup must never follow the link.
    #[arg(long)]
    canary: PathBuf,
    #[arg(long, value_enum, default_value = "owner")]
    role: Role,
    /// A directory on another filesystem than ROOT, for EXDEV stages.
    #[arg(long)]
    other_fs: Option<PathBuf>,
    /// Iterations before exiting 0; 0 runs until killed.
    #[arg(long, default_value_t = 0)]
    iterations: u64,
}

/// The shared append-only event log.
struct Log {
    file: File,
    pid: u32,
}

impl Log {
    fn line(&self, kind: &str, id: Option<Id>, rest: &str) {
        let id = id.map_or_else(|| "-".to_owned(), id_hex);
        let line = format!("{kind} {id} {} {rest}\n", self.pid);
        // One write(2) on an O_APPEND file: the line lands whole, in order.
        (&self.file).write_all(line.as_bytes()).expect("write to the event log");
    }

    fn violation(&self, id: Option<Id>, what: &str) -> ExitCode {
        self.line("VIOLATION", id, what);
        ExitCode::from(3)
    }

    fn error(&self, id: Option<Id>, what: &str) -> ExitCode {
        self.line("error", id, what);
        ExitCode::from(2)
    }
}

/// Logs `release` before every unlink of a lock file in ROOT.
struct LogFs {
    inner: RealFs,
    log: Arc<Log>,
    root: PathBuf,
}

impl Fs for LogFs {
    fn execute(&mut self, op: &Op) -> OpResult {
        if let Op::Unlink { path } = op {
            if path.parent() == Some(self.root.as_path()) {
                if let Some(Name::Lock(id)) = path.file_name().and_then(|n| n.to_str()).map(classify) {
                    self.log.line("release", Some(id), "");
                }
            }
        }
        self.inner.execute(op)
    }
}

/// xorshift64*: the worker's source of random pauses and sizes.
struct Rng(u64);

impl Rng {
    fn new() -> Self {
        let mut seed = getrandom::u64().unwrap_or(0x9e37_79b9_7f4a_7c15);
        seed |= 1;
        Rng(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }

    fn pause(&mut self, max_us: u64) {
        std::thread::sleep(Duration::from_micros(self.below(max_us)));
    }
}

/// A small tree whose every file holds `token`; `canary-link` points at
/// the canary.
fn make_item(at: &Path, token: &str, canary: &Path) -> std::io::Result<()> {
    fs::create_dir_all(at.join("s"))?;
    for f in 0..3 {
        fs::write(at.join(format!("f{f}")), format!("{token}:{f}"))?;
    }
    fs::write(at.join("s/g"), format!("{token}:g"))?;
    std::os::unix::fs::symlink(canary, at.join("canary-link"))
}

/// `None` when the tree at `at` is exactly what [`make_item`] made.
fn check_item(at: &Path, token: &str, canary: &Path) -> Option<String> {
    let read = |p: PathBuf| fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()));
    for f in 0..3 {
        match read(at.join(format!("f{f}"))) {
            Ok(s) if s == format!("{token}:{f}") => {}
            Ok(s) => return Some(format!("{}/f{f} holds {s:?}", at.display())),
            Err(e) => return Some(e),
        }
    }
    match read(at.join("s/g")) {
        Ok(s) if s == format!("{token}:g") => {}
        Ok(s) => return Some(format!("{}/s/g holds {s:?}", at.display())),
        Err(e) => return Some(e),
    }
    match fs::read_link(at.join("canary-link")) {
        Ok(t) if t == canary => None,
        Ok(t) => Some(format!("{}/canary-link points to {}", at.display(), t.display())),
        Err(e) => Some(format!("{}/canary-link: {e}", at.display())),
    }
}

impl Args {
    pub fn run(self, g: &Global) -> ExitCode {
        let file = match File::options().append(true).create(true).open(&self.log) {
            Ok(f) => f,
            Err(e) => return g.fail_io("cannot open the event log", &self.log, &e),
        };
        let log = Arc::new(Log { file, pid: std::process::id() });
        if let Err(e) = fs::create_dir_all(&self.work) {
            return log.error(None, &format!("mkdir {}: {e}", self.work.display()));
        }
        let root = std::path::absolute(&self.root).unwrap_or(self.root.clone());
        log.line("start", None, &format!("{:?}", self.role).to_lowercase());
        match self.role {
            Role::Owner => self.owner(&root, &log),
            Role::Recoverer => self.recoverer(&root, &log),
        }
    }

    fn owner(&self, root_path: &Path, log: &Arc<Log>) -> ExitCode {
        let fs = LogFs { inner: RealFs::new(), log: Arc::clone(log), root: root_path.to_path_buf() };
        let root = match StagingRoot::open_with(root_path, fs, Options::default()) {
            Ok(r) => r,
            Err(e) => return log.error(None, &e.to_string()),
        };
        let mut rng = Rng::new();
        let pid = log.pid;
        let mut k = 0u64;
        while self.iterations == 0 || k < self.iterations {
            k += 1;
            let count = 1 + rng.below(3);
            let mut items = Vec::new();
            for j in 0..count {
                let token = format!("{pid}:{k}:{j}");
                let at = self.work.join(format!("i{k}-{j}"));
                if let Err(e) = make_item(&at, &token, &self.canary) {
                    return log.error(None, &format!("make {}: {e}", at.display()));
                }
                items.push((at, token));
            }
            let mut inst = match root.create_instance() {
                Ok(i) => i,
                Err(e) => return log.error(None, &format!("create: {e}")),
            };
            let id = inst.id();
            log.line("own", Some(id), "");
            let mut staged = Vec::new();
            for (at, token) in &items {
                log.line("stage", Some(id), &at.display().to_string());
                match inst.stage(at) {
                    Ok(to) => {
                        log.line("staged", Some(id), &to.display().to_string());
                        staged.push((to, token));
                    }
                    Err(e) => return log.error(Some(id), &format!("stage: {e}")),
                }
                rng.pause(500);
            }
            if k.is_multiple_of(4) {
                if let Some(code) = self.stage_must_fail(&mut inst, k, &mut rng, log) {
                    return code;
                }
            }
            for round in 0..2 {
                rng.pause(3000);
                for (to, token) in &staged {
                    if let Some(what) = check_item(to, token, &self.canary) {
                        return log.violation(Some(id), &format!("staged item touched (check {round}): {what}"));
                    }
                }
            }
            log.line("verified", Some(id), &staged.len().to_string());
            if let Err(e) = inst.cleanup() {
                return log.error(Some(id), &format!("cleanup: {e}"));
            }
            log.line("cleaned", Some(id), "");
        }
        ExitCode::SUCCESS
    }

    /// Stages an item that must fail and checks that it is untouched.
    fn stage_must_fail(
        &self,
        inst: &mut stagedir::Instance<LogFs>,
        k: u64,
        rng: &mut Rng,
        log: &Log,
    ) -> Option<ExitCode> {
        let id = Some(inst.id());
        let token = format!("{}:{k}:failing", log.pid);
        let (at, want) = match &self.other_fs {
            Some(dir) if rng.below(2) == 0 => (dir.join(format!("x{}-{k}", log.pid)), Errno::EXDEV),
            // "<n>-" + 254 bytes exceeds NAME_MAX (255).
            _ => (self.work.join(format!("{:x<254}", format!("long{k}-"))), Errno::ENAMETOOLONG),
        };
        if let Err(e) = fs::write(&at, &token) {
            return Some(log.error(id, &format!("write {}: {e}", at.display())));
        }
        let ino = fs::metadata(&at).map(|m| m.ino()).unwrap_or(0);
        // Logged before the attempt, so the parent checks the item even if
        // this process is killed before it can record the outcome.
        log.line("must-fail", id, &format!("{token} {}", at.display()));
        match inst.stage(&at) {
            Ok(to) => Some(log.violation(id, &format!("stage of {} should fail, went to {}", at.display(), to.display()))),
            Err(e) if e.errno() != want => Some(log.error(id, &format!("expected {want}: {e}"))),
            Err(e) => {
                let same = fs::metadata(&at).map(|m| m.ino()).ok() == Some(ino)
                    && fs::read_to_string(&at).ok().as_deref() == Some(token.as_str());
                if !same {
                    return Some(log.violation(id, &format!("failed stage touched {}", at.display())));
                }
                log.line("stage-failed", id, &format!("{} {}", e.errno().name().unwrap_or("?"), at.display()));
                None
            }
        }
    }

    fn recoverer(&self, root: &Path, log: &Log) -> ExitCode {
        let mut fs = RealFs::new();
        let mut rng = Rng::new();
        let mut pass = 0u64;
        while self.iterations == 0 || pass < self.iterations {
            pass += 1;
            let mut m = Recover::new(root.to_path_buf(), Config::reference());
            let mut logged: Option<Id> = None;
            while let Some(op) = m.op() {
                // The lock file's unlink ends ownership: log before it.
                if let (Some(x), Op::Unlink { path }) = (logged, &op) {
                    if *path == lock_path(root, x) {
                        log.line("release", Some(x), "");
                        logged = None;
                    }
                }
                let r = fs.execute(&op);
                m.feed(r);
                let now = m.owned();
                if now != logged {
                    if let Some(x) = logged {
                        // Gave the id up after a failure; its close comes next.
                        log.line("release", Some(x), "after-failure");
                    }
                    if let Some(y) = now {
                        log.line("own", Some(y), "recoverer");
                    }
                    logged = now;
                }
            }
            let report = match m.finish() {
                Ok(r) => r,
                Err(e) => return log.error(None, &format!("recover: {e}")),
            };
            for id in &report.reclaimed {
                log.line("reclaimed", Some(*id), "");
            }
            if let Some((id, e)) = report.errors.first() {
                return log.error(Some(*id), &format!("recover: {e}"));
            }
            rng.pause(5000);
        }
        ExitCode::SUCCESS
    }
}

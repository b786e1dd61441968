//! A generated program on the real filesystem, through the public API.
//!
//! Each process of the program is a worker thread with a
//! [`stagedir::StagingRoot`] of its own (so a descriptor table of its own,
//! like a process), on a [`GateFs`] backend that stops before every
//! operation until the test says what to do with it: run it, fail it with
//! an injected errno, or crash. Only one worker moves at a time, so the
//! interleaving is the program's, operation by operation, as on SimFs.
//!
//! A crash drops the worker's [`RealFs`]: every descriptor it had is
//! closed, which releases its flocks exactly as the death of a process
//! would, and its in-process reservations are released. From then on the
//! worker's operations touch nothing, and it stops at its next API call.
//!
//! A shared process (`Shape::shared`) is two workers that crash together;
//! each still has its own descriptor table, so when one thread's program
//! ends its descriptors close at once rather than with the last thread, and
//! the locks are flocks, which threads of one process do not share anyway.
//!
//! Ids come from getrandom(2), so unlike the simulation no two instances
//! ever share a name, and the directory order is the filesystem's: the
//! same program can take other steps here, and is read leniently as on a
//! mutant (a step of a finished worker is skipped).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use stagedir::check::world::fault_errnos;
use stagedir::fs::{Errno, Fs, Id, Op, OpResult};
use stagedir::protocol::Config;
use stagedir::variants::Variant;
use stagedir::{Options, RealFs, StagingRoot};

use super::{Shape, Transition, STEPS_MAX};

/// How long the test waits for a worker to reach its next operation.
const WORKER_TIMEOUT: Duration = Duration::from_secs(30);
/// Creation attempts and cleanup retries: the simulation's (`Scenario`).
const ATTEMPTS_MAX: u32 = 2;
const CLEANUP_RETRIES: u8 = 1;

enum Cmd {
    Run,
    Fault(Errno),
    Crash,
}

enum Event {
    /// The worker waits to perform this operation.
    Want(Op),
    /// The worker's program has ended (or it crashed).
    Exited,
}

/// A [`RealFs`] that asks the test before every operation.
struct GateFs {
    /// `None` once crashed: operations then touch nothing.
    inner: Option<RealFs>,
    /// Off while the worker opens its root (not a step of the program).
    gated: bool,
    cmds: Receiver<Cmd>,
    events: Sender<Event>,
    reserved: BTreeSet<Id>,
}

impl GateFs {
    fn crash(&mut self) {
        if let Some(mut fs) = self.inner.take() {
            // The registry is process memory: it dies with the process.
            for id in std::mem::take(&mut self.reserved) {
                let _ = fs.execute(&Op::Release { id });
            }
            // Dropping the table closes every descriptor: the kernel's part.
            drop(fs);
        }
    }

    fn crashed(&self) -> bool {
        self.inner.is_none()
    }
}

impl Fs for GateFs {
    fn execute(&mut self, op: &Op) -> OpResult {
        if self.crashed() {
            return Err(Errno::EIO);
        }
        let cmd = if self.gated {
            if self.events.send(Event::Want(op.clone())).is_err() {
                Cmd::Crash
            } else {
                self.cmds.recv().unwrap_or(Cmd::Crash)
            }
        } else {
            Cmd::Run
        };
        let fs = self.inner.as_mut().expect("alive");
        match cmd {
            Cmd::Run => {
                let r = fs.execute(op);
                match (op, &r) {
                    (Op::Reserve { id }, Ok(_)) => {
                        self.reserved.insert(*id);
                    }
                    (Op::Release { id }, _) => {
                        self.reserved.remove(id);
                    }
                    _ => {}
                }
                r
            }
            Cmd::Fault(e) => {
                if let Op::Close { .. } = op {
                    // close(2) frees the descriptor even when it reports EIO.
                    let _ = fs.execute(op);
                }
                Err(e)
            }
            Cmd::Crash => {
                self.crash();
                Err(Errno::EIO)
            }
        }
    }
}

/// What the workers did, for the checks during and after the run.
#[derive(Default)]
struct Log {
    /// Items whose stage returned Ok.
    staged: BTreeSet<PathBuf>,
    /// For each creator that holds its instance and has not begun its
    /// cleanup: where its staged items are (INV-2 says they stay there).
    owned: BTreeMap<usize, Vec<PathBuf>>,
    /// Creators waiting on the first operation of their cleanup: their data
    /// is theirs to remove from the moment that operation runs.
    cleaning: BTreeSet<usize>,
}

impl Log {
    /// Worker `w` is about to perform an operation (or die).
    fn before_step(&mut self, w: usize) {
        if self.cleaning.remove(&w) {
            self.owned.remove(&w);
        }
    }
}

struct Worker {
    cmds: Sender<Cmd>,
    events: Receiver<Event>,
    /// The operation it waits on; `None` once it has exited.
    pending: Option<Op>,
    handle: Option<JoinHandle<()>>,
}

impl Worker {
    fn spawn(root: PathBuf, cfg: Config, log: Arc<Mutex<Log>>, job: Job) -> Worker {
        let (cmd_tx, cmd_rx) = channel();
        let (ev_tx, ev_rx) = channel();
        let exit_tx = ev_tx.clone();
        let handle = std::thread::spawn(move || {
            let gate = GateFs { inner: Some(RealFs::new()), gated: false, cmds: cmd_rx, events: ev_tx, reserved: BTreeSet::new() };
            let opts = Options { create_root: false, config: cfg };
            let staging = StagingRoot::open_with(&root, gate, opts).expect("open the staging root");
            staging.with_backend(|g| g.gated = true);
            match job {
                Job::Creator(me, items) => creator(&staging, me, &items, &log),
                Job::Recoverer => {
                    let _ = staging.recover();
                }
            }
            let _ = exit_tx.send(Event::Exited);
        });
        let mut w = Worker { cmds: cmd_tx, events: ev_rx, pending: None, handle: Some(handle) };
        w.wait();
        w
    }

    /// Waits until the worker stops at its next operation or exits.
    fn wait(&mut self) {
        match self.events.recv_timeout(WORKER_TIMEOUT) {
            Ok(Event::Want(op)) => self.pending = Some(op),
            Ok(Event::Exited) => {
                self.pending = None;
                self.handle.take().expect("joined once").join().expect("worker panicked");
            }
            Err(RecvTimeoutError::Timeout) => panic!("a worker did not reach its next operation in {WORKER_TIMEOUT:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("a worker died without exiting (panic in the worker)"),
        }
    }

    fn send(&mut self, cmd: Cmd) {
        self.cmds.send(cmd).expect("worker waits");
        self.wait();
    }
}

enum Job {
    /// A creator (its worker index) staging these items.
    Creator(usize, Vec<PathBuf>),
    Recoverer,
}

fn crashed(staging: &StagingRoot<GateFs>) -> bool {
    staging.with_backend(|g| g.crashed())
}

/// The creator program through the API: what `variants::reference::Creator`
/// does on the simulation.
fn creator(staging: &StagingRoot<GateFs>, me: usize, items: &[PathBuf], log: &Mutex<Log>) {
    let Ok(mut instance) = staging.create_instance() else { return };
    log.lock().unwrap().owned.insert(me, Vec::new());
    for item in items {
        if crashed(staging) {
            return;
        }
        if let Ok(to) = instance.stage(item) {
            let mut log = log.lock().unwrap();
            log.staged.insert(item.clone());
            log.owned.get_mut(&me).expect("owner").push(to);
        }
    }
    // From its next operation on, the owner removes its own data.
    log.lock().unwrap().cleaning.insert(me);
    for _ in 0..=CLEANUP_RETRIES {
        if crashed(staging) || instance.cleanup().is_ok() {
            return;
        }
    }
}

/// INV-2 on the real filesystem: every live owner's staged items are where
/// it put them.
fn check_owned(log: &Mutex<Log>, problems: &mut Vec<String>) {
    for (worker, paths) in &log.lock().unwrap().owned {
        for to in paths {
            if std::fs::symlink_metadata(to).is_err() {
                let p = format!("INV-2: {} vanished while its owner (worker {worker}) was alive", to.display());
                if !problems.contains(&p) {
                    problems.push(p);
                }
            }
        }
    }
}

/// The result of a real run.
#[derive(Debug)]
pub struct RealRun {
    /// Items staged (their stage returned Ok).
    pub staged: usize,
    /// Workers crashed by the program.
    pub crashes: usize,
    /// Errors injected.
    pub faults: usize,
    /// Recovery passes run by `Recover` transitions.
    pub recoveries: usize,
}

/// Runs a program on a real filesystem under `dir`, then one final
/// recovery, and checks the end state.
///
/// # Errors
/// A description of each invariant the end state breaks: ROOT holds
/// something besides the foreign entries, an item is gone though its stage
/// failed, something outside ROOT was removed, or a worker saw its staged
/// data vanish while it was alive.
pub fn run_real(shape: &Shape, transitions: &[Transition], dir: &Path) -> Result<RealRun, Vec<String>> {
    run_real_variant(shape, transitions, dir, Variant::Reference)
}

/// [`run_real`] for any variant (the API runs a mutant's machines when its
/// [`Config::mutation`] says so).
pub fn run_real_variant(shape: &Shape, transitions: &[Transition], dir: &Path, variant: Variant) -> Result<RealRun, Vec<String>> {
    let root = dir.join("root");
    let src = dir.join("src");
    let outside = dir.join("outside");
    for d in [&root, &src, &outside] {
        std::fs::create_dir(d).expect("mkdir");
    }
    std::fs::write(outside.join("keep"), b"keep").expect("write");
    if shape.foreign {
        std::fs::write(root.join("foreign"), b"not ours").expect("write");
        let bait = stagedir::protocol::layout::data_path(&root, u128::MAX);
        std::os::unix::fs::symlink(&outside, bait).expect("symlink");
    }
    let cfg: Config = variant.config(ATTEMPTS_MAX, false);
    let log = Arc::new(Mutex::new(Log::default()));
    let mut all_items = Vec::new();
    let mut workers = Vec::new();
    for c in 0..shape.creators {
        let items: Vec<PathBuf> = (0..shape.items).map(|k| src.join(format!("c{c}i{k}"))).collect();
        for item in &items {
            if shape.trees {
                std::fs::create_dir(item).expect("mkdir");
                std::fs::write(item.join("f"), b"f").expect("write");
                std::os::unix::fs::symlink(&outside, item.join("l")).expect("symlink");
            } else {
                std::fs::write(item, b"item").expect("write");
            }
        }
        all_items.extend(items.iter().cloned());
        workers.push(Worker::spawn(root.clone(), cfg, Arc::clone(&log), Job::Creator(c as usize, items)));
    }
    for _ in 0..shape.recoverers {
        workers.push(Worker::spawn(root.clone(), cfg, Arc::clone(&log), Job::Recoverer));
    }
    let recover = || {
        let staging = StagingRoot::open_with(&root, RealFs::new(), Options { create_root: false, config: cfg })
            .expect("open the staging root");
        let _ = staging.recover();
    };
    let mut run = RealRun { staged: 0, crashes: 0, faults: 0, recoveries: 0 };
    let mut faults_left = shape.faults;
    // With a shared process, creator 0 and recoverer 0 are its threads.
    let first_recoverer = shape.creators as usize;
    let partner = |p: usize| match (shape.shared, p) {
        (true, 0) => Some(first_recoverer),
        (true, q) if q == first_recoverer => Some(0),
        _ => None,
    };
    let mut problems = Vec::new();
    for t in transitions {
        check_owned(&log, &mut problems);
        match *t {
            Transition::Recover => {
                recover();
                run.recoveries += 1;
            }
            Transition::Step(p, _) | Transition::Crash(p) | Transition::Fault(p, _) => {
                let p = p as usize;
                let Some(op) = workers[p].pending.clone() else { continue };
                let cmd = match *t {
                    Transition::Crash(_) => {
                        run.crashes += 1;
                        // The whole process dies: both its threads.
                        if let Some(q) = partner(p) {
                            if workers[q].pending.is_some() {
                                log.lock().unwrap().before_step(q);
                                workers[q].send(Cmd::Crash);
                            }
                        }
                        Cmd::Crash
                    }
                    Transition::Fault(_, e) if faults_left > 0 && fault_errnos(&op).contains(&e) => {
                        faults_left -= 1;
                        run.faults += 1;
                        Cmd::Fault(e)
                    }
                    _ => Cmd::Run,
                };
                let crash = matches!(cmd, Cmd::Crash);
                log.lock().unwrap().before_step(p);
                workers[p].send(cmd);
                if crash {
                    // A dead owner owns nothing: recovery may take its data.
                    let mut log = log.lock().unwrap();
                    log.owned.remove(&p);
                    if let Some(q) = partner(p) {
                        log.owned.remove(&q);
                    }
                }
            }
        }
    }
    // Every worker still running ends, one step each in turn.
    let mut steps = 0;
    while workers.iter().any(|w| w.pending.is_some()) {
        for (p, w) in workers.iter_mut().enumerate().filter(|(_, w)| w.pending.is_some()) {
            steps += 1;
            assert!(steps < STEPS_MAX, "the real run did not end within {STEPS_MAX} steps");
            check_owned(&log, &mut problems);
            log.lock().unwrap().before_step(p);
            w.send(Cmd::Run);
        }
    }
    check_owned(&log, &mut problems);
    recover();
    let log = log.lock().unwrap();
    run.staged = log.staged.len();
    let mut left: Vec<String> = std::fs::read_dir(&root)
        .expect("list ROOT")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| !(shape.foreign && n == "foreign"))
        .collect();
    left.sort();
    if !left.is_empty() {
        problems.push(format!("INV-5: left in ROOT after the final recovery: {}", left.join(", ")));
    }
    for item in &all_items {
        let present = std::fs::symlink_metadata(item).is_ok();
        let staged = log.staged.contains(item);
        if !present && !staged {
            problems.push(format!("INV-3: {} is gone though it was never staged", item.display()));
        }
        if present && staged {
            problems.push(format!("INV-3: {} was staged and is still at its source", item.display()));
        }
    }
    if std::fs::read(outside.join("keep")).ok().as_deref() != Some(b"keep".as_slice()) {
        problems.push("INV-6: outside/keep was removed or changed".to_string());
    }
    if problems.is_empty() {
        Ok(run)
    } else {
        Err(problems)
    }
}

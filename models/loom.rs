//! loom models: the library's own in-process concurrency.
//!
//! Threads of ONE process share one [`StagingRoot`] over a simulated
//! filesystem ([`SimBackend`]): every simulated operation is one hold of the
//! root's mutex, which `--cfg loom` turns into loom's (`stagedir::sync`), so
//! loom explores the interleavings of the threads' operations up to the
//! preemption bound. Owner threads each create an instance, stage items,
//! check after each stage that the item is in their data directory, and
//! clean up; another thread of the same process runs a recovery pass (or a
//! status pass) on the same root meanwhile.
//!
//! **What is checked.** The backend watches every step while an owner's
//! instance is live (ghost state: from the owner's `mkdir` of its data
//! directory to its unlink of the lock file, or until it abandons the
//! instance). No other thread may acquire that instance's lock, release it,
//! or remove any of its names. After the threads end: recovery reclaimed no
//! instance that was cleaned up by its owner, one more recovery pass alone
//! leaves ROOT empty, no descriptor is left open, and no id stays reserved
//! in the in-process registry.
//!
//! **Crash points.** loom chooses no data, so an outer loop enumerates them:
//! for every `k`, the first owner's `k`-th fallible operation fails (the
//! errno is injected as [`SimFs::exec_fault`] does it) and the owner drops
//! its instance without cleanup, which closes the descriptor and drops the
//! reservation as the unwinding of a failing thread would. The loop ends at
//! the first `k` that no interleaving reaches.
//!
//! **Limitations.** loom explores only interleavings with at most
//! [`PREEMPTION_BOUND`] preemptions (switches away from a thread that could
//! go on; [`PREEMPTION_BOUND_3_THREADS`] with three threads), or
//! `LOOM_MAX_PREEMPTIONS` when set; a bug that needs more is not seen. The models are small (one or
//! two owners, one or two items, one pass); the shuttle models and the
//! exhaustive search cover many processes and whole-process crashes. Here,
//! everything is one process.
//!
//! Command (a target directory of its own: `--cfg loom` rebuilds every
//! crate):
//! `RUSTFLAGS="--cfg loom" cargo test --release --target-dir target-loom --test loom -- --nocapture`
//!
//! Without `--cfg loom` this file compiles to one test, which checks that
//! CI runs the command above.

/// Without `--cfg loom` the models cannot run (the API's mutex is std's):
/// make sure CI runs them with the command this file gives.
#[cfg(not(loom))]
#[test]
fn loom_models_run_in_ci_with_cfg_loom() {
    const COMMAND: &str =
        r#"RUSTFLAGS="--cfg loom" cargo test --release --target-dir target-loom --test loom"#;
    println!("the loom models run only under --cfg loom: {COMMAND} -- --nocapture");
    let ci = include_str!("../.ci/run");
    assert!(
        ci.contains(COMMAND),
        ".ci/run does not run the loom models with `{COMMAND}`"
    );
    let readme = include_str!("../README.md");
    assert!(
        readme.contains(COMMAND),
        "README.md does not give the loom command `{COMMAND}`"
    );
}

#[cfg(loom)]
mod models {

    use std::cell::Cell;
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::time::Instant;

    use loom::model::Builder;
    use stagedir::check::backend::SimBackend;
    use stagedir::check::swimlane;
    use stagedir::check::world::fault_errnos;
    use stagedir::fs::sim::{LockKind, ReaddirOrder, SimFs};
    use stagedir::fs::{id_hex, Fd, Fs, Id, Op, OpResult, Value};
    use stagedir::protocol::layout::{classify, data_path, lock_path, Name};
    use stagedir::protocol::Config;
    use stagedir::{Instance, Options, StagingRoot};

    /// Preemptions loom explores per interleaving at most, with an owner and
    /// one other thread (about 2,000-3,000 interleavings a model; 4 would take
    /// about 10 times longer).
    const PREEMPTION_BOUND: usize = 3;
    /// The bound with two owners and a recovery thread (3 threads): 3 takes
    /// about 2 minutes per model (200,000 interleavings), over the budget of
    /// the whole loom run.
    const PREEMPTION_BOUND_3_THREADS: usize = 2;
    /// A bound on the crash-point loop (it stops at the first `k` that no
    /// interleaving reaches, well before).
    const CRASH_POINTS_MAX: u32 = 64;
    /// Owner threads at most (loom allows 5 threads, the main one included).
    const OWNERS_MAX: u8 = 3;

    const ROOT: &str = "/r";

    /// Who is taking a step: 0 for the recovery/status thread and the main
    /// thread, `k` for owner `k`.
    type Role = u8;

    loom::thread_local! {
        static ROLE: Cell<Role> = Cell::new(0);
    }

    fn root_path() -> &'static Path {
        Path::new(ROOT)
    }

    fn item(owner: Role, n: u8) -> PathBuf {
        PathBuf::from(format!("/s/{owner}-{n}"))
    }

    /// The shared backend: one simulated process, a fault plan for owner 1, and
    /// the watch over live instances.
    struct Watched {
        b: SimBackend,
        /// Fail owner 1's `k`-th fallible operation (1-based) with the first
        /// errno [`fault_errnos`] lists for it.
        fault_at: Option<u32>,
        fallible_ops: u32,
        fault_fired: bool,
        /// Live instances: (owner, id).
        live: Vec<(Role, Id)>,
        /// Open files of the process: who opened them, descriptor, path.
        files: Vec<(Role, Fd, PathBuf)>,
        /// What a thread did to another thread's live instance.
        violations: Vec<String>,
        /// Every operation of this execution: thread, operation, result.
        history: Vec<(Role, Op, OpResult)>,
    }

    impl Watched {
        fn lock_held(&self, id: Id) -> bool {
            self.b
                .sim
                .lock_holders(&lock_path(root_path(), id))
                .contains(&self.b.pid)
        }

        fn violation(&mut self, op: &Op, me: Role, what: &str, owner: Role, id: Id) {
            self.violations.push(format!(
                "`{op}` by thread {me} {what} of owner {owner}'s live instance {}",
                id_hex(id)
            ));
        }

        /// The id whose data directory `path` is, directly in ROOT.
        fn data_dir_id(path: &Path) -> Option<Id> {
            if path.parent() != Some(root_path()) {
                return None;
            }
            match path.file_name().and_then(|n| n.to_str()).map(classify) {
                Some(Name::Data(id)) => Some(id),
                _ => None,
            }
        }
    }

    impl Fs for Watched {
        fn execute(&mut self, op: &Op) -> OpResult {
            let me = ROLE.with(Cell::get);
            if me == 1 && !fault_errnos(op).is_empty() {
                self.fallible_ops += 1;
                if self.fault_at == Some(self.fallible_ops) {
                    self.fault_fired = true;
                    let result = self.b.sim.exec_fault(self.b.pid, op, fault_errnos(op)[0]);
                    self.history.push((me, op.clone(), result.clone()));
                    return result;
                }
            }
            let others: Vec<(Role, Id, bool)> = self
                .live
                .iter()
                .filter(|(o, _)| *o != me)
                .map(|&(o, id)| (o, id, self.lock_held(id)))
                .collect();
            let result = self.b.execute(op);
            match (op, &result) {
                (
                    Op::Open { path } | Op::CreateExcl { path } | Op::OpenCreate { path },
                    Ok(Value::Fd(fd)),
                ) => {
                    self.files.push((me, *fd, path.clone()));
                }
                (Op::Close { fd }, _) => self.files.retain(|(_, f, _)| f != fd),
                _ => {}
            }
            for (owner, id, held_before) in others {
                let lock = lock_path(root_path(), id);
                // The decisive step of recovery and status: an acquired lock
                // means "the owner is gone".
                if let (Op::TryLock { fd }, Ok(_)) = (op, &result) {
                    if self.files.iter().any(|(_, f, p)| f == fd && *p == lock) {
                        self.violation(op, me, "acquired the lock", owner, id);
                    }
                }
                // A lock file that vanished is reported as a removal below.
                if held_before && self.b.sim.exists(&lock) && !self.lock_held(id) {
                    self.violation(op, me, "released the lock", owner, id);
                }
                let removed = match op {
                    Op::Unlink { path } | Op::Rmdir { path } | Op::Rename { from: path, .. } => {
                        Some(path)
                    }
                    _ => None,
                };
                if let (Some(path), Ok(_)) = (removed, &result) {
                    if *path == lock || path.starts_with(data_path(root_path(), id)) {
                        self.violation(op, me, "removed a name", owner, id);
                    }
                }
            }
            if me > 0 {
                match (op, &result) {
                    // C6: the data directory exists under the verified lock.
                    (Op::Mkdir { path }, Ok(_)) => {
                        if let Some(id) = Self::data_dir_id(path) {
                            self.live.push((me, id));
                        }
                    }
                    // D2: the lock file is unlinked: the instance is over.
                    (Op::Unlink { path }, Ok(_)) => {
                        self.live
                            .retain(|&(o, id)| o != me || *path != lock_path(root_path(), id));
                    }
                    _ => {}
                }
            }
            self.history.push((me, op.clone(), result.clone()));
            result
        }
    }

    /// The history as lines: `  12  owner 1     mkdir /r/#1.data -> ok`.
    fn show(history: &[(Role, Op, OpResult)]) -> String {
        let mut out = String::new();
        for (n, (role, op, result)) in history.iter().enumerate() {
            let who = if *role == 0 {
                "other/main".to_string()
            } else {
                format!("owner {role}")
            };
            let result = match result {
                Ok(v) => swimlane::shorten_ids(&v.to_string()),
                Err(e) => e.name().unwrap_or("?").to_string(),
            };
            let op = swimlane::shorten_ids(&op.to_string());
            out.push_str(&format!("{:>4}  {who:<10}  {op} -> {result}\n", n + 1));
        }
        out
    }

    /// Returns the message from the enclosing function when `cond` fails.
    macro_rules! ensure {
        ($cond:expr, $($msg:tt)+) => {
            if !$cond {
                return Err(format!($($msg)+));
            }
        };
    }

    /// How an owner thread ended.
    #[derive(Clone, Debug, PartialEq, Eq)]
    enum OwnerEnd {
        /// Create failed (an injected error): no instance.
        NoInstance,
        /// Created, staged, found its items in place, cleaned up.
        CleanedUp(Id),
        /// An operation failed; the instance was dropped without cleanup.
        Abandoned(Id),
        /// A staged item was not in the data directory right after staging.
        ItemGone(PathBuf),
    }

    /// What runs beside the owners.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Other {
        Recover,
        Status,
    }

    /// The shape of one model.
    #[derive(Clone, Copy, Debug)]
    struct Setup {
        kind: LockKind,
        registry: bool,
        owners: u8,
        items: u8,
        other: Other,
        fault_at: Option<u32>,
    }

    impl Setup {
        /// `LOOM_MAX_PREEMPTIONS` when set (loom's own variable), else the
        /// bound for the model's number of threads.
        fn preemption_bound(&self) -> usize {
            if let Ok(v) = std::env::var("LOOM_MAX_PREEMPTIONS") {
                return v.parse().expect("LOOM_MAX_PREEMPTIONS: a number");
            }
            if self.owners > 1 {
                PREEMPTION_BOUND_3_THREADS
            } else {
                PREEMPTION_BOUND
            }
        }
    }

    const _: () = assert!(OWNERS_MAX + 2 <= 5, "loom runs 5 threads at most");

    fn open(setup: Setup) -> StagingRoot<Watched> {
        assert!(
            (1..=OWNERS_MAX).contains(&setup.owners),
            "1 to {OWNERS_MAX} owners"
        );
        let mut sim = SimFs::new(setup.kind, ReaddirOrder::Name);
        sim.mkdir_all(root_path());
        sim.mkdir_all(Path::new("/s"));
        for owner in 1..=setup.owners {
            for n in 0..setup.items {
                sim.write_file(&item(owner, n));
            }
        }
        let backend = Watched {
            b: SimBackend::spawn(sim),
            fault_at: setup.fault_at,
            fallible_ops: 0,
            fault_fired: false,
            live: Vec::new(),
            files: Vec::new(),
            violations: Vec::new(),
            history: Vec::new(),
        };
        let config = Config {
            attempts_max: 2,
            use_registry: setup.registry,
            mutation: None,
        };
        StagingRoot::open_with(
            ROOT,
            backend,
            Options {
                create_root: false,
                config,
            },
        )
        .expect("open ROOT")
    }

    /// Drops the instance as a failing thread would, after ending its watch.
    fn abandon(root: &StagingRoot<Watched>, me: Role, instance: Instance<Watched>) -> OwnerEnd {
        let id = instance.id();
        root.with_backend(|w| w.live.retain(|&(o, _)| o != me));
        drop(instance);
        OwnerEnd::Abandoned(id)
    }

    fn owner(root: &StagingRoot<Watched>, me: Role, items: u8) -> OwnerEnd {
        ROLE.with(|r| r.set(me));
        let Ok(mut instance) = root.create_instance() else {
            return OwnerEnd::NoInstance;
        };
        for n in 0..items {
            match instance.stage(item(me, n)) {
                Ok(to) => {
                    if !root.with_backend(|w| w.b.sim.exists(&to)) {
                        return OwnerEnd::ItemGone(to);
                    }
                }
                Err(_) => return abandon(root, me, instance),
            }
        }
        let id = instance.id();
        match instance.cleanup() {
            Ok(()) => OwnerEnd::CleanedUp(id),
            Err(_) => abandon(root, me, instance),
        }
    }

    /// One execution of the model: the owners and the other thread, then the
    /// checks. Returns whether the injected fault fired.
    fn model(setup: Setup) -> bool {
        let root = open(setup);
        let owners: Vec<_> = (1..=setup.owners)
            .map(|me| {
                let r = root.clone();
                loom::thread::spawn(move || owner(&r, me, setup.items))
            })
            .collect();
        let r = root.clone();
        let other = loom::thread::spawn(move || match setup.other {
            Other::Status => {
                let report = r.status().expect("status lists ROOT");
                assert!(
                    report.errors.is_empty(),
                    "status failed: {:?}",
                    report.errors
                );
                Vec::new()
            }
            Other::Recover => r.recover().expect("recovery lists ROOT").reclaimed,
        });
        let ends: Vec<OwnerEnd> = owners
            .into_iter()
            .map(|t| t.join().expect("owner thread"))
            .collect();
        let reclaimed = other.join().expect("other thread");
        let fired = root.with_backend(|w| w.fault_fired);
        if let Err(e) = judge(&root, setup, &ends, &reclaimed, fired) {
            let history = root.with_backend(|w| std::mem::take(&mut w.history));
            panic!(
                "{e}\nthe interleaving, one operation a line:\n{}",
                show(&history)
            );
        }
        fired
    }

    /// The checks after the threads end; a broken one is the message.
    fn judge(
        root: &StagingRoot<Watched>,
        setup: Setup,
        ends: &[OwnerEnd],
        reclaimed: &[Id],
        fired: bool,
    ) -> Result<(), String> {
        let violations = root.with_backend(|w| std::mem::take(&mut w.violations));
        // Never: a thread touching another thread's live instance.
        ensure!(
            violations.is_empty(),
            "a live instance was touched: {violations:?} (owners: {ends:?})"
        );
        for end in ends {
            ensure!(
                !matches!(end, OwnerEnd::ItemGone(_)),
                "a live instance lost its staged item: {end:?}"
            );
            // Recovery may reclaim an id an owner gave up while creating (a
            // lock file it made but another thread locked first), never the
            // instance it went on to use.
            if let OwnerEnd::CleanedUp(id) = end {
                ensure!(
                    !reclaimed.contains(id),
                    "recovery reclaimed the live instance {}",
                    id_hex(*id)
                );
            }
        }
        if !fired {
            ensure!(
                ends.iter().all(|e| matches!(e, OwnerEnd::CleanedUp(_))),
                "an owner did not finish without a fault: {ends:?}"
            );
        }
        // The end state: one more recovery pass alone leaves nothing behind.
        let last = root.recover().expect("final recovery");
        ensure!(
            last.errors.is_empty(),
            "final recovery failed: {:?}",
            last.errors
        );
        root.with_backend(|w| -> Result<(), String> {
            let left = w.b.sim.list(root_path());
            ensure!(
                left.is_empty(),
                "ROOT not empty at the end: {left:?} (owners: {ends:?})"
            );
            ensure!(
                w.b.sim.open_fds(w.b.pid) == 0,
                "descriptors left open (owners: {ends:?})"
            );
            for (k, end) in ends.iter().enumerate() {
                if let OwnerEnd::CleanedUp(id) | OwnerEnd::Abandoned(id) = *end {
                    if setup.registry {
                        // The id's reservation went with the instance.
                        ensure!(
                            w.b.execute(&Op::Reserve { id }).is_ok(),
                            "reservation of {} leaked",
                            id_hex(id)
                        );
                        w.b.execute(&Op::Release { id }).expect("release");
                    }
                }
                if let OwnerEnd::CleanedUp(_) = end {
                    let me = Role::try_from(k + 1).expect("owner role");
                    for n in 0..setup.items {
                        ensure!(
                            !w.b.sim.exists(&item(me, n)),
                            "a staged item survived cleanup"
                        );
                    }
                }
            }
            Ok(())
        })
    }

    /// Explores the interleavings of `setup` up to the preemption bound.
    /// Returns (interleavings, whether the fault fired in any, seconds).
    fn explore(setup: Setup) -> (u64, bool, f64) {
        let start = Instant::now();
        let iterations = std::sync::Arc::new(AtomicU64::new(0));
        let fired = std::sync::Arc::new(AtomicBool::new(false));
        let mut builder = Builder::new();
        builder.preemption_bound = Some(setup.preemption_bound());
        let (n, f) = (iterations.clone(), fired.clone());
        builder.check(move || {
            n.fetch_add(1, Ordering::Relaxed);
            if model(setup) {
                f.store(true, Ordering::Relaxed);
            }
        });
        (
            iterations.load(Ordering::Relaxed),
            fired.load(Ordering::Relaxed),
            start.elapsed().as_secs_f64(),
        )
    }

    fn describe(setup: Setup) -> String {
        format!(
            "{:?} registry={} owners={} items={} other={:?}",
            setup.kind, setup.registry, setup.owners, setup.items, setup.other
        )
    }

    /// The model holds: every interleaving explored passes.
    #[track_caller]
    fn holds(setup: Setup) -> u64 {
        let (n, _, secs) = explore(setup);
        println!(
            "{:<58} preemption_bound={} interleavings={n:>8} seconds={secs:>6.2}",
            describe(setup),
            setup.preemption_bound()
        );
        assert!(n > 1, "loom explored a single interleaving");
        n
    }

    /// The model holds at every crash point of owner 1: its `k`-th fallible
    /// operation fails and it drops its instance, for every `k` reached.
    /// Returns (crash points, interleavings).
    #[track_caller]
    fn holds_at_every_crash_point(setup: Setup) -> (u32, u64) {
        let mut total = 0;
        let start = Instant::now();
        for k in 1..=CRASH_POINTS_MAX {
            let (n, fired, _) = explore(Setup {
                fault_at: Some(k),
                ..setup
            });
            total += n;
            if !fired {
                let points = k - 1;
                println!(
                "{:<58} preemption_bound={} interleavings={total:>8} seconds={:>6.2} crash points={points}",
                describe(setup),
                setup.preemption_bound(),
                start.elapsed().as_secs_f64()
            );
                // create (5) + stage + cleanup (at least 6) can each fail.
                assert!(points >= 12, "only {points} crash points");
                return (points, total);
            }
        }
        panic!("owner 1 still had operations after {CRASH_POINTS_MAX} crash points");
    }

    /// loom rejects the broken setup: some interleaving fails with a message
    /// containing `expect`.
    #[track_caller]
    fn rejects(setup: Setup, expect: &str) {
        let result = catch_unwind(AssertUnwindSafe(|| explore(setup)));
        let payload = result.expect_err("loom found no failing interleaving in the broken model");
        let message = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        println!("{:<58} REJECTED as it must be: {message}", describe(setup));
        assert!(
            message.contains(expect),
            "failed for another reason: {message}"
        );
    }

    fn setup(kind: LockKind, registry: bool, owners: u8, items: u8, other: Other) -> Setup {
        Setup {
            kind,
            registry,
            owners,
            items,
            other,
            fault_at: None,
        }
    }

    // ---- an owner and a recovery pass ------------------------------------------

    #[test]
    fn recovery_in_the_same_process_skips_a_live_instance_flock() {
        holds(setup(LockKind::Flock, false, 1, 2, Other::Recover));
    }

    #[test]
    fn recovery_in_the_same_process_skips_a_live_instance_ofd() {
        holds(setup(LockKind::Ofd, false, 1, 2, Other::Recover));
    }

    #[test]
    fn recovery_in_the_same_process_skips_a_live_instance_posix_registry() {
        holds(setup(LockKind::Posix, true, 1, 2, Other::Recover));
    }

    /// Broken: POSIX locks never conflict within a process, and without the
    /// registry nothing else tells recovery that the instance is live.
    #[test]
    fn recovery_without_registry_on_posix_reclaims_a_live_instance() {
        rejects(
            setup(LockKind::Posix, false, 1, 2, Other::Recover),
            "acquired the lock",
        );
    }

    // ---- every crash point of the owner ----------------------------------------

    #[test]
    fn every_crash_point_of_the_owner_leaves_nothing_flock() {
        holds_at_every_crash_point(setup(LockKind::Flock, false, 1, 1, Other::Recover));
    }

    #[test]
    fn every_crash_point_of_the_owner_leaves_nothing_posix_registry() {
        holds_at_every_crash_point(setup(LockKind::Posix, true, 1, 1, Other::Recover));
    }

    /// Broken: the same crash point loop, POSIX without the registry.
    #[test]
    fn crash_point_without_registry_on_posix_is_rejected() {
        // Owner 1's stage fails (its 6th fallible operation): it abandons the
        // instance, but recovery may already have taken its lock.
        rejects(
            Setup {
                fault_at: Some(6),
                ..setup(LockKind::Posix, false, 1, 1, Other::Recover)
            },
            "live instance",
        );
    }

    // ---- an owner and a status pass --------------------------------------------

    #[test]
    fn status_in_the_same_process_keeps_a_live_lock_flock() {
        holds(setup(LockKind::Flock, false, 1, 1, Other::Status));
    }

    #[test]
    fn status_in_the_same_process_keeps_a_live_lock_posix_registry() {
        holds(setup(LockKind::Posix, true, 1, 1, Other::Status));
    }

    /// Broken: status takes and drops the lock to test it; under POSIX without
    /// the registry that drops the live owner's lock (same process).
    #[test]
    fn status_without_registry_on_posix_releases_a_live_lock() {
        rejects(
            setup(LockKind::Posix, false, 1, 1, Other::Status),
            "released the lock",
        );
    }

    // ---- two owners and a recovery pass ----------------------------------------

    #[test]
    fn two_owners_and_recovery_flock() {
        holds(setup(LockKind::Flock, false, 2, 1, Other::Recover));
    }

    #[test]
    fn two_owners_and_recovery_posix_registry() {
        holds(setup(LockKind::Posix, true, 2, 1, Other::Recover));
    }

    #[test]
    fn two_owners_and_recovery_without_registry_on_posix_is_rejected() {
        rejects(
            setup(LockKind::Posix, false, 2, 1, Other::Recover),
            "live instance",
        );
    }
}

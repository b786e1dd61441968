//! Lock-first creation (SPEC.md C1..C7): the lock file exists, is locked, and
//! is verified to be the file its path names before the data directory is
//! created.

use std::path::PathBuf;

use super::output::Output;
use super::shared_path::SharedPath;

use super::layout::{data_path, lock_path};
use super::{Config, Error, Machine, Mutation};
use crate::fs::{Errno, Fd, Id, Identity, Op, OpError, OpResult, Value};

/// A created instance, held by its owner: the lock is taken through `fd` and
/// `ROOT/<id>.data` exists. Plain data.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Held {
    pub root: SharedPath,
    pub id: Id,
    /// The descriptor the lock is held through.
    pub fd: Fd,
    /// How many items were staged (the next item's `<n>`).
    pub staged: u64,
    /// Whether `id` is reserved in the in-process registry.
    pub reserved: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Step {
    DrawId,
    Reserve,
    CreateLock,
    Lock,
    FdIdentity,
    PathIdentity(Identity),
    Mkdir,
    /// Run the undo stack, then retry with a new id or fail.
    Undo(Option<Error>),
    Done(Result<Held, Error>),
}

/// The creation machine. Output: the held instance, or why none could be
/// created.
///
/// # Errors
/// [`Error::Op`] for an operation failing with an errno other than the ones
/// that mean "try another id" (`EEXIST` on the lock or data name, a busy
/// lock, an identity mismatch); [`Error::AttemptsExhausted`] after
/// [`Config::attempts_max`] ids.
///
/// # Crash safety
/// A crash at any step leaves at most a lock file (no owner: recovery
/// removes it) or a lock file and an empty data directory.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Create {
    root: SharedPath,
    cfg: Config,
    attempt: u32,
    id: Id,
    fd: Fd,
    /// What this attempt did that must be undone, last first.
    undo: Vec<Undo>,
    /// This machine believes it owns `id` (oracle ghost state).
    owns: bool,
    last: Output<Retry>,
    step: Step,
}

/// One thing an attempt did that a failure must undo.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Undo {
    /// Release the in-process reservation.
    Release,
    /// Close the lock file's descriptor.
    Close,
    /// Unlink the lock file (while still holding the lock).
    UnlinkLock,
    /// Remove the (empty) data directory.
    RmdirData,
}

/// Why the last id was given up (for the exhaustion error).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Retry {
    None,
    /// Another thread of this process holds the id (`EBUSY` from the registry).
    Reserved,
    /// The lock file or data directory name exists (`EEXIST`).
    Exists,
    /// The lock is held by someone else (`EWOULDBLOCK`).
    Busy,
    /// The path no longer names the inode we locked.
    IdentityChanged,
}

impl std::fmt::Display for Retry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Retry::None => "none",
            Retry::Reserved => "id reserved by another thread of this process (EBUSY)",
            Retry::Exists => "name exists (EEXIST)",
            Retry::Busy => "lock held by another owner (EWOULDBLOCK)",
            Retry::IdentityChanged => "lock file replaced or unlinked after locking",
        })
    }
}

impl Create {
    pub fn new(root: impl Into<SharedPath>, cfg: Config) -> Self {
        assert!(cfg.attempts_max > 0, "attempts_max must be positive");
        Create {
            root: root.into(),
            cfg,
            attempt: 0,
            id: 0,
            fd: 0,
            undo: Vec::new(),
            owns: false,
            last: Output(Retry::None),
            step: Step::DrawId,
        }
    }

    /// The id this machine believes it owns right now: from the verified
    /// lock (C5) until the lock file is unlinked.
    pub fn owned(&self) -> Option<Id> {
        self.owns.then_some(self.id)
    }

    fn lock(&self) -> PathBuf {
        lock_path(&self.root, self.id)
    }

    fn data(&self) -> PathBuf {
        data_path(&self.root, self.id)
    }

    /// Give up this id: undo, then try another (`None`) or fail.
    fn abandon(&mut self, why: Retry, fail: Option<Error>) -> Step {
        *self.last = why;
        Step::Undo(fail)
    }

    fn after_lock_verified(&mut self) -> Step {
        self.owns = true;
        // Undo from here on: unlink the lock while still holding it (rule 2).
        self.undo.push(Undo::UnlinkLock);
        if self.cfg.has(Mutation::ReserveAfterLock) && self.cfg.use_registry {
            // Mutant: C2 only now, after the lock is verified.
            Step::Reserve
        } else if self.cfg.has(Mutation::DataBeforeLock) {
            self.done()
        } else {
            Step::Mkdir
        }
    }

    fn done(&mut self) -> Step {
        self.undo.clear();
        Step::Done(Ok(Held {
            root: self.root.clone(),
            id: self.id,
            fd: self.fd,
            staged: 0,
            reserved: self.cfg.use_registry,
        }))
    }

    /// The undo stack is empty: fail with `then`, or try the next id.
    fn settle(&mut self, then: Option<Error>) -> Step {
        if let Some(err) = then {
            return Step::Done(Err(err));
        }
        self.attempt += 1;
        if self.attempt >= self.cfg.attempts_max {
            return Step::Done(Err(Error::AttemptsExhausted {
                root: self.root.to_path_buf(),
                attempts: self.attempt,
                last: self.last.to_string(),
            }));
        }
        if self.cfg.has(Mutation::CreateReusesId) {
            // Mutant: no fresh draw (C1); the given-up id again.
            return self.after_draw();
        }
        Step::DrawId
    }

    /// After C1: C2 when the registry is used, else C3.
    fn after_draw(&mut self) -> Step {
        if self.cfg.use_registry && !self.cfg.has(Mutation::ReserveAfterLock) {
            Step::Reserve
        } else {
            self.after_reserve()
        }
    }

    fn after_reserve(&mut self) -> Step {
        if self.cfg.has(Mutation::DataBeforeLock) {
            Step::Mkdir
        } else {
            Step::CreateLock
        }
    }
}

impl Machine for Create {
    type Output = Result<Held, Error>;

    fn op(&self) -> Option<Op> {
        Some(match &self.step {
            Step::DrawId => Op::DrawId,
            Step::Reserve => Op::Reserve { id: self.id },
            Step::CreateLock if self.cfg.has(Mutation::CreateWithoutExcl) => Op::OpenCreate { path: self.lock() },
            Step::CreateLock => Op::CreateExcl { path: self.lock() },
            Step::Lock => Op::TryLock { fd: self.fd },
            Step::FdIdentity => Op::FdIdentity { fd: self.fd },
            Step::PathIdentity(_) => Op::PathIdentity { path: self.lock() },
            Step::Mkdir => Op::Mkdir { path: self.data() },
            Step::Undo(_) => match self.undo.last().expect("undo step with an empty stack") {
                Undo::Release => Op::Release { id: self.id },
                Undo::Close => Op::Close { fd: self.fd },
                Undo::UnlinkLock => Op::Unlink { path: self.lock() },
                Undo::RmdirData => Op::Rmdir { path: self.data() },
            },
            Step::Done(_) => return None,
        })
    }

    fn feed(&mut self, result: OpResult) {
        let op = self.op().expect("feed after done");
        let step = std::mem::replace(&mut self.step, Step::DrawId);
        let fail = |errno| Some(Error::Op(OpError::new(op.clone(), errno)));
        self.step = match (step, result) {
            // C1: a fresh id from the explicit source.
            (Step::DrawId, Ok(Value::Id(id))) => {
                self.id = id;
                self.after_draw()
            }
            // C2: reserve it in-process so a recoverer thread skips it.
            (Step::Reserve, Ok(_)) => {
                self.undo.push(Undo::Release);
                if self.cfg.has(Mutation::ReserveAfterLock) {
                    Step::Mkdir
                } else {
                    self.after_reserve()
                }
            }
            (Step::Reserve, Err(Errno::EBUSY)) => self.abandon(Retry::Reserved, None),
            // C3: create the lock file exclusively: a name nobody else holds.
            (Step::CreateLock, Ok(Value::Fd(fd))) => {
                self.fd = fd;
                self.undo.push(Undo::Close);
                if self.cfg.has(Mutation::UndoUnlinksUnverified) {
                    self.undo.push(Undo::UnlinkLock);
                }
                if self.cfg.has(Mutation::CreateSkipsLock) {
                    Step::FdIdentity
                } else {
                    Step::Lock
                }
            }
            (Step::CreateLock, Err(Errno::EEXIST)) => self.abandon(Retry::Exists, None),
            // C4: take the lock without blocking; busy means a recoverer
            // opened our new file first: let it have the name.
            (Step::Lock, Ok(_)) => {
                if self.cfg.has(Mutation::NoIdentityRecheck) {
                    self.after_lock_verified()
                } else {
                    Step::FdIdentity
                }
            }
            (Step::Lock, Err(Errno::EWOULDBLOCK)) => self.abandon(Retry::Busy, None),
            // C5: identity re-check: the locked inode is still the one the
            // path names, with a link (INV-1, one owner per id).
            (Step::FdIdentity, Ok(Value::Identity(fd_id))) => Step::PathIdentity(fd_id),
            (Step::PathIdentity(fd_id), Ok(Value::Identity(path_id))) => {
                assert!(fd_id.kind == crate::fs::FileKind::File, "locked a non-file: {fd_id:?}");
                if fd_id.same_inode(&path_id) && fd_id.nlink > 0 {
                    self.after_lock_verified()
                } else {
                    self.abandon(Retry::IdentityChanged, None)
                }
            }
            (Step::PathIdentity(_), Err(Errno::ENOENT)) => {
                self.abandon(Retry::IdentityChanged, None)
            }
            // C6: only now the data directory (INV-4: data only under a lock).
            (Step::Mkdir, Ok(_)) => {
                if self.cfg.has(Mutation::DataBeforeLock) {
                    self.undo.push(Undo::RmdirData);
                    Step::CreateLock
                } else {
                    self.done()
                }
            }
            // C6: an existing data directory under our fresh lock is an
            // orphan of some other writer: never adopt it; recovery reclaims it.
            (Step::Mkdir, Err(Errno::EEXIST)) => self.abandon(Retry::Exists, None),
            // C7: give the id up: run the undo stack last first (unlink the
            // lock file only if C5 verified it, while still holding it;
            // close; release), then C1 again or fail.
            (Step::Undo(then), _) => {
                let undone = self.undo.pop().expect("undo stack");
                if undone == Undo::UnlinkLock {
                    self.owns = false;
                }
                if self.undo.is_empty() {
                    self.settle(then)
                } else {
                    Step::Undo(then)
                }
            }
            // Any other errno: undo what this attempt did, and report it.
            (_, Err(errno)) => {
                let err = fail(errno);
                if self.undo.is_empty() {
                    Step::Done(Err(err.expect("error")))
                } else {
                    Step::Undo(err)
                }
            }
            (step, Ok(v)) => panic!("create: {op} returned {v} in {step:?}"),
        };
        // An empty undo stack has nothing to run: settle the step now.
        if let Step::Undo(then) = &self.step {
            if self.undo.is_empty() {
                let then = then.clone();
                self.step = self.settle(then);
            }
        }
    }

    fn finish(self) -> Self::Output {
        match self.step {
            Step::Done(r) => r,
            s => panic!("create: finish before done ({s:?})"),
        }
    }
}

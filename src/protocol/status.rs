//! Read-only status (SPEC.md T1..T8): which instances in ROOT are live and
//! which are stale, changing nothing on disk.
//!
//! One listing of ROOT (not a snapshot, like recovery's), then for each id
//! seen by either name, in ascending order: reserve it in-process (busy:
//! live, held by a thread of this process), open `<id>.lock` without
//! `O_CREAT`, try the lock without blocking (busy: live), and if acquired
//! unlock at once; close; `lstat` `<id>.data`; release the reservation.
//!
//! **What "changes nothing" means.** No name in ROOT is created, removed or
//! renamed, and no lock is kept past the pass. For the moment status holds
//! a stale instance's lock, a concurrent recoverer sees that id as live and
//! skips it (the next pass reclaims it), and a creator that drew the same id
//! and had just created its lock file would give that id up, leaving a lock
//! file without data for recovery (ids are 128-bit random: the creator case
//! needs a collision). The in-process reservation is there so that a lock
//! kind that does not exclude threads of one process (POSIX record locks)
//! is never unlocked or closed under a live instance of this process.

use std::path::PathBuf;

use super::layout::{data_path, lock_path};
use super::list_root::ListRoot;
use super::{feed_sub, Config, Machine, Mutation};
use crate::fs::{Errno, Fd, Id, Op, OpError, OpResult, Value};

/// Whether an instance's owner is alive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Liveness {
    /// Its lock is held (by another process, or by a thread of this one).
    Live,
    /// Nobody holds its lock, or it has data and no lock file: recovery
    /// would reclaim it.
    Stale,
}

/// One instance as status saw it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct InstanceStatus {
    #[serde(serialize_with = "ser_id")]
    pub id: Id,
    pub state: Liveness,
    /// `<id>.lock` could be opened (or, not looked at, the id is reserved
    /// by a thread of this process, which holds or is taking its lock).
    pub lock_file: bool,
    /// `<id>.data` exists (as anything: `lstat` succeeded).
    pub data: bool,
}

fn ser_id<S: serde::Serializer>(id: &Id, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::fs::id_hex(*id))
}

/// What one status pass found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, serde::Serialize)]
pub struct StatusReport {
    /// Instances in ascending id order; ids whose names both vanished
    /// during the pass are left out.
    pub instances: Vec<InstanceStatus>,
    /// Names in ROOT matching neither `<id>.lock` nor `<id>.data`.
    pub foreign: Vec<String>,
    /// Ids whose state could not be read, with the operation and errno.
    #[serde(serialize_with = "super::recover::ser_errors")]
    pub errors: Vec<(Id, OpError)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Step {
    /// V1..V3 / T1..T3: one listing of ROOT.
    List(ListRoot),
    NextId,
    Reserve,
    OpenLock,
    TryLock(Fd),
    Unlock(Fd),
    Close(Fd),
    StatData,
    Release,
    Done(Result<StatusReport, OpError>),
}

/// What is known of the id being looked at.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct Seen {
    live: bool,
    lock_file: bool,
    data: bool,
    error: Option<OpError>,
}

/// The status machine. Output: the [`StatusReport`].
///
/// # Errors
/// Only a failure to list ROOT fails the pass (the errno of `opendir` or
/// `readdir`); a failing id is recorded in [`StatusReport::errors`].
///
/// # Crash safety
/// Nothing to undo: a crash releases the lock status may hold for a moment.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Status {
    root: PathBuf,
    cfg: Config,
    /// Ids still to visit, largest first (popped from the back).
    todo: Vec<Id>,
    id: Id,
    reserved: bool,
    /// Mutant `status-keeps-lock`: the acquired lock's descriptor, let go
    /// only after T8.
    kept: Option<Fd>,
    cur: Seen,
    report: StatusReport,
    step: Step,
}

impl Status {
    /// A status pass over `root`; `cfg.use_registry` decides whether ids
    /// are reserved in-process first.
    pub fn new(root: PathBuf, cfg: Config) -> Self {
        let list_root = root.clone();
        Status {
            root,
            cfg,
            todo: Vec::new(),
            id: 0,
            reserved: false,
            kept: None,
            cur: Seen::default(),
            report: StatusReport::default(),
            step: Step::List(ListRoot::new(list_root)),
        }
    }

    /// The lock is settled and closed: look at the data, unless it failed.
    fn after_lock(&mut self) -> Step {
        if self.cur.error.is_some() {
            self.end_id()
        } else {
            Step::StatData
        }
    }

    /// Drop the reservation if there is one, then record.
    fn end_id(&mut self) -> Step {
        // Mutant: the kept lock goes only now, after T8.
        if let Some(fd) = self.kept {
            return Step::Unlock(fd);
        }
        if self.reserved {
            return Step::Release;
        }
        let cur = std::mem::take(&mut self.cur);
        if let Some(e) = cur.error {
            self.report.errors.push((self.id, e));
        } else if cur.live || cur.lock_file || cur.data {
            self.report.instances.push(InstanceStatus {
                id: self.id,
                state: if cur.live { Liveness::Live } else { Liveness::Stale },
                lock_file: cur.lock_file,
                data: cur.data,
            });
        }
        Step::NextId
    }
}

impl Machine for Status {
    type Output = Result<StatusReport, OpError>;

    fn op(&self) -> Option<Op> {
        Some(match &self.step {
            Step::List(m) => return m.op(),
            Step::Close(fd) => Op::Close { fd: *fd },
            Step::NextId => unreachable!("NextId is resolved in feed"),
            Step::Reserve => Op::Reserve { id: self.id },
            Step::OpenLock => Op::Open { path: lock_path(&self.root, self.id) },
            Step::TryLock(fd) => Op::TryLock { fd: *fd },
            Step::Unlock(fd) => Op::Unlock { fd: *fd },
            Step::StatData => Op::PathIdentity { path: data_path(&self.root, self.id) },
            Step::Release => Op::Release { id: self.id },
            Step::Done(_) => return None,
        })
    }

    fn feed(&mut self, result: OpResult) {
        let op = self.op().expect("feed after done");
        let step = std::mem::replace(&mut self.step, Step::NextId);
        let failed = |errno| Some(OpError::new(op.clone(), errno));
        self.step = match (step, result) {
            (Step::List(m), r) => match feed_sub(m, r) {
                Ok(m) => Step::List(m),
                // Visit ids in ascending order (popped from the back).
                Err(Ok(listing)) => {
                    self.report.foreign = listing.foreign;
                    self.todo = listing.ids.into_iter().rev().collect();
                    Step::NextId
                }
                Err(Err(e)) => Step::Done(Err(e)),
            },
            // T4: a thread of this process holds it: live, touch nothing.
            (Step::Reserve, Ok(_)) => {
                self.reserved = true;
                Step::OpenLock
            }
            (Step::Reserve, Err(Errno::EBUSY)) => {
                self.cur.live = true;
                self.cur.lock_file = true;
                self.end_id()
            }
            (Step::Reserve, Err(errno)) => {
                self.cur.error = failed(errno);
                self.end_id()
            }
            // T5: open the lock file, never creating it.
            (Step::OpenLock, Ok(Value::Fd(fd))) => {
                self.cur.lock_file = true;
                Step::TryLock(fd)
            }
            (Step::OpenLock, Err(Errno::ENOENT)) => Step::StatData,
            (Step::OpenLock, Err(errno)) => {
                self.cur.error = failed(errno);
                self.end_id()
            }
            // T6: try without blocking; acquired means stale: let go at once.
            (Step::TryLock(fd), Ok(_)) if self.cfg.has(Mutation::StatusKeepsLock) => {
                self.kept = Some(fd);
                Step::StatData
            }
            (Step::TryLock(fd), Ok(_)) => Step::Unlock(fd),
            (Step::TryLock(fd), Err(Errno::EWOULDBLOCK)) => {
                self.cur.live = true;
                Step::Close(fd)
            }
            (Step::TryLock(fd), Err(errno)) => {
                self.cur.error = failed(errno);
                Step::Close(fd)
            }
            (Step::Unlock(fd), Ok(_)) => Step::Close(fd),
            (Step::Unlock(fd), Err(errno)) => {
                self.cur.error = failed(errno);
                Step::Close(fd)
            }
            // T7: close (a close error frees the descriptor all the same).
            (Step::Close(fd), _) if self.kept == Some(fd) => {
                self.kept = None;
                self.end_id()
            }
            (Step::Close(_), _) => self.after_lock(),
            // T8: is there data?
            (Step::StatData, Ok(_)) => {
                self.cur.data = true;
                self.end_id()
            }
            (Step::StatData, Err(Errno::ENOENT)) => self.end_id(),
            (Step::StatData, Err(errno)) => {
                self.cur.error = failed(errno);
                self.end_id()
            }
            (Step::Release, _) => {
                self.reserved = false;
                self.end_id()
            }
            (step, r) => panic!("status: {op} returned {r:?} in {step:?}"),
        };
        if matches!(self.step, Step::NextId) {
            self.step = match self.todo.pop() {
                None => Step::Done(Ok(std::mem::take(&mut self.report))),
                Some(id) => {
                    self.id = id;
                    // T4 (the mutant `status-skips-reservation` skips it).
                    if self.cfg.use_registry && !self.cfg.has(Mutation::StatusSkipsReservation) {
                        Step::Reserve
                    } else {
                        Step::OpenLock
                    }
                }
            };
        }
    }

    fn finish(self) -> Self::Output {
        match self.step {
            Step::Done(r) => r,
            s => panic!("status: finish before done ({s:?})"),
        }
    }
}

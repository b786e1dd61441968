//! TryLock-based recovery (SPEC.md V1..V12).
//!
//! One listing of ROOT (many `readdir` steps: not a snapshot), then for each
//! id seen by either name, in ascending order:
//!
//! - the lock file exists: open it without `O_CREAT`, try the lock without
//!   blocking (busy: the owner lives, skip), verify that the locked inode is
//!   still the one the path names with a link (else skip: it changed under
//!   us), then remove the data tree, unlink the lock file, close.
//! - the lock file is missing but the data directory exists: claim the id
//!   exactly as a creator would, by creating the lock file with `O_EXCL`,
//!   locking it and verifying it, then remove as above.
//!
//! **Why the exclusive create is the claim for data without a lock file.**
//! The listing may show `<id>.data` without `<id>.lock` although both exist
//! (the lock's entry was passed before it was created), so the listing decides
//! nothing. Every decision is taken on the lock: whoever owns an id holds a
//! lock on the inode that `<id>.lock` names. If our exclusive create succeeds,
//! no such inode existed, so nobody owned the id (a creator makes the lock
//! file before the data, and an owner removes the data before the lock file),
//! and from then on any creator or recoverer that wants the id meets our file:
//! a creator's `O_EXCL` fails, a recoverer's try-lock is busy or its identity
//! check fails. If the create fails with `EEXIST`, someone made the lock file
//! after our open saw none: we go back to the ordinary path (open, try-lock)
//! once, and skip the id if it changes again. Never `O_CREAT` without
//! `O_EXCL`: that would make a lock file for an id a creator is about to take.

use std::path::PathBuf;

use super::layout::{data_path, lock_path};
use super::list_root::ListRoot;
use super::output::Output;
use super::remove_tree::RemoveTree;
use super::shared_path::SharedPath;
use super::{feed_sub, Config, Machine, Mutation};
use crate::fs::{Errno, Fd, FileKind, Id, Identity, Op, OpError, OpResult, Value};

/// What one recovery pass found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Report {
    /// Ids whose owner was gone: data and lock file removed.
    #[serde(serialize_with = "ser_ids")]
    pub reclaimed: Vec<Id>,
    /// Ids whose lock is held by a live owner: left alone.
    #[serde(serialize_with = "ser_ids")]
    pub live: Vec<Id>,
    /// Ids that changed while we looked (lock file replaced or removed, or
    /// claimed by someone else first): left alone, nothing to do.
    #[serde(serialize_with = "ser_ids")]
    pub raced: Vec<Id>,
    /// Names in ROOT matching neither `<id>.lock` nor `<id>.data`.
    pub foreign: Vec<String>,
    /// Ids that failed, each with the operation and errno.
    #[serde(serialize_with = "ser_errors")]
    pub errors: Vec<(Id, OpError)>,
}

/// Ids as the 32 hex digits of their file names, not as JSON numbers
/// (a `u128` does not fit a JSON reader's double).
fn ser_ids<S: serde::Serializer>(v: &[Id], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|id| crate::fs::id_hex(*id)))
}

pub(crate) fn ser_errors<S: serde::Serializer>(v: &[(Id, OpError)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(v.len()))?;
    for (id, e) in v {
        seq.serialize_element(&serde_json::json!({
            "id": crate::fs::id_hex(*id),
            "op": e.op.to_string(),
            "errno": e.errno.name().unwrap_or("?"),
            "error": e.to_string(),
        }))?;
    }
    seq.end()
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Outcome {
    Reclaimed,
    Live,
    Raced,
    /// Neither name exists any more.
    Gone,
    Failed(OpError),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Step {
    /// V1..V3 / T1..T3: one listing of ROOT.
    List(ListRoot),
    /// Pick the next id.
    NextId,
    Reserve,
    OpenLock,
    StatData,
    ClaimLock,
    TryLock,
    FdIdentity,
    PathIdentity(Identity),
    RemoveData(RemoveTree),
    /// Mutant only: release the lock before V11.
    Unlock,
    UnlinkLock,
    Close(Outcome),
    Release(Outcome),
    Done(Result<Report, OpError>),
}

/// The recovery machine. Output: the [`Report`].
///
/// # Errors
/// Only a failure to list ROOT fails the whole pass (the errno of `opendir`
/// or `readdir`). A failing id is recorded in [`Report::errors`] and the
/// others go on: an `EBUSY` (mount) or `EIO` inside one stale tree leaves that
/// id's lock file in place, so the next pass retries it.
///
/// # Crash safety
/// A crash at any step releases whatever lock this pass held; what it was
/// removing still has its lock file, so the next pass finishes it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Recover {
    root: SharedPath,
    cfg: Config,
    /// Ids still to visit, largest first (popped from the back).
    todo: Vec<Id>,
    id: Id,
    fd: Option<Fd>,
    reserved: bool,
    claim_retried: bool,
    owns: bool,
    report: Output<Report>,
    step: Step,
}

impl Recover {
    pub fn new(root: impl Into<SharedPath>, cfg: Config) -> Self {
        let root: SharedPath = root.into();
        let list_root = root.clone();
        Recover {
            root,
            cfg,
            todo: Vec::new(),
            id: 0,
            fd: None,
            reserved: false,
            claim_retried: false,
            owns: false,
            report: Output::default(),
            step: Step::List(ListRoot::with_config(list_root, cfg)),
        }
    }

    /// The id this machine believes it owns right now: from the verified
    /// lock (V7) until the lock file is unlinked or the lock released.
    pub fn owned(&self) -> Option<Id> {
        self.owns.then_some(self.id)
    }

    /// True while this pass is removing data (the oracle's INV-6 scope).
    pub fn is_removing(&self) -> bool {
        matches!(self.step, Step::RemoveData(_))
    }

    fn lock(&self) -> PathBuf {
        lock_path(&self.root, self.id)
    }

    fn data(&self) -> PathBuf {
        data_path(&self.root, self.id)
    }

    /// Finish the current id: close, release, record.
    fn end_id(&mut self, outcome: Outcome) -> Step {
        if self.fd.is_some() {
            Step::Close(outcome)
        } else if self.reserved {
            Step::Release(outcome)
        } else {
            self.record(outcome);
            Step::NextId
        }
    }

    fn record(&mut self, outcome: Outcome) {
        let r = &mut self.report;
        match outcome {
            Outcome::Reclaimed => r.reclaimed.push(self.id),
            Outcome::Live => r.live.push(self.id),
            Outcome::Raced => r.raced.push(self.id),
            Outcome::Gone => {}
            Outcome::Failed(e) => r.errors.push((self.id, e)),
        }
    }

    fn after_verified(&mut self) -> Step {
        self.owns = true;
        if self.cfg.has(Mutation::UnlinkLockBeforeData) {
            Step::UnlinkLock
        } else {
            Step::RemoveData(RemoveTree::with_config(self.data(), self.cfg))
        }
    }
}

impl Machine for Recover {
    type Output = Result<Report, OpError>;

    fn op(&self) -> Option<Op> {
        Some(match &self.step {
            Step::List(m) => return m.op(),
            Step::NextId => unreachable!("NextId is resolved in feed"),
            Step::Reserve => Op::Reserve { id: self.id },
            Step::OpenLock => {
                if self.cfg.has(Mutation::RecoveryCreatesLock) {
                    Op::OpenCreate { path: self.lock() }
                } else {
                    Op::Open { path: self.lock() }
                }
            }
            Step::StatData => Op::PathIdentity { path: self.data() },
            // Mutant: the claim without O_EXCL.
            Step::ClaimLock if self.cfg.has(Mutation::RecoveryClaimWithoutExcl) => Op::OpenCreate { path: self.lock() },
            Step::ClaimLock => Op::CreateExcl { path: self.lock() },
            Step::TryLock => Op::TryLock { fd: self.fd.expect("fd") },
            Step::FdIdentity => Op::FdIdentity { fd: self.fd.expect("fd") },
            Step::PathIdentity(_) => Op::PathIdentity { path: self.lock() },
            Step::RemoveData(m) => return m.op(),
            Step::Unlock => Op::Unlock { fd: self.fd.expect("fd") },
            Step::UnlinkLock => Op::Unlink { path: self.lock() },
            Step::Close(_) => Op::Close { fd: self.fd.expect("fd") },
            Step::Release(_) => Op::Release { id: self.id },
            Step::Done(_) => return None,
        })
    }

    fn feed(&mut self, result: OpResult) {
        let op = self.op().expect("feed after done");
        let failed = |errno| Outcome::Failed(OpError::new(op.clone(), errno));
        let step = std::mem::replace(&mut self.step, Step::NextId);
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
            // V3 (per id): reserve the id in-process first; busy means a
            // thread of this process holds it: live.
            (Step::Reserve, Ok(_)) => {
                self.reserved = true;
                Step::OpenLock
            }
            (Step::Reserve, Err(Errno::EBUSY)) => self.end_id(Outcome::Live),
            (Step::Reserve, Err(errno)) => self.end_id(failed(errno)),
            // V4: open the lock file, never creating it.
            (Step::OpenLock, Ok(Value::Fd(fd))) => {
                self.fd = Some(fd);
                Step::TryLock
            }
            (Step::OpenLock, Err(Errno::ENOENT)) => Step::StatData,
            (Step::OpenLock, Err(errno)) => self.end_id(failed(errno)),
            // V8: no lock file: is there data without one?
            (Step::StatData, Ok(_)) => Step::ClaimLock,
            (Step::StatData, Err(Errno::ENOENT)) => self.end_id(Outcome::Gone),
            (Step::StatData, Err(errno)) => self.end_id(failed(errno)),
            // V9: claim data without a lock file by creating the lock
            // exclusively, as a creator would (see the module docs).
            (Step::ClaimLock, Ok(Value::Fd(fd))) => {
                self.fd = Some(fd);
                Step::TryLock
            }
            (Step::ClaimLock, Err(Errno::EEXIST)) if !self.claim_retried => {
                self.claim_retried = true;
                Step::OpenLock
            }
            (Step::ClaimLock, Err(Errno::EEXIST)) => self.end_id(Outcome::Raced),
            (Step::ClaimLock, Err(errno)) => self.end_id(failed(errno)),
            // V5: try the lock without blocking; busy means a live owner.
            (Step::TryLock, Ok(_)) => {
                if self.cfg.has(Mutation::NoIdentityRecheck) || self.cfg.has(Mutation::RecoveryNoIdentityRecheck) {
                    self.after_verified()
                } else {
                    Step::FdIdentity
                }
            }
            // Mutant: a busy lock taken for our own, on to the re-check.
            (Step::TryLock, Err(Errno::EWOULDBLOCK)) if self.cfg.has(Mutation::RecoveryIgnoresBusyLock) => {
                Step::FdIdentity
            }
            (Step::TryLock, Err(Errno::EWOULDBLOCK)) => self.end_id(Outcome::Live),
            (Step::TryLock, Err(errno)) => self.end_id(failed(errno)),
            // V6, V7: identity re-check: the inode we locked is still the one
            // `<id>.lock` names, with a link (INV-1).
            (Step::FdIdentity, Ok(Value::Identity(i))) => Step::PathIdentity(i),
            (Step::FdIdentity, Err(errno)) => self.end_id(failed(errno)),
            (Step::PathIdentity(fd_id), Ok(Value::Identity(path_id))) => {
                if fd_id.kind == FileKind::File && fd_id.same_inode(&path_id) && fd_id.nlink > 0 {
                    self.after_verified()
                } else {
                    self.end_id(Outcome::Raced)
                }
            }
            (Step::PathIdentity(_), Err(Errno::ENOENT)) => self.end_id(Outcome::Raced),
            (Step::PathIdentity(_), Err(errno)) => self.end_id(failed(errno)),
            // V10: remove the data tree while holding the lock (rule 2).
            (Step::RemoveData(m), r) => match feed_sub(m, r) {
                Ok(m) => Step::RemoveData(m),
                Err(Ok(())) if self.cfg.has(Mutation::UnlinkLockBeforeData) => {
                    self.end_id(Outcome::Reclaimed)
                }
                Err(Ok(())) if self.cfg.has(Mutation::RecoveryUnlockBeforeUnlink) => Step::Unlock,
                Err(Ok(())) => Step::UnlinkLock,
                // The lock file stays: the next pass retries this id.
                Err(Err(e)) => {
                    self.owns = false;
                    self.end_id(Outcome::Failed(e))
                }
            },
            (Step::Unlock, _) => Step::UnlinkLock,
            // V11: unlink the lock file while still holding the lock.
            (Step::UnlinkLock, r) => {
                self.owns = false;
                match r {
                    // Mutant: the data goes after the lock file, unowned.
                    Ok(_) | Err(Errno::ENOENT) if self.cfg.has(Mutation::UnlinkLockBeforeData) => {
                        Step::RemoveData(RemoveTree::with_config(self.data(), self.cfg))
                    }
                    Ok(_) => self.end_id(Outcome::Reclaimed),
                    Err(errno) => self.end_id(failed(errno)),
                }
            }
            // V12: close last; the lock goes with the descriptor.
            (Step::Close(outcome), _) => {
                self.fd = None;
                self.owns = false;
                self.end_id(outcome)
            }
            // V12 (end): drop the in-process reservation, record the outcome.
            (Step::Release(outcome), _) => {
                self.reserved = false;
                self.end_id(outcome)
            }
            (step, r) => panic!("recover: {op} returned {r:?} in {step:?}"),
        };
        // Settle NextId: start the next id, or finish the pass.
        if matches!(self.step, Step::NextId) {
            self.step = match self.todo.pop() {
                None => Step::Done(Ok(std::mem::take(&mut *self.report))),
                Some(id) => {
                    self.id = id;
                    self.claim_retried = false;
                    if self.cfg.use_registry {
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
            s => panic!("recover: finish before done ({s:?})"),
        }
    }
}

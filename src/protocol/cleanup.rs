//! Data-before-lock deletion (SPEC.md D1..D4): remove the data tree, then
//! unlink the lock file while still holding the lock, then close.

use super::create::Held;
use super::layout::{data_path, lock_path};
use super::remove_tree::RemoveTree;
use super::{feed_sub, Config, Error, Machine, Mutation};
use crate::fs::{Errno, Op, OpError, OpResult};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Step {
    RemoveData(RemoveTree),
    Unlock,
    /// Mutant only: D4 before D2.
    ReleaseEarly,
    UnlinkLock,
    Close,
    Release,
    Done(Result<(), Error>),
}

/// Cleans up a held instance. Output: `Ok(())`, or the error with the
/// instance still held (lock kept, so nobody else touches what is left)
/// for the caller to retry.
///
/// # Errors
/// The tree removal's first errno other than `ENOENT` (`EBUSY` for a mount
/// inside the tree, `EIO`, `EACCES`), or the lock file's `unlink` errno.
///
/// # Crash safety
/// A crash during removal leaves the lock file and part of the data: no
/// owner, so recovery finishes the job. A crash after the unlink leaves at
/// most a descriptor that the kernel closes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cleanup {
    held: Held,
    cfg: Config,
    owns: bool,
    step: Step,
}

impl Cleanup {
    pub fn new(held: Held, cfg: Config) -> Self {
        let step = if cfg.has(Mutation::UnlinkLockBeforeData) {
            Step::UnlinkLock
        } else {
            Step::RemoveData(RemoveTree::with_config(data_path(&held.root, held.id), cfg))
        };
        Cleanup { held, cfg, owns: true, step }
    }

    /// The id this machine believes it owns: until the lock file is unlinked.
    pub fn owned(&self) -> Option<crate::fs::Id> {
        self.owns.then_some(self.held.id)
    }

    /// The instance being cleaned up.
    pub fn held(&self) -> &Held {
        &self.held
    }

    fn after_data(&self) -> Step {
        if self.cfg.has(Mutation::UnlinkLockBeforeData) {
            Step::Close
        } else if self.cfg.has(Mutation::UnlockBeforeUnlink) {
            Step::Unlock
        } else if self.cfg.has(Mutation::ReleaseBeforeUnlink) && self.held.reserved {
            Step::ReleaseEarly
        } else {
            Step::UnlinkLock
        }
    }

    fn after_close(&self) -> Step {
        if self.held.reserved && !self.cfg.has(Mutation::ReleaseBeforeUnlink) {
            Step::Release
        } else {
            Step::Done(Ok(()))
        }
    }
}

impl Machine for Cleanup {
    type Output = Result<(), (Held, Error)>;

    fn op(&self) -> Option<Op> {
        let lock = || lock_path(&self.held.root, self.held.id);
        Some(match &self.step {
            Step::RemoveData(m) => return m.op(),
            Step::Unlock => Op::Unlock { fd: self.held.fd },
            Step::UnlinkLock => Op::Unlink { path: lock() },
            Step::Close => Op::Close { fd: self.held.fd },
            Step::Release | Step::ReleaseEarly => Op::Release { id: self.held.id },
            Step::Done(_) => return None,
        })
    }

    fn feed(&mut self, result: OpResult) {
        let op = self.op().expect("feed after done");
        let step = std::mem::replace(&mut self.step, Step::Done(Ok(())));
        self.step = match (step, result) {
            // D1: the whole data tree first, lock held throughout (rule 2).
            (Step::RemoveData(m), r) => match feed_sub(m, r) {
                Ok(m) => Step::RemoveData(m),
                Err(Ok(())) => self.after_data(),
                // Keep the lock: what is left stays protected.
                Err(Err(e)) => Step::Done(Err(Error::Op(e))),
            },
            (Step::Unlock, _) => Step::UnlinkLock,
            // Mutant: the reservation goes before the lock file's name.
            (Step::ReleaseEarly, _) => Step::UnlinkLock,
            // D2: unlink the lock file while still holding it; ENOENT means
            // an earlier call already did (idempotent).
            (Step::UnlinkLock, Ok(_)) | (Step::UnlinkLock, Err(Errno::ENOENT)) => {
                self.owns = false;
                if self.cfg.has(Mutation::UnlinkLockBeforeData) {
                    Step::RemoveData(RemoveTree::with_config(data_path(&self.held.root, self.held.id), self.cfg))
                } else {
                    Step::Close
                }
            }
            (Step::UnlinkLock, Err(errno)) => Step::Done(Err(Error::Op(OpError::new(op, errno)))),
            // D3: close last: the lock goes with the descriptor. A close
            // error still frees the descriptor on Linux (close(2)).
            (Step::Close, _) => {
                self.owns = false;
                self.after_close()
            }
            // D4: drop the in-process reservation.
            (Step::Release, _) => Step::Done(Ok(())),
            (Step::Done(_), _) => unreachable!("feed after done"),
        };
    }

    fn finish(self) -> Self::Output {
        match self.step {
            Step::Done(Ok(())) => Ok(()),
            Step::Done(Err(e)) => Err((self.held, e)),
            s => panic!("cleanup: finish before done ({s:?})"),
        }
    }
}

//! Opening the staging root (SPEC.md O1..O3): `lstat` ROOT; create it (0700)
//! when missing and asked to; `lstat` again; refuse anything but a directory,
//! a symlink included (it could point anywhere, and recovery would then
//! delete there).

use std::path::PathBuf;

use super::{Config, Machine, Mutation};
use crate::fs::{Errno, FileKind, Op, OpError, OpResult, Value};

/// Why ROOT cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum RootError {
    /// `lstat` or `mkdir` failed; the message names the path and errno
    /// (`ENOENT` for a missing ROOT when creation was not asked for, or a
    /// missing parent; `EACCES`, `ENOTDIR` for a parent that is a file).
    #[error(transparent)]
    Op(#[from] OpError),
    /// ROOT exists but is not a directory: a symlink (even to a directory)
    /// or a file. Reported as `ELOOP` for a symlink, `ENOTDIR` otherwise.
    #[error("staging root {path} is {what}, not a directory; refusing to use it ({errno})")]
    NotADirectory { path: PathBuf, what: &'static str, errno: Errno },
}

impl RootError {
    /// The errno behind the error (the syscall's, `ELOOP` for a symlink
    /// ROOT, `ENOTDIR` for another non-directory).
    pub fn errno(&self) -> Errno {
        match self {
            RootError::Op(e) => e.errno,
            RootError::NotADirectory { errno, .. } => *errno,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Step {
    Stat,
    Mkdir,
    StatAgain,
    Done(Result<(), RootError>),
}

/// Checks (and with `create`, makes) the staging root. Output: `Ok(())` when
/// ROOT is a directory that is not a symlink.
///
/// # Errors
/// [`RootError`]. A concurrent creator of ROOT is tolerated (`EEXIST` from
/// `mkdir` is followed by the second `lstat`, which decides).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OpenRoot {
    root: PathBuf,
    create: bool,
    step: Step,
    /// Mutant `open-root-follows-symlink`: a symlink ROOT is taken for the
    /// directory it points to.
    follow: bool,
}

impl OpenRoot {
    /// Checks `root`; with `create`, makes it (0700) when missing.
    pub fn new(root: PathBuf, create: bool) -> Self {
        OpenRoot { root, create, step: Step::Stat, follow: false }
    }

    /// As [`OpenRoot::new`], with the protocol configuration (its mutation,
    /// if it changes O1/O3).
    pub fn with_config(root: PathBuf, create: bool, cfg: Config) -> Self {
        OpenRoot { follow: cfg.has(Mutation::OpenRootFollowsSymlink), ..OpenRoot::new(root, create) }
    }

    fn judge(&self, kind: FileKind) -> Step {
        let (what, errno) = match kind {
            FileKind::Dir => return Step::Done(Ok(())),
            // Mutant: `stat(2)` would follow the symlink and report the
            // directory it points to (the model has no `stat`: the mutant
            // takes lstat's answer for that one; its scenarios point ROOT at
            // a directory).
            FileKind::Symlink if self.follow => return Step::Done(Ok(())),
            FileKind::Symlink => ("a symbolic link", Errno::ELOOP),
            FileKind::File => ("a regular file", Errno::ENOTDIR),
            FileKind::Other => ("a special file", Errno::ENOTDIR),
        };
        Step::Done(Err(RootError::NotADirectory { path: self.root.clone(), what, errno }))
    }
}

impl Machine for OpenRoot {
    type Output = Result<(), RootError>;

    fn op(&self) -> Option<Op> {
        Some(match self.step {
            Step::Stat | Step::StatAgain => Op::PathIdentity { path: self.root.clone() },
            Step::Mkdir => Op::Mkdir { path: self.root.clone() },
            Step::Done(_) => return None,
        })
    }

    fn feed(&mut self, result: OpResult) {
        let op = self.op().expect("feed after done");
        let step = std::mem::replace(&mut self.step, Step::Stat);
        self.step = match (step, result) {
            // O1: lstat, never stat: a symlink ROOT is refused, not followed.
            (Step::Stat | Step::StatAgain, Ok(Value::Identity(i))) => self.judge(i.kind),
            (Step::Stat, Err(Errno::ENOENT)) if self.create => Step::Mkdir,
            // O2: create it private to the owner; a concurrent mkdir is fine.
            (Step::Mkdir, Ok(_)) | (Step::Mkdir, Err(Errno::EEXIST)) => Step::StatAgain,
            // O3: whatever is there now decides.
            (_, Err(errno)) => Step::Done(Err(OpError::new(op, errno).into())),
            (step, Ok(v)) => panic!("open_root: {op} returned {v} in {step:?}"),
        };
    }

    fn finish(self) -> Self::Output {
        match self.step {
            Step::Done(r) => r,
            s => panic!("open_root: finish before done ({s:?})"),
        }
    }
}

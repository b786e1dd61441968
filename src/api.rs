//! The public API: the protocol machines run to completion on a backend
//! ([`RealFs`] unless told otherwise), as ordinary Rust.
//!
//! ```no_run
//! # fn main() -> Result<(), stagedir::Error> {
//! let root = stagedir::StagingRoot::open("/var/lib/store/staging")?;
//! let mut instance = root.create_instance()?;
//! // Under the caller's store lock: one rename per item.
//! instance.stage("/var/lib/store/layers/abc")?;
//! // After releasing it: the slow part.
//! instance.cleanup()?;
//! # Ok(()) }
//! ```
//!
//! **Sharing.** A [`StagingRoot`] is a cheap handle (`Clone`, `Send`,
//! `Sync`) on one shared backend behind a mutex from [`crate::sync`]. The
//! mutex is held for one [`Op`] at a time, never for a whole role, so
//! threads interleave operation by operation: a thread waits at most for one
//! syscall of another, and a long cleanup never blocks a `stage` for longer
//! than that. Every [`Instance`] keeps a handle on the same backend.
//!
//! **The protocol does no I/O except through [`Fs`]**: this module only
//! runs machines; it makes no syscall of its own (`std::path::absolute`
//! reads the working directory to make ROOT absolute, once, in `open`).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::fs::real::RealFs;
use crate::fs::{id_hex, Errno, Fs, Id, Op, OpError, OpResult};
use crate::protocol::cleanup::Cleanup;
use crate::protocol::create::{Create, Held};
use crate::protocol::open_root::{OpenRoot, RootError};
use crate::protocol::recover::{Recover, Report};
use crate::protocol::stage::Stage;
use crate::protocol::status::{Status, StatusReport};
use crate::protocol::{self, layout, Config, Machine};
use crate::sync::{Arc, Mutex};

/// Why an API call failed. Every message names the path(s) and the errno.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// ROOT is unusable: missing (without `create_root`), not a directory,
    /// or a symlink (see [`RootError`]).
    #[error(transparent)]
    Root(#[from] RootError),
    /// A role failed: the operation, its path and the errno, or exhausted
    /// creation attempts.
    #[error(transparent)]
    Protocol(#[from] protocol::Error),
    /// `rename(2)` returned `EXDEV`: the item is on another filesystem than
    /// ROOT. Staging never copies; the item is untouched.
    #[error("cannot stage {from}: it is on another filesystem than the staging directory {to} (EXDEV: rename(2) cannot cross filesystems; nothing was copied or moved)")]
    CrossDevice { from: PathBuf, to: PathBuf },
    /// `stage` was called on an instance that was already cleaned up.
    #[error("cannot stage {path}: instance {id} is already cleaned up (EINVAL)")]
    CleanedUp { id: String, path: PathBuf },
}

impl Error {
    /// The errno behind this error: the failing syscall's, `EXDEV` for
    /// [`Error::CrossDevice`], `EEXIST` for exhausted creation attempts,
    /// `EINVAL` for a path without a file name or a cleaned-up instance.
    pub fn errno(&self) -> Errno {
        match self {
            Error::Root(e) => e.errno(),
            Error::Protocol(e) => e.errno(),
            Error::CrossDevice { .. } => Errno::EXDEV,
            Error::CleanedUp { .. } => Errno::EINVAL,
        }
    }

    /// The path the error is about, when there is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Error::Root(RootError::Op(e)) | Error::Protocol(protocol::Error::Op(e)) => e.op.path(),
            Error::Root(RootError::NotADirectory { path, .. }) => Some(path),
            Error::Protocol(protocol::Error::AttemptsExhausted { root, .. }) => Some(root),
            Error::Protocol(protocol::Error::NoFileName { path }) => Some(path),
            Error::CrossDevice { from, .. } => Some(from),
            Error::CleanedUp { path, .. } => Some(path),
        }
    }
}

impl From<OpError> for Error {
    fn from(e: OpError) -> Self {
        Error::Protocol(protocol::Error::Op(e))
    }
}

/// How to open a staging root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Create ROOT (mode 0700) when it is missing. `true` for
    /// [`StagingRoot::open`], `false` for [`StagingRoot::open_existing`].
    pub create_root: bool,
    /// Protocol parameters; [`Config::reference`] unless a checker asks
    /// for a variant.
    pub config: Config,
}

impl Default for Options {
    fn default() -> Self {
        Options { create_root: true, config: Config::reference() }
    }
}

struct Shared<F> {
    root: PathBuf,
    cfg: Config,
    fs: Mutex<F>,
}

impl<F: Fs> Shared<F> {
    /// Runs `machine` to completion, holding the backend's mutex for one
    /// operation at a time.
    fn run<M: Machine>(&self, machine: M) -> M::Output {
        protocol::run(machine, &mut PerOp(&self.fs))
    }

    fn execute(&self, op: &Op) -> OpResult {
        PerOp(&self.fs).execute(op)
    }
}

/// Locks the shared backend for exactly one operation.
struct PerOp<'a, F>(&'a Mutex<F>);

impl<F: Fs> Fs for PerOp<'_, F> {
    fn execute(&mut self, op: &Op) -> OpResult {
        // A panic in another thread's backend call leaves the descriptor
        // table consistent (each op changes it at most once, at the end).
        let mut fs = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        fs.execute(op)
    }
}

/// A staging root: the directory that holds `<id>.lock` files and
/// `<id>.data/` directories (SPEC.md "Layout").
///
/// Cheap to clone; `Send + Sync` when the backend is `Send` (it is shared by
/// all clones and instances behind one mutex, one operation at a time).
pub struct StagingRoot<F: Fs = RealFs> {
    shared: Arc<Shared<F>>,
}

impl<F: Fs> Clone for StagingRoot<F> {
    fn clone(&self) -> Self {
        StagingRoot { shared: Arc::clone(&self.shared) }
    }
}

impl<F: Fs> fmt::Debug for StagingRoot<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StagingRoot").field("root", &self.shared.root).finish_non_exhaustive()
    }
}

impl StagingRoot<RealFs> {
    /// Opens the staging root at `path`, creating it (mode 0700, mkdir(2))
    /// when it is missing. A relative `path` is made absolute against the
    /// current directory now.
    ///
    /// # Errors
    /// [`Error::Root`]: `lstat(2)`/`mkdir(2)` errno (`ENOENT` for a missing
    /// parent, `EACCES`, `ENOTDIR`), or ROOT is a symlink (`ELOOP`) or not a
    /// directory (`ENOTDIR`); the message names ROOT.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::open_with(path, RealFs::new(), Options::default())
    }

    /// Like [`StagingRoot::open`], but a missing ROOT is an error (`ENOENT`)
    /// rather than created: for tools that must change nothing (status).
    ///
    /// # Errors
    /// As [`StagingRoot::open`], plus `ENOENT` when ROOT does not exist.
    pub fn open_existing(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::open_with(path, RealFs::new(), Options { create_root: false, ..Options::default() })
    }
}

impl<F: Fs> StagingRoot<F> {
    /// Opens the staging root at `path` on the backend `fs`.
    ///
    /// # Errors
    /// As [`StagingRoot::open`].
    pub fn open_with(path: impl AsRef<Path>, mut fs: F, options: Options) -> Result<Self, Error> {
        let root = std::path::absolute(path.as_ref()).unwrap_or_else(|_| path.as_ref().to_path_buf());
        protocol::run(OpenRoot::new(root.clone(), options.create_root), &mut fs)?;
        let shared = Shared { root, cfg: options.config, fs: Mutex::new(fs) };
        Ok(StagingRoot { shared: Arc::new(shared) })
    }

    /// The staging root's absolute path.
    pub fn path(&self) -> &Path {
        &self.shared.root
    }

    /// Runs `f` on the backend, holding its mutex (for tests: descriptor
    /// counts, fault injection).
    pub fn with_backend<R>(&self, f: impl FnOnce(&mut F) -> R) -> R {
        let mut fs = self.shared.fs.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut fs)
    }

    /// Creates a new instance, lock first (SPEC.md C1..C7, rule 1): a fresh
    /// 128-bit id from getrandom(2), `<id>.lock` created with `O_EXCL`,
    /// locked with `flock(LOCK_EX|LOCK_NB)`, its identity checked with
    /// fstat(2)/lstat(2), and only then `<id>.data` made with mkdir(2).
    ///
    /// # Errors
    /// [`Error::Protocol`]: the errno of a failing syscall other than those
    /// that mean "try another id" (`EACCES`, `ENOSPC`, `EROFS`, ...), or
    /// `AttemptsExhausted` after [`Config::attempts_max`] busy or taken ids.
    ///
    /// # Crash safety
    /// A crash leaves at most a lock file and an empty data directory,
    /// which [`StagingRoot::recover`] reclaims.
    pub fn create_instance(&self) -> Result<Instance<F>, Error> {
        let held = self.shared.run(Create::new(self.shared.root.clone(), self.shared.cfg))?;
        Ok(Instance { shared: Arc::clone(&self.shared), id: held.id, held: Some(held) })
    }

    /// One recovery pass (SPEC.md V1..V12, rule 3): lists ROOT once and, for
    /// each id found, reclaims it when its lock can be taken (owner gone),
    /// skips it when the lock is busy (owner alive, also in this process).
    ///
    /// # Errors
    /// Only when ROOT cannot be listed (`open(2)`/`getdents64(2)` errno);
    /// per-id failures (`EBUSY` for a mount point in a stale tree, `EIO`,
    /// ...) are in [`Report::errors`] and the other ids go on.
    pub fn recover(&self) -> Result<Report, Error> {
        Ok(self.shared.run(Recover::new(self.shared.root.clone(), self.shared.cfg))?)
    }

    /// Which instances are live and which stale, changing nothing on disk
    /// (see [`crate::protocol::status`] for the one transient effect).
    ///
    /// # Errors
    /// Only when ROOT cannot be listed; per-id failures are in
    /// [`StatusReport::errors`].
    pub fn status(&self) -> Result<StatusReport, Error> {
        Ok(self.shared.run(Status::new(self.shared.root.clone(), self.shared.cfg))?)
    }
}

/// A live staging instance: its lock is held (through a descriptor of the
/// root's backend) and its data directory exists, until [`Instance::cleanup`]
/// succeeds.
///
/// Dropping an instance without cleanup only closes its descriptor and drops
/// its in-process reservation, exactly what a crash does: the lock goes, the
/// files stay, and the next [`StagingRoot::recover`] reclaims them.
pub struct Instance<F: Fs = RealFs> {
    shared: Arc<Shared<F>>,
    id: Id,
    /// `None` once cleaned up.
    held: Option<Held>,
}

impl<F: Fs> fmt::Debug for Instance<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instance")
            .field("id", &id_hex(self.id))
            .field("held", &self.held)
            .finish_non_exhaustive()
    }
}

impl<F: Fs> Instance<F> {
    /// The instance's id.
    pub fn id(&self) -> Id {
        self.id
    }

    /// `ROOT/<id>.data`, where staged items go.
    pub fn data_dir(&self) -> PathBuf {
        layout::data_path(&self.shared.root, self.id)
    }

    /// `ROOT/<id>.lock`.
    pub fn lock_file(&self) -> PathBuf {
        layout::lock_path(&self.shared.root, self.id)
    }

    /// How many items were staged into this instance.
    pub fn staged(&self) -> u64 {
        self.held.as_ref().map_or(0, |h| h.staged)
    }

    /// True once [`Instance::cleanup`] has succeeded.
    pub fn is_cleaned_up(&self) -> bool {
        self.held.is_none()
    }

    /// Moves `path` (a file, directory or symlink; a symlink is moved, not
    /// followed) into the data directory as `<n>-<basename>` with one
    /// `renameat2(RENAME_NOREPLACE)` (SPEC.md S1). Returns the new path.
    ///
    /// Ok means `path` is gone and the item is in the instance; Err means
    /// `path` is untouched (rename(2) is atomic).
    ///
    /// # Errors
    /// [`Error::CrossDevice`] (`EXDEV`) when `path` is on another filesystem
    /// than ROOT, naming both; [`Error::Protocol`] with the rename errno
    /// (`ENOENT`, `EACCES`, `EBUSY` for a mount point, `EINVAL` for moving
    /// ROOT into itself, `ENAMETOOLONG` when `<n>-<basename>` exceeds 255
    /// bytes) or `NoFileName` (`EINVAL`) for a path like `/` or `..`;
    /// [`Error::CleanedUp`] after a successful cleanup.
    pub fn stage(&mut self, path: impl AsRef<Path>) -> Result<PathBuf, Error> {
        let path = path.as_ref();
        let Some(held) = self.held.as_mut() else {
            return Err(Error::CleanedUp { id: id_hex(self.id), path: path.to_path_buf() });
        };
        match self.shared.run(Stage::new(held, path)) {
            Ok(to) => {
                held.staged += 1;
                Ok(to)
            }
            Err(protocol::Error::Op(OpError { op: Op::Rename { from, to }, errno: Errno::EXDEV })) => {
                Err(Error::CrossDevice { from, to: to.parent().map(Path::to_path_buf).unwrap_or(to) })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Removes the data tree without following symlinks, then unlinks the
    /// lock file while still holding the lock, then closes it (SPEC.md
    /// D1..D4, rule 2).
    ///
    /// Idempotent: after a success, calling again returns `Ok(())` at once.
    ///
    /// # Errors
    /// The first failing removal syscall other than `ENOENT` (unlink(2),
    /// rmdir(2), open(2), getdents64(2): `EBUSY` for a mount point in the
    /// tree, `EIO`, `ENAMETOOLONG` for a path beyond `PATH_MAX`, `ELOOP` for
    /// a tree deeper than [`protocol::remove_tree::DEPTH_MAX`]), or the lock
    /// file's unlink errno. The instance then stays held (locked, so no
    /// recoverer touches what is left) and calling again retries.
    ///
    /// # Crash safety
    /// A crash part way leaves the lock file and what is left of the data;
    /// recovery finishes the job.
    pub fn cleanup(&mut self) -> Result<(), Error> {
        let Some(held) = self.held.take() else { return Ok(()) };
        match self.shared.run(Cleanup::new(held, self.shared.cfg)) {
            Ok(()) => Ok(()),
            Err((held, e)) => {
                self.held = Some(held);
                Err(e.into())
            }
        }
    }
}

impl<F: Fs> Drop for Instance<F> {
    /// Closes the lock descriptor and drops the reservation; never deletes
    /// (a drop is a crash as far as the disk is concerned).
    fn drop(&mut self) {
        if let Some(held) = self.held.take() {
            let _ = self.shared.execute(&Op::Close { fd: held.fd });
            if held.reserved {
                let _ = self.shared.execute(&Op::Release { id: held.id });
            }
        }
    }
}

#[allow(dead_code)]
fn assert_send_sync() {
    fn check<T: Send + Sync>() {}
    check::<StagingRoot>();
    check::<Instance>();
}

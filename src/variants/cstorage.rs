//! containers/storage as merged in 2025 (`cstorage-2025`): `internal/tempdir`,
//! `internal/staging_lockfile`, `internal/rawfilelock`, modelled step by step
//! from `/work/shared/design/prior-art.md` ("containers/storage, as merged in
//! 2025"), one [`Op`] a step.
//!
//! Layout: `ROOT/lock-<ID>` (regular file) and `ROOT/temp-dir-<ID>/` (data),
//! `<ID>` the decimal suffix `os.CreateTemp(ROOT, "lock-")` picked. Lock kind:
//! POSIX record locks ([`crate::fs::sim::LockKind::Posix`], the variant's
//! default), with the process-wide path map modelled by
//! [`Op::Reserve`]/[`Op::Release`].
//!
//! The creator ([`Creator`]):
//! - `CreateAndLock`, one attempt per name: draw a suffix ([`Op::DrawId`]),
//!   `CreateTemp` = [`Op::CreateExcl`] of `lock-<ID>` (`EEXIST`: draw again),
//!   close it, then `tryAcquireLockForFile`: map check ([`Op::Reserve`]), open
//!   again with `O_CREAT` ([`Op::OpenCreate`]), `F_SETLK` ([`Op::TryLock`]).
//!   Any failure of that second part closes what it opened, leaves the file
//!   behind and tries a new name. **No check after locking that the path
//!   still names the locked file.**
//! - `MkdirAll(temp-dir-<ID>)` ([`Op::Mkdir`], `EEXIST` accepted).
//! - `Add`: `rename(item, temp-dir-<ID>/<n>-<basename>)`, n from 0.
//! - `Cleanup`: `RemoveAll(temp-dir-<ID>)`; on error return it, keeping the
//!   lock (the driver retries `cleanup_retries` times). Then
//!   `UnlockAndDelete`: unlink `lock-<ID>` (`ENOENT` is fine), close,
//!   drop the map entry.
//!
//! The recoverer ([`Recoverer`], `RecoverStaleDirs`): one complete listing
//! of ROOT; ids from both `lock-*` and `temp-dir-*`; per id `TryLockPath`:
//! map check, [`Op::OpenCreate`] (**creates a missing lock file**), try-lock;
//! any error means "in use": skip. On success `RemoveAll(temp-dir-<ID>)`,
//! then `UnlockAndDelete` (unlink, close, drop the map entry).
//!
//! # Modelling choices
//! - **When the map entry is held.** Upstream checks the map, opens, locks
//!   and inserts on success under one process mutex, and unlinks, closes
//!   and deletes the entry under the same mutex; a second thread blocks on
//!   the mutex and then sees the outcome. The model has no blocking: the
//!   entry is reserved ([`Op::Reserve`]) before the open and released after
//!   a failed lock's close, or after the close in `UnlockAndDelete`, so a
//!   thread arriving in between sees "in use" at once. That is what it
//!   would conclude after waiting when the holder's attempt succeeds; when
//!   the attempt fails, another process holds the file and its own try-lock
//!   would fail too; after an `UnlockAndDelete` it would only have
//!   recreated and removed an empty lock file. The `close` after
//!   `CreateTemp` is outside the mutex upstream and here: under POSIX locks
//!   it drops every lock the process holds on that file, a sibling
//!   thread's included. The map is always used (upstream has no switch:
//!   `RoleParams::use_registry` is ignored).
//! - **Retry bounds.** Upstream makes `maxRetries + 1` = 1001 lock attempts
//!   (and then dereferences a nil lock in the error message: a panic, which
//!   in the model is the process ending) and `CreateTemp` tries 10000 names.
//!   Both are bounded here by `RoleParams::attempts_max`, counted separately.
//! - **Which errors retry.** Upstream retries on *any* error of
//!   `tryAcquireLockForFile` (map refusal, open error, lock error), not only
//!   `EWOULDBLOCK`; so does the model. A `CreateTemp` error other than
//!   `EEXIST` ends `CreateAndLock` (the process stages nothing).
//! - **`MkdirAll`.** One [`Op::Mkdir`]; `EEXIST` counts as success without a
//!   type check (upstream `stat`s, following symlinks, and accepts any
//!   directory). Another error leaves the lock held with no data path;
//!   upstream's `Cleanup` then runs `RemoveAll("")` (a no-op) and
//!   `UnlockAndDelete`, so the model goes straight to the unlink.
//! - **Stage.** [`Op::Rename`] is `renameat2(RENAME_NOREPLACE)`; upstream
//!   uses plain `rename(2)`, which would replace an existing destination.
//!   The counter advances even when the rename fails (as upstream's does).
//!   A failed stage goes on with the next item (the driver's choice, as in
//!   [`super::reference`]).
//! - **`RemoveAll`** is [`RemoveTree`]: lists a directory completely then
//!   removes in name order with at most `RELIST_MAX` re-listings; Go's
//!   `RemoveAll` removes while reading and re-reads until the directory is
//!   empty. Both treat `ENOENT` as done and fail on `EBUSY`/`EIO`.
//! - **Unlink failure in `UnlockAndDelete`.** Upstream returns the error but
//!   still closes and drops the map entry (deferred), so the model does too;
//!   the lock file then stays, unlocked.
//! - **Recovery after a failed `RemoveAll`.** prior-art.md does not say;
//!   upstream collects the error and still calls `UnlockAndDelete`, leaving
//!   the rest of the data without a lock file. Modelled as upstream (it is
//!   also the harder choice for the protocol).
//! - **Order of ids.** Upstream iterates a Go map (random order); the model
//!   visits ids in ascending order, one of the orders Go can produce.
//! - **Names.** Upstream treats any suffix after `lock-`/`temp-dir-` as an
//!   id; the model's ids are `u128` in canonical decimal, so a non-canonical
//!   suffix is foreign here (scenarios plant none).
//! - **Symlinks.** Upstream opens lock files without `O_NOFOLLOW`;
//!   [`Op::OpenCreate`] has it. A symlink named `lock-<ID>` is therefore
//!   `ELOOP` here, where upstream would lock (and possibly create) its target.
//! - **No store lock.** Upstream runs recovery when the layer store loads,
//!   under the store lock, and `Add` runs under that lock too; the model
//!   runs the `tempdir` package on its own contract (its docs name no outer
//!   lock), which is the harder choice: a finding that needs recovery to
//!   overlap creation is a finding about the package, and may be closed in
//!   podman by the store lock's mutual exclusion.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{parse_decimal_id, Entry, Role, RoleParams};
use crate::fs::{Errno, Fd, Id, Op, OpResult, Value};
use crate::protocol::remove_tree::RemoveTree;
use crate::protocol::{feed_sub, Machine};

/// Prefix of an instance's lock file (`tempdirLockPrefix`).
pub const LOCK_PREFIX: &str = "lock-";
/// Prefix of an instance's data directory (`tempDirPrefix`).
pub const DATA_PREFIX: &str = "temp-dir-";

/// `ROOT/lock-<id>`.
pub fn lock_path(root: &Path, id: Id) -> PathBuf {
    root.join(format!("{LOCK_PREFIX}{id}"))
}

/// `ROOT/temp-dir-<id>`.
pub fn data_path(root: &Path, id: Id) -> PathBuf {
    root.join(format!("{DATA_PREFIX}{id}"))
}

/// Classifies one entry name of ROOT.
pub fn classify(name: &str) -> Entry {
    if let Some(id) = name.strip_prefix(LOCK_PREFIX).and_then(parse_decimal_id) {
        return Entry::Lock(id);
    }
    if let Some(id) = name.strip_prefix(DATA_PREFIX).and_then(parse_decimal_id) {
        return Entry::Data(id);
    }
    Entry::Foreign
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum CStep {
    DrawId,
    CreateTemp,
    CloseTemp(Fd),
    Reserve,
    OpenLock,
    TryLock(Fd),
    CloseFailed(Fd),
    ReleaseFailed,
    Mkdir,
    Stage { from: PathBuf, to: PathBuf },
    RemoveData(RemoveTree),
    UnlinkLock,
    CloseLock,
    ReleaseLock,
    Done,
}

/// Creates one instance with `CreateAndLock` + `MkdirAll`, stages `items`
/// with `Add`, and runs `Cleanup`, then ends.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Creator {
    root: PathBuf,
    items: Vec<PathBuf>,
    next_item: usize,
    attempts_max: u32,
    /// `tryAcquireLockForFile` attempts that failed so far.
    lock_attempts: u32,
    /// Names `CreateTemp` found taken in the current call.
    names_taken: u32,
    cleanup_retries: u8,
    id: Id,
    fd: Fd,
    /// `td.counter`: the next item's `<n>`.
    counter: u64,
    owns: bool,
    step: CStep,
}

impl Creator {
    pub fn new(root: PathBuf, params: &RoleParams, items: Vec<PathBuf>) -> Self {
        assert!(params.attempts_max > 0, "attempts_max must be positive");
        Creator {
            root,
            items,
            next_item: 0,
            attempts_max: params.attempts_max,
            lock_attempts: 0,
            names_taken: 0,
            cleanup_retries: params.cleanup_retries,
            id: 0,
            fd: 0,
            counter: 0,
            owns: false,
            step: CStep::DrawId,
        }
    }

    fn lock(&self) -> PathBuf {
        lock_path(&self.root, self.id)
    }

    fn data(&self) -> PathBuf {
        data_path(&self.root, self.id)
    }

    /// One `tryAcquireLockForFile` failed: leave the file behind and try a
    /// new name, or give up (upstream: a panic after 1001 attempts).
    fn next_attempt(&mut self) -> CStep {
        self.lock_attempts += 1;
        if self.lock_attempts >= self.attempts_max {
            CStep::Done
        } else {
            CStep::DrawId
        }
    }

    /// `Add` for the next item (`<n>` advances whatever the rename does),
    /// or `Cleanup` after the last.
    fn next_stage(&mut self) -> CStep {
        match self.items.get(self.next_item) {
            Some(item) => {
                self.next_item += 1;
                let base = item.file_name().expect("staged items have a file name").to_string_lossy();
                let to = self.data().join(format!("{}-{base}", self.counter));
                self.counter += 1;
                CStep::Stage { from: item.clone(), to }
            }
            None => CStep::RemoveData(RemoveTree::new(self.data())),
        }
    }
}

impl Role for Creator {
    fn op(&self) -> Option<Op> {
        Some(match &self.step {
            CStep::DrawId => Op::DrawId,
            CStep::CreateTemp => Op::CreateExcl { path: self.lock() },
            CStep::CloseTemp(fd) | CStep::CloseFailed(fd) => Op::Close { fd: *fd },
            CStep::Reserve => Op::Reserve { id: self.id },
            CStep::OpenLock => Op::OpenCreate { path: self.lock() },
            CStep::TryLock(fd) => Op::TryLock { fd: *fd },
            CStep::ReleaseFailed | CStep::ReleaseLock => Op::Release { id: self.id },
            CStep::Mkdir => Op::Mkdir { path: self.data() },
            CStep::Stage { from, to } => Op::Rename { from: from.clone(), to: to.clone() },
            CStep::RemoveData(m) => return m.op(),
            CStep::UnlinkLock => Op::Unlink { path: self.lock() },
            CStep::CloseLock => Op::Close { fd: self.fd },
            CStep::Done => return None,
        })
    }

    fn feed(&mut self, result: OpResult) {
        let step = std::mem::replace(&mut self.step, CStep::Done);
        self.step = match (step, result) {
            // CreateTemp: a random decimal suffix.
            (CStep::DrawId, Ok(Value::Id(id))) => {
                self.id = id;
                CStep::CreateTemp
            }
            // CreateTemp: O_EXCL, so the name was free a moment ago; a taken
            // name draws again, inside CreateTemp.
            (CStep::CreateTemp, Ok(Value::Fd(fd))) => CStep::CloseTemp(fd),
            (CStep::CreateTemp, Err(Errno::EEXIST)) => {
                self.names_taken += 1;
                if self.names_taken >= self.attempts_max {
                    CStep::Done
                } else {
                    CStep::DrawId
                }
            }
            (CStep::CreateTemp, Err(_)) => CStep::Done,
            // file.Close(): the window opens. From here until our F_SETLK,
            // the file has a name and no lock: a recoverer may lock it,
            // remove it, and another process may recreate the name.
            (CStep::CloseTemp(_), _) => {
                self.names_taken = 0;
                CStep::Reserve
            }
            // tryAcquireLockForFile: refuse a second in-process lock of the path.
            (CStep::Reserve, Ok(_)) => CStep::OpenLock,
            (CStep::Reserve, Err(_)) => self.next_attempt(),
            // Reopen with O_CREAT: if a recoverer removed our file, this
            // silently creates a new one of the same name.
            (CStep::OpenLock, Ok(Value::Fd(fd))) => CStep::TryLock(fd),
            (CStep::OpenLock, Err(_)) => CStep::ReleaseFailed,
            // F_SETLK. Success is trusted: no check that `lock-<ID>` still
            // names the inode we locked (the hazard of prior-art's "known
            // failure classes", first item).
            (CStep::TryLock(fd), Ok(_)) => {
                self.fd = fd;
                self.owns = true;
                CStep::Mkdir
            }
            // Busy (or any error): close, leave the file behind, new name.
            (CStep::TryLock(fd), Err(_)) => CStep::CloseFailed(fd),
            (CStep::CloseFailed(_), _) => CStep::ReleaseFailed,
            (CStep::ReleaseFailed, _) => self.next_attempt(),
            // MkdirAll: an existing directory is adopted as ours.
            (CStep::Mkdir, Ok(_)) | (CStep::Mkdir, Err(Errno::EEXIST)) => self.next_stage(),
            // initInstanceTempDir failed with the lock held; Cleanup's
            // RemoveAll("") is a no-op, then UnlockAndDelete.
            (CStep::Mkdir, Err(_)) => CStep::UnlinkLock,
            // Add: one rename; its result is Add's result.
            (CStep::Stage { .. }, _) => self.next_stage(),
            // Cleanup: RemoveAll first, lock held throughout.
            (CStep::RemoveData(m), r) => match feed_sub(m, r) {
                Ok(m) => CStep::RemoveData(m),
                Err(Ok(())) => CStep::UnlinkLock,
                // Error returned, lock kept: the caller may retry.
                Err(Err(_)) if self.cleanup_retries > 0 => {
                    self.cleanup_retries -= 1;
                    CStep::RemoveData(RemoveTree::new(self.data()))
                }
                // Give up holding it: the process exits, the kernel
                // closes the descriptor, the lock file stays.
                Err(Err(_)) => CStep::Done,
            },
            // UnlockAndDelete: unlink while still holding the lock; ENOENT
            // is fine; another error still closes (deferred).
            (CStep::UnlinkLock, r) => {
                if matches!(r, Ok(_) | Err(Errno::ENOENT)) {
                    self.owns = false;
                }
                CStep::CloseLock
            }
            // Closing releases the POSIX lock; then the map entry goes.
            (CStep::CloseLock, _) => {
                self.owns = false;
                CStep::ReleaseLock
            }
            (CStep::ReleaseLock, _) => CStep::Done,
            (step, r) => panic!("cstorage creator: {r:?} in {step:?}"),
        };
    }

    fn owned(&self) -> Option<Id> {
        self.owns.then_some(self.id)
    }

    fn is_recoverer(&self) -> bool {
        false
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum RStep {
    OpenRoot,
    ReadRoot(Fd),
    CloseRoot(Fd),
    AbortList(Fd),
    Reserve,
    OpenLock,
    TryLock(Fd),
    CloseBusy(Fd),
    ReleaseBusy,
    RemoveData(RemoveTree),
    UnlinkLock,
    CloseLock,
    ReleaseLock,
    Done,
}

/// Runs `passes` passes of `RecoverStaleDirs` over ROOT, then ends.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Recoverer {
    root: PathBuf,
    passes_left: u8,
    seen: BTreeSet<Id>,
    /// Ids still to visit, largest first (popped from the back).
    todo: Vec<Id>,
    id: Id,
    fd: Fd,
    owns: bool,
    step: RStep,
}

impl Recoverer {
    pub fn new(root: PathBuf, passes: u8) -> Self {
        assert!(passes > 0, "a recoverer runs at least one pass");
        Recoverer {
            root,
            passes_left: passes - 1,
            seen: BTreeSet::new(),
            todo: Vec::new(),
            id: 0,
            fd: 0,
            owns: false,
            step: RStep::OpenRoot,
        }
    }

    fn lock(&self) -> PathBuf {
        lock_path(&self.root, self.id)
    }

    fn data(&self) -> PathBuf {
        data_path(&self.root, self.id)
    }

    fn end_pass(&mut self) -> RStep {
        self.seen.clear();
        self.todo.clear();
        if self.passes_left > 0 {
            self.passes_left -= 1;
            RStep::OpenRoot
        } else {
            RStep::Done
        }
    }

    fn next_id(&mut self) -> RStep {
        match self.todo.pop() {
            Some(id) => {
                self.id = id;
                RStep::Reserve
            }
            None => self.end_pass(),
        }
    }
}

impl Role for Recoverer {
    fn op(&self) -> Option<Op> {
        Some(match &self.step {
            RStep::OpenRoot => Op::OpenDir { path: self.root.clone() },
            RStep::ReadRoot(fd) => Op::ReadDirNext { fd: *fd },
            RStep::CloseRoot(fd) | RStep::AbortList(fd) | RStep::CloseBusy(fd) => Op::Close { fd: *fd },
            RStep::Reserve => Op::Reserve { id: self.id },
            RStep::OpenLock => Op::OpenCreate { path: self.lock() },
            RStep::TryLock(fd) => Op::TryLock { fd: *fd },
            RStep::ReleaseBusy | RStep::ReleaseLock => Op::Release { id: self.id },
            RStep::RemoveData(m) => return m.op(),
            RStep::UnlinkLock => Op::Unlink { path: self.lock() },
            RStep::CloseLock => Op::Close { fd: self.fd },
            RStep::Done => return None,
        })
    }

    fn feed(&mut self, result: OpResult) {
        let step = std::mem::replace(&mut self.step, RStep::Done);
        self.step = match (step, result) {
            // listPotentialStaleDirs: os.ReadDir(ROOT), read completely.
            (RStep::OpenRoot, Ok(Value::Fd(fd))) => RStep::ReadRoot(fd),
            (RStep::OpenRoot, Err(_)) => self.end_pass(),
            // Ids from both names: a data directory alone yields its id too.
            (RStep::ReadRoot(fd), Ok(Value::Entry(Some(e)))) => {
                if let Entry::Lock(id) | Entry::Data(id) = classify(&e.name) {
                    self.seen.insert(id);
                }
                RStep::ReadRoot(fd)
            }
            (RStep::ReadRoot(fd), Ok(Value::Entry(None))) => RStep::CloseRoot(fd),
            (RStep::ReadRoot(fd), Err(_)) => RStep::AbortList(fd),
            (RStep::AbortList(_), _) => self.end_pass(),
            (RStep::CloseRoot(_), _) => {
                self.todo = std::mem::take(&mut self.seen).into_iter().rev().collect();
                self.next_id()
            }
            // TryLockPath: the in-process map first; refused means in use.
            (RStep::Reserve, Ok(_)) => RStep::OpenLock,
            (RStep::Reserve, Err(_)) => self.next_id(),
            // O_CREAT: where only `temp-dir-<ID>` exists this creates
            // `lock-<ID>`, and locks a name a creator may be about to use.
            (RStep::OpenLock, Ok(Value::Fd(fd))) => RStep::TryLock(fd),
            (RStep::OpenLock, Err(_)) => RStep::ReleaseBusy,
            // F_SETLK: acquired means stale, with no identity check.
            (RStep::TryLock(fd), Ok(_)) => {
                self.fd = fd;
                self.owns = true;
                RStep::RemoveData(RemoveTree::new(self.data()))
            }
            // Any error: "in use", skip.
            (RStep::TryLock(fd), Err(_)) => RStep::CloseBusy(fd),
            (RStep::CloseBusy(_), _) => RStep::ReleaseBusy,
            (RStep::ReleaseBusy, _) => self.next_id(),
            // RemoveAll(temp-dir-<ID>); an error is collected and the lock
            // file is deleted anyway.
            (RStep::RemoveData(mut m), r) => {
                m.feed(r);
                match m.op() {
                    Some(_) => RStep::RemoveData(m),
                    None => RStep::UnlinkLock,
                }
            }
            // UnlockAndDelete: unlink while holding, then close, then map.
            (RStep::UnlinkLock, r) => {
                if matches!(r, Ok(_) | Err(Errno::ENOENT)) {
                    self.owns = false;
                }
                RStep::CloseLock
            }
            (RStep::CloseLock, _) => {
                self.owns = false;
                RStep::ReleaseLock
            }
            (RStep::ReleaseLock, _) => self.next_id(),
            (step, r) => panic!("cstorage recoverer: {r:?} in {step:?}"),
        };
    }

    fn owned(&self) -> Option<Id> {
        self.owns.then_some(self.id)
    }

    fn is_recoverer(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let root = Path::new("/r");
        assert_eq!(lock_path(root, 42), PathBuf::from("/r/lock-42"));
        assert_eq!(data_path(root, 0), PathBuf::from("/r/temp-dir-0"));
        assert_eq!(classify("lock-42"), Entry::Lock(42));
        assert_eq!(classify("temp-dir-7"), Entry::Data(7));
        assert_eq!(classify(&format!("temp-dir-{}", u128::MAX)), Entry::Data(u128::MAX));
        assert_eq!(classify("lock-042"), Entry::Foreign);
        assert_eq!(classify("lock-"), Entry::Foreign);
        assert_eq!(classify("lock-x1"), Entry::Foreign);
        assert_eq!(classify("temp-dir-1/"), Entry::Foreign);
    }

    /// Feeds `results` in order and returns the operations asked for.
    #[track_caller]
    fn drive(role: &mut dyn Role, results: Vec<OpResult>) -> Vec<Op> {
        let mut ops = Vec::new();
        for r in results {
            ops.push(role.op().expect("role still running"));
            role.feed(r);
        }
        ops
    }

    fn params(attempts_max: u32) -> RoleParams {
        RoleParams { attempts_max, use_registry: false, cleanup_retries: 0, open_root: false }
    }

    #[test]
    fn create_and_lock_reopens_and_trusts_the_lock() {
        let mut c = Creator::new(PathBuf::from("/r"), &params(2), vec![PathBuf::from("/s/a")]);
        let ops = drive(
            &mut c,
            vec![Ok(Value::Id(3)), Ok(Value::Fd(0)), Ok(Value::Unit), Ok(Value::Unit), Ok(Value::Fd(0)), Ok(Value::Unit)],
        );
        let lock = PathBuf::from("/r/lock-3");
        assert_eq!(
            ops,
            vec![
                Op::DrawId,
                Op::CreateExcl { path: lock.clone() },
                Op::Close { fd: 0 },
                Op::Reserve { id: 3 },
                Op::OpenCreate { path: lock },
                Op::TryLock { fd: 0 },
            ]
        );
        // Owner straight after the lock: no identity check in between.
        assert_eq!(c.owned(), Some(3));
        assert_eq!(c.op(), Some(Op::Mkdir { path: PathBuf::from("/r/temp-dir-3") }));
    }

    #[test]
    fn busy_lock_leaves_the_file_and_retries_with_a_new_name() {
        let mut c = Creator::new(PathBuf::from("/r"), &params(2), vec![]);
        let ops = drive(
            &mut c,
            vec![
                Ok(Value::Id(0)),
                Ok(Value::Fd(0)),
                Ok(Value::Unit),
                Ok(Value::Unit),
                Ok(Value::Fd(0)),
                Err(Errno::EWOULDBLOCK),
                Ok(Value::Unit),
                Ok(Value::Unit),
            ],
        );
        assert_eq!(ops[5..], [Op::TryLock { fd: 0 }, Op::Close { fd: 0 }, Op::Release { id: 0 }]);
        assert!(!ops.iter().any(|o| matches!(o, Op::Unlink { .. })), "the failed file is left behind");
        assert_eq!(c.op(), Some(Op::DrawId));
        assert_eq!(c.owned(), None);
    }

    #[test]
    fn attempts_are_bounded() {
        let mut c = Creator::new(PathBuf::from("/r"), &params(1), vec![]);
        drive(&mut c, vec![Ok(Value::Id(0)), Ok(Value::Fd(0)), Ok(Value::Unit), Ok(Value::Unit), Err(Errno::EACCES), Ok(Value::Unit)]);
        assert_eq!(c.op(), None, "one attempt allowed, one used");
    }

    #[test]
    fn recovery_opens_with_o_creat_and_unlinks_even_after_a_failed_remove() {
        let mut r = Recoverer::new(PathBuf::from("/r"), 1);
        let entry = |name: &str| Ok(Value::Entry(Some(crate::fs::DirEntry { name: name.into(), kind: crate::fs::FileKind::Dir })));
        let ops = drive(
            &mut r,
            vec![
                Ok(Value::Fd(0)),
                entry("temp-dir-5"),
                Ok(Value::Entry(None)),
                Ok(Value::Unit),
                Ok(Value::Unit),
                Ok(Value::Fd(0)),
                Ok(Value::Unit),
                // RemoveTree's lstat fails with EIO: the removal fails.
                Err(Errno::EIO),
                Ok(Value::Unit),
                Ok(Value::Unit),
                Ok(Value::Unit),
            ],
        );
        assert_eq!(ops[4], Op::Reserve { id: 5 });
        assert_eq!(ops[5], Op::OpenCreate { path: PathBuf::from("/r/lock-5") });
        assert_eq!(ops[7], Op::PathIdentity { path: PathBuf::from("/r/temp-dir-5") });
        assert_eq!(ops[8], Op::Unlink { path: PathBuf::from("/r/lock-5") });
        assert_eq!(ops[9..], [Op::Close { fd: 0 }, Op::Release { id: 5 }]);
        assert_eq!(r.op(), None);
    }
}

//! ostree/libglnx staging directories (`ostree`), modelled step by step from
//! `/work/shared/design/prior-art.md` ("ostree (C, libglnx)"), one [`Op`] a
//! step.
//!
//! Layout: `ROOT/staging-<BOOTID>-<XXXXXX>/` (data, made first by mkdtemp)
//! and the sibling lock file `ROOT/staging-<BOOTID>-<XXXXXX>-lock`. Lock
//! kind: OFD locks ([`crate::fs::sim::LockKind::Ofd`], the variant's default).
//!
//! The try-lock of a directory `D` (`_ostree_repo_try_lock_tmpdir` over
//! `glnx_make_lock_file`), shared by every role:
//! open `D-lock` with `O_CREAT|O_RDWR|O_NOFOLLOW` ([`Op::OpenCreate`]);
//! try the lock ([`Op::TryLock`]; busy: close, "not locked"); `fstat`
//! ([`Op::FdIdentity`]): link count 0 means the previous owner unlinked it,
//! so close and open again; then `lstat(D)` ([`Op::PathIdentity`]): if `D`
//! is no longer a directory, release (unlink `D-lock` while holding it,
//! close) and report "not locked".
//!
//! The creator ([`Creator`]):
//! - allocate: list ROOT; for each directory of the current boot, try-lock
//!   it, and reuse the first one locked. Otherwise mkdtemp
//!   ([`Op::DrawId`] for `XXXXXX`, [`Op::Mkdir`], `EEXIST`: draw again),
//!   try-lock the new directory, and if another process got it first give it
//!   up (leave it, do not delete it) and mkdtemp again;
//! - stage each item with one [`Op::Rename`] into `D/<n>-<basename>` (the
//!   project's workload, standing in for ostree writing objects there);
//! - finish: remove `D` ([`RemoveTree`]), unlink `D-lock` while holding it,
//!   close.
//!
//! The recoverer ([`Recoverer`], `cleanup_tmpdir`): list ROOT; for each
//! `staging-*` directory try-lock it, skip if busy; if acquired, keep it (it
//! is of the current boot: see below) and release the lock (unlink, close).
//!
//! # Modelling choices
//! - **One boot.** The boot id is the constant [`BOOT_ID`]; the simulation
//!   has no reboot. So every directory is of the current boot, recovery
//!   never deletes one, and the "delete other boots' directories" branch is
//!   unreachable and not modelled. Names of another boot are foreign to
//!   [`classify`].
//! - **No clock.** Other entries, orphan `-lock` files included, are removed
//!   only when their mtime is older than an expiry (one day by default). The
//!   model has no clock and a run is far shorter than a day: the expiry is
//!   never reached, so recovery never removes them. (No `futimens` touch of a
//!   reused directory is modelled either, for the same reason.)
//! - **INV-5 is not ostree's claim.** Because of the two points above, a
//!   directory left by a crash or given up by a racing allocator stays until
//!   a later allocation reuses it; orphan lock files stay until the expiry.
//!   The oracle's INV-5 (ROOT empty after one final recovery) therefore fails
//!   by design; [`super::Layout::claims_nothing_leaks`] says so, for the
//!   oracle to consult.
//! - **"Releases" in the directory re-check** is libglnx's release, the same
//!   one the finish uses: unlink the lock file while holding it, then close
//!   (prior-art.md says only "releases"; this reading makes it consistent
//!   with its own "Finish" line).
//! - **Interleaved listings.** Both the reuse scan and `cleanup_tmpdir` take
//!   each lock while their directory stream is open (upstream iterates and
//!   acts entry by entry); the stream is closed when the scan ends.
//! - **Entry types come from the listing** (`d_type`). Upstream's
//!   `cleanup_tmpdir` also `lstat`s each entry first and skips one that
//!   vanished; without that step the recoverer try-locks (and so creates a
//!   lock file for) a directory that is already gone, the harder choice.
//!   The reuse scan's `opendirat` of a candidate (whose `ENOENT` fails the
//!   allocation) is not in prior-art.md and is not modelled.
//! - **Bounds.** Upstream loops without bound on mkdtemp collisions, on
//!   "someone else got the new directory", and on link count 0. The model
//!   bounds the first two together by `RoleParams::attempts_max` and the
//!   third by `attempts_max` re-opens per try-lock; reaching a bound ends the
//!   allocation (the process stages nothing).
//! - **Errors.** A try-lock or listing error ends the allocation (creator) or
//!   the pass (recoverer), as upstream returns `FALSE`; a lock held at that
//!   point is released (upstream: by the auto-cleanup). A finish whose tree
//!   removal fails keeps the lock and is retried `cleanup_retries` times.

use std::path::{Path, PathBuf};

use super::{Entry, Role, RoleParams};
use crate::fs::{Errno, Fd, FileKind, Id, Op, OpResult, Value};
use crate::protocol::remove_tree::RemoveTree;
use crate::protocol::{feed_sub, Machine};

/// The boot id of the one simulated boot (upstream reads
/// `/proc/sys/kernel/random/boot_id`).
pub const BOOT_ID: &str = "boot1";
/// Prefix of every staging directory (`OSTREE_REPO_TMPDIR_STAGING`).
pub const STAGING_PREFIX: &str = "staging-";
/// Suffix that turns a directory's name into its lock file's name.
pub const LOCK_SUFFIX: &str = "-lock";
/// Digits of the mkdtemp part, `XXXXXX`.
const RANDOM_DIGITS: usize = 6;

fn dir_name(id: Id) -> String {
    format!("{STAGING_PREFIX}{BOOT_ID}-{id:0width$}", width = RANDOM_DIGITS)
}

/// `ROOT/staging-<BOOTID>-<XXXXXX>`.
pub fn data_path(root: &Path, id: Id) -> PathBuf {
    root.join(dir_name(id))
}

/// `ROOT/staging-<BOOTID>-<XXXXXX>-lock`.
pub fn lock_path(root: &Path, id: Id) -> PathBuf {
    root.join(format!("{}{LOCK_SUFFIX}", dir_name(id)))
}

/// The id written as at least six decimal digits, exactly as [`dir_name`]
/// writes it.
fn parse_random_part(s: &str) -> Option<Id> {
    if s.len() < RANDOM_DIGITS || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let id: Id = s.parse().ok()?;
    (format!("{id:0width$}", width = RANDOM_DIGITS) == s).then_some(id)
}

/// Classifies one entry name of ROOT: the current boot's directories and
/// their lock files; everything else (other boots too) is foreign.
pub fn classify(name: &str) -> Entry {
    let Some(rest) = name.strip_prefix(STAGING_PREFIX).and_then(|r| r.strip_prefix(BOOT_ID)).and_then(|r| r.strip_prefix('-'))
    else {
        return Entry::Foreign;
    };
    match rest.strip_suffix(LOCK_SUFFIX) {
        Some(random) => parse_random_part(random).map_or(Entry::Foreign, Entry::Lock),
        None => parse_random_part(rest).map_or(Entry::Foreign, Entry::Data),
    }
}

/// What a try-lock of a directory ended with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Outcome {
    /// Locked, link count > 0, and the directory exists: ours.
    Locked(Fd),
    /// Busy, or the directory was gone (lock released).
    NotLocked,
    /// An operation failed; whatever was held has been released.
    Failed,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum TStep {
    Open,
    Lock(Fd),
    Fstat(Fd),
    /// Link count 0: close, then open again.
    CloseReopen(Fd),
    /// Close without unlinking, then report.
    Close(Fd, Outcome),
    StatDir(Fd),
    /// Release: unlink while holding, then close, then report.
    Unlink(Fd, Outcome),
    Done(Outcome),
}

/// `_ostree_repo_try_lock_tmpdir` of one directory, including
/// `glnx_make_lock_file`'s re-open loop.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct TryLockDir {
    dir: PathBuf,
    lock: PathBuf,
    reopens_left: u32,
    step: TStep,
}

impl TryLockDir {
    fn new(root: &Path, id: Id, reopens_max: u32) -> Self {
        TryLockDir { dir: data_path(root, id), lock: lock_path(root, id), reopens_left: reopens_max, step: TStep::Open }
    }

    fn op(&self) -> Option<Op> {
        Some(match &self.step {
            TStep::Open => Op::OpenCreate { path: self.lock.clone() },
            TStep::Lock(fd) => Op::TryLock { fd: *fd },
            TStep::Fstat(fd) => Op::FdIdentity { fd: *fd },
            TStep::CloseReopen(fd) | TStep::Close(fd, _) => Op::Close { fd: *fd },
            TStep::StatDir(_) => Op::PathIdentity { path: self.dir.clone() },
            TStep::Unlink(..) => Op::Unlink { path: self.lock.clone() },
            TStep::Done(_) => return None,
        })
    }

    fn outcome(&self) -> Option<Outcome> {
        match self.step {
            TStep::Done(o) => Some(o),
            _ => None,
        }
    }

    fn feed(&mut self, result: OpResult) {
        let step = std::mem::replace(&mut self.step, TStep::Done(Outcome::Failed));
        self.step = match (step, result) {
            // open(D-lock, O_CREAT|O_RDWR|O_NOFOLLOW|O_CLOEXEC): creates it
            // when missing.
            (TStep::Open, Ok(Value::Fd(fd))) => TStep::Lock(fd),
            (TStep::Open, Err(_)) => TStep::Done(Outcome::Failed),
            // OFD try-lock; busy: close, not locked.
            (TStep::Lock(fd), Ok(_)) => TStep::Fstat(fd),
            (TStep::Lock(fd), Err(Errno::EWOULDBLOCK)) => TStep::Close(fd, Outcome::NotLocked),
            (TStep::Lock(fd), Err(_)) => TStep::Close(fd, Outcome::Failed),
            // fstat: link count 0 means the previous owner unlinked the file
            // after our open: what we hold protects nothing. Retry.
            (TStep::Fstat(fd), Ok(Value::Identity(i))) if i.nlink == 0 => TStep::CloseReopen(fd),
            (TStep::Fstat(fd), Ok(_)) => TStep::StatDir(fd),
            (TStep::Fstat(fd), Err(_)) => TStep::Close(fd, Outcome::Failed),
            (TStep::CloseReopen(_), _) if self.reopens_left > 0 => {
                self.reopens_left -= 1;
                TStep::Open
            }
            (TStep::CloseReopen(_), _) => TStep::Done(Outcome::Failed),
            (TStep::Close(_, o), _) => TStep::Done(o),
            // The directory re-check: we may have locked after its owner
            // removed it; then release and report not locked.
            (TStep::StatDir(fd), Ok(Value::Identity(i))) if i.kind == FileKind::Dir => TStep::Done(Outcome::Locked(fd)),
            (TStep::StatDir(fd), Ok(_)) | (TStep::StatDir(fd), Err(Errno::ENOENT)) => TStep::Unlink(fd, Outcome::NotLocked),
            (TStep::StatDir(fd), Err(_)) => TStep::Unlink(fd, Outcome::Failed),
            // glnx_release_lock_file: unlink (errors ignored), then close.
            (TStep::Unlink(fd, o), _) => TStep::Close(fd, o),
            (step, r) => panic!("ostree try-lock: {r:?} in {step:?}"),
        };
    }
}

/// How the reuse scan ended, for the step that closes its stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum ScanEnd {
    Reuse(Id, Fd),
    NoneFound,
    Failed,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum CStep {
    OpenRoot,
    ReadRoot(Fd),
    TryReuse(Fd, Id, TryLockDir),
    CloseRoot(Fd, ScanEnd),
    DrawId,
    Mkdtemp,
    TryNew(TryLockDir),
    Stage { from: PathBuf, to: PathBuf },
    RemoveData(RemoveTree),
    UnlinkLock,
    CloseLock,
    Done,
}

/// Allocates a staging directory (reusing one of this boot if it can lock
/// one), stages `items` into it, finishes, and ends.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Creator {
    root: PathBuf,
    items: Vec<PathBuf>,
    next_item: usize,
    attempts_max: u32,
    attempts: u32,
    cleanup_retries: u8,
    id: Id,
    fd: Fd,
    staged: u64,
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
            attempts: 0,
            cleanup_retries: params.cleanup_retries,
            id: 0,
            fd: 0,
            staged: 0,
            owns: false,
            step: CStep::OpenRoot,
        }
    }

    fn data(&self) -> PathBuf {
        data_path(&self.root, self.id)
    }

    fn try_lock(&self, id: Id) -> TryLockDir {
        TryLockDir::new(&self.root, id, self.attempts_max)
    }

    /// The directory is ours: start staging.
    fn acquired(&mut self, id: Id, fd: Fd) -> CStep {
        self.id = id;
        self.fd = fd;
        self.owns = true;
        self.next_stage()
    }

    /// A name collision or a new directory someone else locked: mkdtemp
    /// again, within the bound.
    fn next_attempt(&mut self) -> CStep {
        self.attempts += 1;
        if self.attempts >= self.attempts_max {
            CStep::Done
        } else {
            CStep::DrawId
        }
    }

    fn next_stage(&mut self) -> CStep {
        match self.items.get(self.next_item) {
            Some(item) => {
                self.next_item += 1;
                let base = item.file_name().expect("staged items have a file name").to_string_lossy();
                let to = self.data().join(format!("{}-{base}", self.staged));
                CStep::Stage { from: item.clone(), to }
            }
            None => CStep::RemoveData(RemoveTree::new(self.data())),
        }
    }
}

impl Role for Creator {
    fn op(&self) -> Option<Op> {
        Some(match &self.step {
            CStep::OpenRoot => Op::OpenDir { path: self.root.clone() },
            CStep::ReadRoot(fd) => Op::ReadDirNext { fd: *fd },
            CStep::TryReuse(_, _, m) | CStep::TryNew(m) => return m.op(),
            CStep::CloseRoot(fd, _) => Op::Close { fd: *fd },
            CStep::DrawId => Op::DrawId,
            CStep::Mkdtemp => Op::Mkdir { path: self.data() },
            CStep::Stage { from, to } => Op::Rename { from: from.clone(), to: to.clone() },
            CStep::RemoveData(m) => return m.op(),
            CStep::UnlinkLock => Op::Unlink { path: lock_path(&self.root, self.id) },
            CStep::CloseLock => Op::Close { fd: self.fd },
            CStep::Done => return None,
        })
    }

    fn feed(&mut self, result: OpResult) {
        let step = std::mem::replace(&mut self.step, CStep::Done);
        self.step = match (step, result) {
            // Allocate, first: look for a directory of this boot to reuse.
            (CStep::OpenRoot, Ok(Value::Fd(fd))) => CStep::ReadRoot(fd),
            (CStep::OpenRoot, Err(_)) => CStep::Done,
            (CStep::ReadRoot(fd), Ok(Value::Entry(Some(e)))) => match classify(&e.name) {
                // Same prefix and a directory (d_type): try to lock it.
                Entry::Data(id) if e.kind == FileKind::Dir => CStep::TryReuse(fd, id, self.try_lock(id)),
                _ => CStep::ReadRoot(fd),
            },
            (CStep::ReadRoot(fd), Ok(Value::Entry(None))) => CStep::CloseRoot(fd, ScanEnd::NoneFound),
            (CStep::ReadRoot(fd), Err(_)) => CStep::CloseRoot(fd, ScanEnd::Failed),
            (CStep::TryReuse(dfd, id, mut m), r) => {
                m.feed(r);
                match m.outcome() {
                    None => CStep::TryReuse(dfd, id, m),
                    Some(Outcome::Locked(fd)) => CStep::CloseRoot(dfd, ScanEnd::Reuse(id, fd)),
                    // Busy or gone: keep scanning.
                    Some(Outcome::NotLocked) => CStep::ReadRoot(dfd),
                    Some(Outcome::Failed) => CStep::CloseRoot(dfd, ScanEnd::Failed),
                }
            }
            (CStep::CloseRoot(_, end), _) => match end {
                ScanEnd::Reuse(id, fd) => self.acquired(id, fd),
                ScanEnd::NoneFound => CStep::DrawId,
                ScanEnd::Failed => CStep::Done,
            },
            // mkdtemp: the directory first, under a fresh random name.
            (CStep::DrawId, Ok(Value::Id(id))) => {
                self.id = id;
                CStep::Mkdtemp
            }
            (CStep::Mkdtemp, Ok(_)) => CStep::TryNew(self.try_lock(self.id)),
            (CStep::Mkdtemp, Err(Errno::EEXIST)) => self.next_attempt(),
            (CStep::Mkdtemp, Err(_)) => CStep::Done,
            // Between mkdtemp and our lock, another allocator may reuse the
            // new directory, or a recoverer lock it: then give it up.
            (CStep::TryNew(mut m), r) => {
                m.feed(r);
                match m.outcome() {
                    None => CStep::TryNew(m),
                    Some(Outcome::Locked(fd)) => self.acquired(self.id, fd),
                    // Someone else got it: leave it (do not delete), retry.
                    Some(Outcome::NotLocked) => self.next_attempt(),
                    Some(Outcome::Failed) => CStep::Done,
                }
            }
            (CStep::Stage { .. }, r) => {
                if r.is_ok() {
                    self.staged += 1;
                }
                self.next_stage()
            }
            // Finish: delete the directory first, lock held throughout.
            (CStep::RemoveData(m), r) => match feed_sub(m, r) {
                Ok(m) => CStep::RemoveData(m),
                Err(Ok(())) => CStep::UnlinkLock,
                Err(Err(_)) if self.cleanup_retries > 0 => {
                    self.cleanup_retries -= 1;
                    CStep::RemoveData(RemoveTree::new(self.data()))
                }
                // Exit holding it: the kernel closes the descriptor.
                Err(Err(_)) => CStep::Done,
            },
            // Then unlink the lock file while holding it (errors ignored).
            (CStep::UnlinkLock, r) => {
                if matches!(r, Ok(_) | Err(Errno::ENOENT)) {
                    self.owns = false;
                }
                CStep::CloseLock
            }
            // Close last: the OFD lock goes with the descriptor.
            (CStep::CloseLock, _) => {
                self.owns = false;
                CStep::Done
            }
            (step, r) => panic!("ostree creator: {r:?} in {step:?}"),
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
    TryLock(Fd, Id, TryLockDir),
    /// Keep the directory (current boot); release: unlink, then close.
    Unlink(Fd, Id, Fd),
    Close(Fd, Id, Fd),
    CloseRoot(Fd),
    Done,
}

/// Runs `passes` passes of `cleanup_tmpdir` over ROOT, then ends.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Recoverer {
    root: PathBuf,
    reopens_max: u32,
    passes_left: u8,
    owns: Option<Id>,
    step: RStep,
}

impl Recoverer {
    pub fn new(root: PathBuf, params: &RoleParams, passes: u8) -> Self {
        assert!(passes > 0, "a recoverer runs at least one pass");
        Recoverer { root, reopens_max: params.attempts_max, passes_left: passes - 1, owns: None, step: RStep::OpenRoot }
    }

    fn end_pass(&mut self) -> RStep {
        if self.passes_left > 0 {
            self.passes_left -= 1;
            RStep::OpenRoot
        } else {
            RStep::Done
        }
    }
}

impl Role for Recoverer {
    fn op(&self) -> Option<Op> {
        Some(match &self.step {
            RStep::OpenRoot => Op::OpenDir { path: self.root.clone() },
            RStep::ReadRoot(fd) => Op::ReadDirNext { fd: *fd },
            RStep::TryLock(_, _, m) => return m.op(),
            RStep::Unlink(_, id, _) => Op::Unlink { path: lock_path(&self.root, *id) },
            RStep::Close(_, _, fd) => Op::Close { fd: *fd },
            RStep::CloseRoot(fd) => Op::Close { fd: *fd },
            RStep::Done => return None,
        })
    }

    fn feed(&mut self, result: OpResult) {
        let step = std::mem::replace(&mut self.step, RStep::Done);
        self.step = match (step, result) {
            (RStep::OpenRoot, Ok(Value::Fd(fd))) => RStep::ReadRoot(fd),
            (RStep::OpenRoot, Err(_)) => self.end_pass(),
            // Entry by entry, the stream open: staging directories only.
            (RStep::ReadRoot(fd), Ok(Value::Entry(Some(e)))) => match classify(&e.name) {
                Entry::Data(id) if e.kind == FileKind::Dir => {
                    RStep::TryLock(fd, id, TryLockDir::new(&self.root, id, self.reopens_max))
                }
                // Orphan lock files and everything else: only after the
                // expiry, which a run never reaches.
                _ => RStep::ReadRoot(fd),
            },
            (RStep::ReadRoot(fd), Ok(Value::Entry(None))) | (RStep::ReadRoot(fd), Err(_)) => RStep::CloseRoot(fd),
            (RStep::TryLock(dfd, id, mut m), r) => {
                m.feed(r);
                match m.outcome() {
                    None => RStep::TryLock(dfd, id, m),
                    // Acquired: a directory of the current boot is kept.
                    Some(Outcome::Locked(fd)) => {
                        self.owns = Some(id);
                        RStep::Unlink(dfd, id, fd)
                    }
                    // Busy (its owner lives) or gone: skip.
                    Some(Outcome::NotLocked) => RStep::ReadRoot(dfd),
                    // An error ends the pass.
                    Some(Outcome::Failed) => RStep::CloseRoot(dfd),
                }
            }
            // Release: unlink the lock file while holding it, then close.
            (RStep::Unlink(dfd, id, fd), r) => {
                if matches!(r, Ok(_) | Err(Errno::ENOENT)) {
                    self.owns = None;
                }
                RStep::Close(dfd, id, fd)
            }
            (RStep::Close(dfd, _, _), _) => {
                self.owns = None;
                RStep::ReadRoot(dfd)
            }
            (RStep::CloseRoot(_), _) => self.end_pass(),
            (step, r) => panic!("ostree recoverer: {r:?} in {step:?}"),
        };
    }

    fn owned(&self) -> Option<Id> {
        self.owns
    }

    fn is_recoverer(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::{DirEntry, Identity};

    #[test]
    fn names_round_trip() {
        let root = Path::new("/r");
        assert_eq!(data_path(root, 7), PathBuf::from("/r/staging-boot1-000007"));
        assert_eq!(lock_path(root, 7), PathBuf::from("/r/staging-boot1-000007-lock"));
        assert_eq!(classify("staging-boot1-000007"), Entry::Data(7));
        assert_eq!(classify("staging-boot1-000007-lock"), Entry::Lock(7));
        assert_eq!(classify(&dir_name(u128::MAX)), Entry::Data(u128::MAX));
        assert_eq!(classify("staging-boot1-7"), Entry::Foreign);
        assert_eq!(classify("staging-boot1-0000007"), Entry::Foreign);
        assert_eq!(classify("staging-boot2-000007"), Entry::Foreign, "another boot");
        assert_eq!(classify("staging-boot1-00000a"), Entry::Foreign);
    }

    fn ident(nlink: u64, kind: FileKind) -> OpResult {
        Ok(Value::Identity(Identity { dev: 1, ino: 9, nlink, kind }))
    }

    #[track_caller]
    fn drive(role: &mut dyn Role, results: Vec<OpResult>) -> Vec<Op> {
        let mut ops = Vec::new();
        for r in results {
            ops.push(role.op().expect("role still running"));
            role.feed(r);
        }
        ops
    }

    fn params() -> RoleParams {
        RoleParams { attempts_max: 2, use_registry: false, cleanup_retries: 0, open_root: false }
    }

    #[test]
    fn mkdtemp_first_then_lock_with_link_count_and_directory_rechecks() {
        let mut c = Creator::new(PathBuf::from("/r"), &params(), vec![]);
        let ops = drive(
            &mut c,
            vec![
                Ok(Value::Fd(0)),
                Ok(Value::Entry(None)),
                Ok(Value::Unit),
                Ok(Value::Id(1)),
                Ok(Value::Unit),
                Ok(Value::Fd(0)),
                Ok(Value::Unit),
                // Unlinked by its previous owner after our open: re-open.
                ident(0, FileKind::File),
                Ok(Value::Unit),
                Ok(Value::Fd(0)),
                Ok(Value::Unit),
                ident(1, FileKind::File),
            ],
        );
        let (dir, lock) = (PathBuf::from("/r/staging-boot1-000001"), PathBuf::from("/r/staging-boot1-000001-lock"));
        assert_eq!(ops[4], Op::Mkdir { path: dir.clone() });
        assert_eq!(ops[5], Op::OpenCreate { path: lock.clone() });
        assert_eq!(ops[7..10], [Op::FdIdentity { fd: 0 }, Op::Close { fd: 0 }, Op::OpenCreate { path: lock }]);
        assert_eq!(c.owned(), None, "not ours before the directory re-check");
        assert_eq!(c.op(), Some(Op::PathIdentity { path: dir.clone() }));
        c.feed(ident(2, FileKind::Dir));
        assert_eq!(c.owned(), Some(1));
        assert_eq!(c.op(), Some(Op::PathIdentity { path: dir }), "finish starts removing the directory");
    }

    #[test]
    fn directory_gone_after_locking_releases_by_unlinking() {
        let mut c = Creator::new(PathBuf::from("/r"), &params(), vec![]);
        let entry = Ok(Value::Entry(Some(DirEntry { name: "staging-boot1-000003".into(), kind: FileKind::Dir })));
        let ops = drive(
            &mut c,
            vec![
                Ok(Value::Fd(5)),
                entry,
                Ok(Value::Fd(6)),
                Ok(Value::Unit),
                ident(1, FileKind::File),
                Err(Errno::ENOENT),
                Ok(Value::Unit),
                Ok(Value::Unit),
            ],
        );
        let lock = PathBuf::from("/r/staging-boot1-000003-lock");
        assert_eq!(ops[6..], [Op::Unlink { path: lock }, Op::Close { fd: 6 }]);
        assert_eq!(c.owned(), None);
        assert_eq!(c.op(), Some(Op::ReadDirNext { fd: 5 }), "the reuse scan goes on");
    }

    #[test]
    fn recovery_keeps_current_boot_directories_and_skips_lock_files() {
        let mut r = Recoverer::new(PathBuf::from("/r"), &params(), 1);
        let entry = |name: &str, kind| Ok(Value::Entry(Some(DirEntry { name: name.into(), kind })));
        let ops = drive(
            &mut r,
            vec![
                Ok(Value::Fd(0)),
                entry("staging-boot1-000002-lock", FileKind::File),
                entry("staging-boot1-000002", FileKind::Dir),
                Ok(Value::Fd(1)),
                Ok(Value::Unit),
                ident(1, FileKind::File),
                ident(2, FileKind::Dir),
            ],
        );
        assert_eq!(ops[3], Op::OpenCreate { path: PathBuf::from("/r/staging-boot1-000002-lock") });
        assert_eq!(r.owned(), Some(2));
        let rest = drive(&mut r, vec![Ok(Value::Unit), Ok(Value::Unit), Ok(Value::Entry(None)), Ok(Value::Unit)]);
        assert_eq!(
            rest,
            vec![
                Op::Unlink { path: PathBuf::from("/r/staging-boot1-000002-lock") },
                Op::Close { fd: 1 },
                Op::ReadDirNext { fd: 0 },
                Op::Close { fd: 0 },
            ]
        );
        assert!(!rest.iter().chain(&ops).any(|o| matches!(o, Op::Rmdir { .. })), "kept: never removed");
        assert_eq!(r.op(), None);
    }
}

//! The first design proposed in the review (`review-prototype`), modelled
//! from `/work/shared/design/prior-art.md` ("The first design proposed in the
//! review"), one [`Op`] a step, for contrast with the reference.
//!
//! Layout: `ROOT/.global-tmp-lock` (one global lock file, never removed) and
//! `ROOT/temp-dir-<ID>/` with the instance's lock file **inside** it,
//! `ROOT/temp-dir-<ID>/.lock`. `<ID>` is written in decimal, as
//! containers/storage writes it. Lock kind: flock (the variant's default;
//! prior-art.md does not record the prototype's).
//!
//! The creator ([`Creator`]): take the global lock; draw an id and `mkdir
//! temp-dir-<ID>` (the directory exists before its lock); create and lock
//! `temp-dir-<ID>/.lock`; release the global lock; stage each item with one
//! rename into `temp-dir-<ID>/<n>-<basename>`; clean up by removing the whole
//! directory ([`RemoveTree`]), which unlinks `.lock` while it is still
//! locked; close the descriptor last.
//!
//! The recoverer ([`Recoverer`]): take the global lock; list ROOT; for each
//! `temp-dir-*` try its `.lock` without blocking; if acquired remove the
//! directory (the lock file with it, while locked) and close; release the
//! global lock.
//!
//! # Modelling choices
//! - **The blocking global lock.** [`Op`] has no blocking lock, and none is
//!   added: the global lock is [`Op::TryLock`] retried on `EWOULDBLOCK`, at
//!   most [`GLOBAL_LOCK_TRIES_MAX`] times in all; then the role gives up (a
//!   timeout a real blocking `flock` does not have; it only removes
//!   behaviours, never adds a removal). Releasing it is closing its
//!   descriptor.
//! - **The global lock file** is opened with `O_CREAT` ([`Op::OpenCreate`]):
//!   whoever comes first creates it. It is foreign to [`classify`], so INV-5
//!   allows it to remain.
//! - **`.lock` is opened with `O_CREAT`** by both roles (prior-art.md says
//!   "create+lock" and "try its .lock"). For the creator the directory is
//!   new and the global lock is held, so `O_EXCL` would change nothing; for
//!   the recoverer `O_CREAT` means a directory whose creator died before
//!   making `.lock` is reclaimed (else it would leak forever), and means it
//!   may create a `.lock` inside a directory an owner's cleanup is removing
//!   (cleanup does not take the global lock): the harder choice.
//! - **No type check on `temp-dir-*`.** Recovery takes every listed
//!   `temp-dir-*` name (a glob, as the reviewers described); opening
//!   `temp-dir-<ID>/.lock` resolves `temp-dir-<ID>` as a directory, so a
//!   symlink of that name is followed (the harder choice; `O_NOFOLLOW` covers
//!   only the last component).
//! - **Removal order.** [`RemoveTree`] removes a directory's entries in name
//!   order, so `.lock` (`.` sorts before digits) goes first: from that step
//!   the owner's lock protects nothing and its remaining data is unprotected
//!   while the owner is still removing it. Ownership ([`Role::owned`]) ends
//!   at that unlink.
//! - **One listing, then the ids in ascending order**, under the global
//!   lock. A `readdir` error ends the listing and the ids seen so far are
//!   visited; an error opening a `.lock` skips that id.
//! - **Bounds.** Id collisions (`mkdir` `EEXIST`) are retried within
//!   `RoleParams::attempts_max`; a failed cleanup is retried
//!   `cleanup_retries` times, lock held.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{parse_decimal_id, Entry, Role, RoleParams};
use crate::fs::{Errno, Fd, Id, Op, OpResult, Value};
use crate::protocol::remove_tree::RemoveTree;
use crate::protocol::Machine;

/// Name of the global lock file in ROOT.
pub const GLOBAL_LOCK: &str = ".global-tmp-lock";
/// Prefix of an instance's directory.
pub const DATA_PREFIX: &str = "temp-dir-";
/// Name of the instance lock file inside its directory.
pub const INSTANCE_LOCK: &str = ".lock";
/// How many times a role tries the global lock before it gives up.
pub const GLOBAL_LOCK_TRIES_MAX: u32 = 3;

/// `ROOT/temp-dir-<id>`.
pub fn data_path(root: &Path, id: Id) -> PathBuf {
    root.join(format!("{DATA_PREFIX}{id}"))
}

/// `ROOT/temp-dir-<id>/.lock`: inside the data.
pub fn lock_path(root: &Path, id: Id) -> PathBuf {
    data_path(root, id).join(INSTANCE_LOCK)
}

/// `ROOT/.global-tmp-lock`.
pub fn global_lock_path(root: &Path) -> PathBuf {
    root.join(GLOBAL_LOCK)
}

/// Classifies one entry name of ROOT. There are no instance lock files in
/// ROOT; the global lock file is foreign.
pub fn classify(name: &str) -> Entry {
    match name.strip_prefix(DATA_PREFIX).and_then(parse_decimal_id) {
        Some(id) => Entry::Data(id),
        None => Entry::Foreign,
    }
}

/// The global lock, taken by retrying a try-lock.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum GStep {
    Open,
    Lock(Fd),
    /// Gave up or failed: close, then report.
    Close(Fd),
    Held(Fd),
    Failed,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct GlobalLock {
    path: PathBuf,
    tries: u32,
    step: GStep,
}

impl GlobalLock {
    fn new(root: &Path) -> Self {
        GlobalLock { path: global_lock_path(root), tries: 0, step: GStep::Open }
    }

    fn op(&self) -> Option<Op> {
        match &self.step {
            GStep::Open => Some(Op::OpenCreate { path: self.path.clone() }),
            GStep::Lock(fd) => Some(Op::TryLock { fd: *fd }),
            GStep::Close(fd) => Some(Op::Close { fd: *fd }),
            GStep::Held(_) | GStep::Failed => None,
        }
    }

    /// `Some(Ok(fd))` when held, `Some(Err(()))` when given up.
    fn outcome(&self) -> Option<Result<Fd, ()>> {
        match self.step {
            GStep::Held(fd) => Some(Ok(fd)),
            GStep::Failed => Some(Err(())),
            _ => None,
        }
    }

    fn feed(&mut self, result: OpResult) {
        let step = std::mem::replace(&mut self.step, GStep::Failed);
        self.step = match (step, result) {
            (GStep::Open, Ok(Value::Fd(fd))) => GStep::Lock(fd),
            (GStep::Open, Err(_)) => GStep::Failed,
            (GStep::Lock(fd), Ok(_)) => GStep::Held(fd),
            // Stands in for blocking: try again, within the bound.
            (GStep::Lock(fd), Err(Errno::EWOULDBLOCK)) => {
                self.tries += 1;
                if self.tries < GLOBAL_LOCK_TRIES_MAX {
                    GStep::Lock(fd)
                } else {
                    GStep::Close(fd)
                }
            }
            (GStep::Lock(fd), Err(_)) => GStep::Close(fd),
            (GStep::Close(_), _) => GStep::Failed,
            (step, r) => panic!("review global lock: {r:?} in {step:?}"),
        };
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum CStep {
    Global(GlobalLock),
    DrawId,
    Mkdir,
    OpenLock,
    TryLock(Fd),
    CloseFailed(Fd),
    /// Release the global lock; then stage (`true`) or end (`false`).
    ReleaseGlobal(bool),
    Stage { from: PathBuf, to: PathBuf },
    RemoveData(RemoveTree),
    CloseLock,
    Done,
}

/// Creates one instance under the global lock, stages `items` into it,
/// removes it, and ends.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Creator {
    root: PathBuf,
    items: Vec<PathBuf>,
    next_item: usize,
    attempts_max: u32,
    attempts: u32,
    cleanup_retries: u8,
    global_fd: Fd,
    id: Id,
    fd: Fd,
    staged: u64,
    owns: bool,
    step: CStep,
}

impl Creator {
    pub fn new(root: PathBuf, params: &RoleParams, items: Vec<PathBuf>) -> Self {
        assert!(params.attempts_max > 0, "attempts_max must be positive");
        let step = CStep::Global(GlobalLock::new(&root));
        Creator {
            root,
            items,
            next_item: 0,
            attempts_max: params.attempts_max,
            attempts: 0,
            cleanup_retries: params.cleanup_retries,
            global_fd: 0,
            id: 0,
            fd: 0,
            staged: 0,
            owns: false,
            step,
        }
    }

    fn data(&self) -> PathBuf {
        data_path(&self.root, self.id)
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
            CStep::Global(g) => return g.op(),
            CStep::DrawId => Op::DrawId,
            CStep::Mkdir => Op::Mkdir { path: self.data() },
            CStep::OpenLock => Op::OpenCreate { path: lock_path(&self.root, self.id) },
            CStep::TryLock(fd) => Op::TryLock { fd: *fd },
            CStep::CloseFailed(fd) => Op::Close { fd: *fd },
            CStep::ReleaseGlobal(_) => Op::Close { fd: self.global_fd },
            CStep::Stage { from, to } => Op::Rename { from: from.clone(), to: to.clone() },
            CStep::RemoveData(m) => return m.op(),
            CStep::CloseLock => Op::Close { fd: self.fd },
            CStep::Done => return None,
        })
    }

    fn feed(&mut self, result: OpResult) {
        let step = std::mem::replace(&mut self.step, CStep::Done);
        self.step = match (step, result) {
            // Creation is serialised by the global lock.
            (CStep::Global(mut g), r) => {
                g.feed(r);
                match g.outcome() {
                    None => CStep::Global(g),
                    Some(Ok(fd)) => {
                        self.global_fd = fd;
                        CStep::DrawId
                    }
                    Some(Err(())) => CStep::Done,
                }
            }
            (CStep::DrawId, Ok(Value::Id(id))) => {
                self.id = id;
                CStep::Mkdir
            }
            // The directory first: it exists before its lock.
            (CStep::Mkdir, Ok(_)) => CStep::OpenLock,
            (CStep::Mkdir, Err(Errno::EEXIST)) => {
                self.attempts += 1;
                if self.attempts >= self.attempts_max {
                    CStep::ReleaseGlobal(false)
                } else {
                    CStep::DrawId
                }
            }
            (CStep::Mkdir, Err(_)) => CStep::ReleaseGlobal(false),
            // Then its lock file, inside it.
            (CStep::OpenLock, Ok(Value::Fd(fd))) => CStep::TryLock(fd),
            (CStep::OpenLock, Err(_)) => CStep::ReleaseGlobal(false),
            (CStep::TryLock(fd), Ok(_)) => {
                self.fd = fd;
                self.owns = true;
                CStep::ReleaseGlobal(true)
            }
            (CStep::TryLock(fd), Err(_)) => CStep::CloseFailed(fd),
            (CStep::CloseFailed(_), _) => CStep::ReleaseGlobal(false),
            // Release the global lock: staging and cleanup run without it.
            (CStep::ReleaseGlobal(created), _) => {
                if created {
                    self.next_stage()
                } else {
                    CStep::Done
                }
            }
            (CStep::Stage { .. }, r) => {
                if r.is_ok() {
                    self.staged += 1;
                }
                self.next_stage()
            }
            // Cleanup: remove the whole directory, `.lock` included, while
            // holding the lock; ownership ends when `.lock` is unlinked.
            (CStep::RemoveData(mut m), r) => {
                let op = m.op();
                if matches!(r, Ok(_) | Err(Errno::ENOENT))
                    && op == Some(Op::Unlink { path: lock_path(&self.root, self.id) })
                {
                    self.owns = false;
                }
                m.feed(r);
                match m.op() {
                    Some(_) => CStep::RemoveData(m),
                    None => match m.finish() {
                        Ok(()) => CStep::CloseLock,
                        Err(_) if self.cleanup_retries > 0 => {
                            self.cleanup_retries -= 1;
                            CStep::RemoveData(RemoveTree::new(self.data()))
                        }
                        Err(_) => CStep::Done,
                    },
                }
            }
            (CStep::CloseLock, _) => {
                self.owns = false;
                CStep::Done
            }
            (step, r) => panic!("review creator: {r:?} in {step:?}"),
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
    Global(GlobalLock),
    OpenRoot,
    ReadRoot(Fd),
    CloseRoot(Fd),
    OpenLock,
    TryLock(Fd),
    CloseBusy(Fd),
    RemoveData(RemoveTree),
    CloseLock,
    ReleaseGlobal,
    Done,
}

/// Runs `passes` recovery passes, each under the global lock, then ends.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Recoverer {
    root: PathBuf,
    passes_left: u8,
    global_fd: Fd,
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
        let step = RStep::Global(GlobalLock::new(&root));
        Recoverer {
            root,
            passes_left: passes - 1,
            global_fd: 0,
            seen: BTreeSet::new(),
            todo: Vec::new(),
            id: 0,
            fd: 0,
            owns: false,
            step,
        }
    }

    fn data(&self) -> PathBuf {
        data_path(&self.root, self.id)
    }

    fn end_pass(&mut self) -> RStep {
        self.seen.clear();
        self.todo.clear();
        if self.passes_left > 0 {
            self.passes_left -= 1;
            RStep::Global(GlobalLock::new(&self.root))
        } else {
            RStep::Done
        }
    }

    fn next_id(&mut self) -> RStep {
        match self.todo.pop() {
            Some(id) => {
                self.id = id;
                RStep::OpenLock
            }
            None => RStep::ReleaseGlobal,
        }
    }
}

impl Role for Recoverer {
    fn op(&self) -> Option<Op> {
        Some(match &self.step {
            RStep::Global(g) => return g.op(),
            RStep::OpenRoot => Op::OpenDir { path: self.root.clone() },
            RStep::ReadRoot(fd) => Op::ReadDirNext { fd: *fd },
            RStep::CloseRoot(fd) | RStep::CloseBusy(fd) => Op::Close { fd: *fd },
            RStep::OpenLock => Op::OpenCreate { path: lock_path(&self.root, self.id) },
            RStep::TryLock(fd) => Op::TryLock { fd: *fd },
            RStep::RemoveData(m) => return m.op(),
            RStep::CloseLock => Op::Close { fd: self.fd },
            RStep::ReleaseGlobal => Op::Close { fd: self.global_fd },
            RStep::Done => return None,
        })
    }

    fn feed(&mut self, result: OpResult) {
        let step = std::mem::replace(&mut self.step, RStep::Done);
        self.step = match (step, result) {
            // Recovery is serialised with creation by the global lock.
            (RStep::Global(mut g), r) => {
                g.feed(r);
                match g.outcome() {
                    None => RStep::Global(g),
                    Some(Ok(fd)) => {
                        self.global_fd = fd;
                        RStep::OpenRoot
                    }
                    Some(Err(())) => self.end_pass(),
                }
            }
            (RStep::OpenRoot, Ok(Value::Fd(fd))) => RStep::ReadRoot(fd),
            (RStep::OpenRoot, Err(_)) => RStep::ReleaseGlobal,
            // The glob: every `temp-dir-*` name, whatever its type.
            (RStep::ReadRoot(fd), Ok(Value::Entry(Some(e)))) => {
                if let Entry::Data(id) = classify(&e.name) {
                    self.seen.insert(id);
                }
                RStep::ReadRoot(fd)
            }
            (RStep::ReadRoot(fd), Ok(Value::Entry(None))) | (RStep::ReadRoot(fd), Err(_)) => RStep::CloseRoot(fd),
            (RStep::CloseRoot(_), _) => {
                self.todo = std::mem::take(&mut self.seen).into_iter().rev().collect();
                self.next_id()
            }
            // Try the lock inside the directory; a missing one is created.
            (RStep::OpenLock, Ok(Value::Fd(fd))) => RStep::TryLock(fd),
            (RStep::OpenLock, Err(_)) => self.next_id(),
            (RStep::TryLock(fd), Ok(_)) => {
                self.fd = fd;
                self.owns = true;
                RStep::RemoveData(RemoveTree::new(self.data()))
            }
            // Busy: its owner lives.
            (RStep::TryLock(fd), Err(_)) => RStep::CloseBusy(fd),
            (RStep::CloseBusy(_), _) => self.next_id(),
            // Remove the directory; `.lock` goes with it, still locked.
            (RStep::RemoveData(mut m), r) => {
                let op = m.op();
                if matches!(r, Ok(_) | Err(Errno::ENOENT))
                    && op == Some(Op::Unlink { path: lock_path(&self.root, self.id) })
                {
                    self.owns = false;
                }
                m.feed(r);
                match m.op() {
                    Some(_) => RStep::RemoveData(m),
                    None => RStep::CloseLock,
                }
            }
            (RStep::CloseLock, _) => {
                self.owns = false;
                self.next_id()
            }
            (RStep::ReleaseGlobal, _) => self.end_pass(),
            (step, r) => panic!("review recoverer: {r:?} in {step:?}"),
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
    use crate::fs::{DirEntry, FileKind};

    #[test]
    fn names_round_trip() {
        let root = Path::new("/r");
        assert_eq!(data_path(root, 4), PathBuf::from("/r/temp-dir-4"));
        assert_eq!(lock_path(root, 4), PathBuf::from("/r/temp-dir-4/.lock"));
        assert_eq!(classify("temp-dir-4"), Entry::Data(4));
        assert_eq!(classify(GLOBAL_LOCK), Entry::Foreign);
        assert_eq!(classify("temp-dir-04"), Entry::Foreign);
        assert_eq!(classify("lock-4"), Entry::Foreign);
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
    fn creation_holds_the_global_lock_from_mkdir_to_instance_lock() {
        let mut c = Creator::new(PathBuf::from("/r"), &params(), vec![PathBuf::from("/s/a")]);
        let ops = drive(
            &mut c,
            vec![
                Ok(Value::Fd(0)),
                Err(Errno::EWOULDBLOCK),
                Ok(Value::Unit),
                Ok(Value::Id(3)),
                Ok(Value::Unit),
                Ok(Value::Fd(1)),
                Ok(Value::Unit),
                Ok(Value::Unit),
            ],
        );
        assert_eq!(
            ops,
            vec![
                Op::OpenCreate { path: PathBuf::from("/r/.global-tmp-lock") },
                Op::TryLock { fd: 0 },
                Op::TryLock { fd: 0 },
                Op::DrawId,
                Op::Mkdir { path: PathBuf::from("/r/temp-dir-3") },
                Op::OpenCreate { path: PathBuf::from("/r/temp-dir-3/.lock") },
                Op::TryLock { fd: 1 },
                Op::Close { fd: 0 },
            ]
        );
        assert_eq!(c.owned(), Some(3));
        assert_eq!(
            c.op(),
            Some(Op::Rename { from: PathBuf::from("/s/a"), to: PathBuf::from("/r/temp-dir-3/0-a") })
        );
    }

    #[test]
    fn global_lock_tries_are_bounded() {
        let mut c = Creator::new(PathBuf::from("/r"), &params(), vec![]);
        let mut results = vec![Ok(Value::Fd(0))];
        results.extend((0..GLOBAL_LOCK_TRIES_MAX).map(|_| Err(Errno::EWOULDBLOCK)));
        results.push(Ok(Value::Unit));
        let ops = drive(&mut c, results);
        assert_eq!(ops.last(), Some(&Op::Close { fd: 0 }));
        assert_eq!(c.op(), None);
    }

    #[test]
    fn ownership_ends_when_the_lock_inside_the_data_is_unlinked() {
        let mut c = Creator::new(PathBuf::from("/r"), &params(), vec![]);
        drive(
            &mut c,
            vec![Ok(Value::Fd(0)), Ok(Value::Unit), Ok(Value::Id(0)), Ok(Value::Unit), Ok(Value::Fd(1)), Ok(Value::Unit), Ok(Value::Unit)],
        );
        let dir = PathBuf::from("/r/temp-dir-0");
        let ident = crate::fs::Identity { dev: 1, ino: 2, nlink: 2, kind: FileKind::Dir };
        let entry = |name: &str, kind| Ok(Value::Entry(Some(DirEntry { name: name.into(), kind })));
        let ops = drive(
            &mut c,
            vec![
                Ok(Value::Identity(ident)),
                Ok(Value::Fd(0)),
                entry("0-a", FileKind::File),
                entry(".lock", FileKind::File),
                Ok(Value::Entry(None)),
                Ok(Value::Unit),
            ],
        );
        assert_eq!(ops[0], Op::PathIdentity { path: dir.clone() });
        assert_eq!(c.owned(), Some(0));
        // Name order: `.lock` before the staged item.
        assert_eq!(c.op(), Some(Op::Unlink { path: dir.join(".lock") }));
        c.feed(Ok(Value::Unit));
        assert_eq!(c.owned(), None, "the lock file is gone: nothing protects the rest");
        assert_eq!(c.op(), Some(Op::Unlink { path: dir.join("0-a") }));
    }
}

//! The simulated filesystem: a deterministic, in-memory model of the part
//! of a Linux local filesystem that the protocol touches. Every checker
//! (exhaustive search, random schedules, fuzzing) runs the protocol's step
//! machines on it, one [`Op`] per atomic step.
//!
//! # What it models
//! - **Namespace.** A tree of directories, regular files (no contents) and
//!   symlinks. Inode numbers are the lowest free (so a freed number comes
//!   back, as on a real filesystem, and equal trees are equal states). An
//!   inode is freed when it has no name *and* no open description. Files
//!   have `nlink` 1 while named and 0 after `unlink`; directories have
//!   `2 + subdirectories` while named and 0 after `rmdir`; symlinks 1.
//! - **Mounts.** [`SimFs::mount`] makes an empty directory the root of a new
//!   device: `rename` across devices is `EXDEV`, `rmdir`/`rename` of a mount
//!   point is `EBUSY` (`unlink` of one is `EISDIR`, as for any directory).
//! - **Path resolution** as `namei` does it: absolute paths only (`EINVAL`
//!   for relative ones), `.`/`..` physical, intermediate symlinks followed
//!   (relative targets from the symlink's directory) up to 8 (`ELOOP`),
//!   final symlinks never followed by any [`Op`] (`open` of one is
//!   `ELOOP`, `O_EXCL` create `EEXIST`, `opendir` `ENOTDIR`: Linux checks
//!   `O_DIRECTORY` before `O_NOFOLLOW`). `ENOENT`, `ENOTDIR`,
//!   `ENAMETOOLONG` (> 255 bytes) as on Linux; the error order of each
//!   operation follows the kernel's (e.g. `renameat2` checks `EXDEV`, then
//!   a missing source, then `EEXIST`, then `ENOTDIR`, then `EINVAL`, then
//!   `EBUSY`).
//! - **Processes.** Each pid has its own descriptor table (lowest free
//!   number from 3), POSIX lock set and in-process registry. Two machines
//!   stepped on the *same* pid are two threads of one process: they share
//!   all three. Every `open` makes a new open file description.
//! - **Locks**, one [`LockKind`] per filesystem (prior-art "Lock kinds on
//!   Linux"): flock and OFD locks belong to the open file description (two
//!   opens conflict even in one process; released by unlock or close);
//!   POSIX locks belong to the process (never conflict within it; released
//!   by unlock, by closing *any* descriptor of the inode in that process, or
//!   by death). A lock is on the inode, so it outlives the name. OFD and
//!   POSIX write locks need a descriptor open for writing: on a directory
//!   stream they fail with `EBADF`; flock works there.
//! - **Directory streams** are cursors, not snapshots: each `readdir` step
//!   returns the first entry that exists *now* strictly after the last name
//!   returned, in the configured [`ReaddirOrder`]. An entry created or
//!   removed during a scan therefore may or may not be seen, as POSIX
//!   permits; one that exists for the whole scan is seen exactly once.
//!
//! # What it injects
//! Nothing by itself: it is a deterministic function of the calls made on
//! it (no clock, no randomness, no hashing of addresses). The caller
//! injects, one choice at a time:
//! - **scheduling**: which process takes the next atomic step;
//! - **crashes** ([`SimFs::crash`]): a process dies between two steps; the
//!   kernel closes its descriptors and drops its locks;
//! - **errors** ([`SimFs::exec_fault`]): any errno on any step, with no
//!   effect, except that `close` still frees the descriptor (`close(2)`);
//! - **id collisions** ([`SimFs::set_id_space`]) and the **readdir order**.
//!
//! # What it cannot model
//! - **Durability.** Every step is durable and ordered the instant it
//!   returns. No page cache, no fsync, no power loss, no reordering of
//!   metadata writes, no torn renames: a crash kills a process, never the
//!   machine. `fsync` only checks its descriptor.
//! - **Network and stacked filesystems** (NFS, FUSE, overlayfs): no silly
//!   renames, no lock loss on lease expiry, no non-atomic rename, no
//!   `d_type` of `DT_UNKNOWN`. One mount is one device (no bind mounts
//!   sharing a device).
//! - **Hard links, permissions, ownership, timestamps, file contents.**
//!   `EACCES`/`EPERM`/`EIO`/`ENOSPC` on a real disk arise only when
//!   injected (`ENOSPC` also past [`INODES_MAX`] inodes, `EMFILE` past
//!   [`FDS_MAX`] descriptors).
//! - **Blocking locks, byte ranges, shared locks, lock conversion,
//!   conflicts between lock kinds; `dup`, `fork`, descriptor passing.**
//! - **Real readdir orders** (hash order on ext4, B-tree order on XFS): only
//!   ascending and descending name order.
//! - **Names that are not UTF-8** (`EINVAL` here). A trailing slash demands
//!   a directory (`ENOTDIR` otherwise, `EISDIR` for `O_CREAT`); a final
//!   symlink with a trailing slash is `ENOTDIR` rather than followed.

mod digest;
mod names;
mod namespace;
mod ops;
mod procs;
mod relabel;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub use namespace::INODES_MAX;
use namespace::{Last, Namespace, Node, ROOT};
use procs::Proc;
pub use procs::FDS_MAX;
pub use relabel::{ino as relabelled_ino, with_labels};

use super::{Errno, FileKind, Fs, Id, Identity, Op, OpResult};

/// A simulated process id: 1, 2, 3... in spawn order.
pub type Pid = u32;

/// Which advisory lock [`Op::TryLock`] takes (prior-art "Lock kinds on
/// Linux").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LockKind {
    /// `flock(2)`: owned by the open file description.
    Flock,
    /// `F_OFD_SETLK`: owned by the open file description.
    Ofd,
    /// `F_SETLK`: owned by the process.
    Posix,
}

/// The order in which a directory stream returns entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReaddirOrder {
    /// Ascending byte order of names.
    Name,
    /// Descending byte order of names.
    ReverseName,
}

/// A value carried along but invisible to `==` (and left out of `Hash`):
/// two states that differ only in it are the same state.
#[derive(Clone, Copy, Debug, Default)]
struct Unhashed<T>(T);

impl<T> PartialEq for Unhashed<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<T> Eq for Unhashed<T> {}

/// The simulated filesystem with its processes. Plain data: clone it to
/// branch a search, hash it to deduplicate states (`Hash` is written by
/// hand in `digest.rs` to be cheap; it covers exactly what `==` compares).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimFs {
    lock_kind: LockKind,
    order: ReaddirOrder,
    /// Shared between a filesystem and its clones until one of them
    /// changes a name: most steps (open, lock, read, close) leave the
    /// namespace alone, so branching a search state copies it by reference.
    ns: std::sync::Arc<Namespace>,
    /// Process `pid` is `procs[pid - 1]`; dead processes stay, marked dead.
    /// Each is shared with the clones of this filesystem until it changes
    /// ([`SimFs::proc_mut`]): a step changes one process's descriptors.
    procs: Vec<std::sync::Arc<Proc>>,
    /// The next id [`Op::DrawId`] returns, already reduced modulo `id_space`.
    id_next: Id,
    id_space: Id,
    /// Whether the most recent [`SimFs::exec`] traversed a symlink. Not part
    /// of the state.
    followed: Unhashed<bool>,
}

impl SimFs {
    /// An empty filesystem: `/` on device 1, no processes.
    pub fn new(lock_kind: LockKind, order: ReaddirOrder) -> SimFs {
        SimFs {
            lock_kind,
            order,
            ns: std::sync::Arc::new(Namespace::new()),
            procs: Vec::new(),
            id_next: 1,
            id_space: Id::MAX,
            followed: Unhashed(false),
        }
    }

    pub fn lock_kind(&self) -> LockKind {
        self.lock_kind
    }

    // ---- setup (not steps of any process) --------------------------------

    /// `mkdir -p path`: creates every missing directory, following symlinks.
    ///
    /// # Panics
    /// When a component exists and is not a directory, or on a relative
    /// path.
    pub fn mkdir_all(&mut self, path: &Path) {
        assert!(path.is_absolute(), "mkdir_all {}: relative path", path.display());
        let mut prefix = PathBuf::from("/");
        for comp in path.components().skip(1) {
            prefix.push(comp);
            match self.mkdir(&prefix, &mut false) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => panic!("mkdir_all {}: {e}", prefix.display()),
            }
        }
        let loc = self.ns.resolve(path, &mut false).expect("mkdir_all: resolve");
        let ino = self.ns.target(&loc).expect("mkdir_all: created");
        let followed = match &self.ns.inode(ino).node {
            Node::Symlink(_) => self.stat_follow(path),
            _ => Some(ino),
        };
        assert!(
            followed.is_some_and(|i| self.ns.is_dir(i)),
            "mkdir_all {}: not a directory",
            path.display()
        );
    }

    /// Creates the regular file `path`; its parent must exist.
    ///
    /// # Panics
    /// When the parent is missing or the name exists.
    pub fn write_file(&mut self, path: &Path) {
        self.setup_create(path, Node::File);
    }

    /// Creates the symlink `path` pointing at `target` (not checked).
    ///
    /// # Panics
    /// When the parent is missing or the name exists.
    pub fn symlink(&mut self, path: &Path, target: &Path) {
        self.setup_create(path, Node::Symlink(names::Target::new(target)));
    }

    fn setup_create(&mut self, path: &Path, node: Node) {
        let loc =
            self.ns.resolve(path, &mut false).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let Last::Name(name) = loc.last else { panic!("{}: no file name", path.display()) };
        assert!(self.ns.lookup(loc.dir, name).is_none(), "{}: exists", path.display());
        self.ns_mut().create(loc.dir, name, node).expect("inode table full");
    }

    /// Makes the existing empty directory `path` the root of a new device
    /// (numbered 2, 3... in call order).
    ///
    /// # Panics
    /// When `path` is not an empty directory, is `/`, or is a mount point.
    pub fn mount(&mut self, path: &Path) {
        let ino =
            self.lstat_ino(path).unwrap_or_else(|| panic!("mount {}: missing", path.display()));
        assert!(ino != ROOT, "mount over /");
        assert!(self.ns.is_dir(ino), "mount {}: not a directory", path.display());
        self.ns_mut().mount(ino);
    }

    // ---- processes -------------------------------------------------------

    /// Starts a process; pids are 1, 2, 3... in call order.
    pub fn spawn(&mut self) -> Pid {
        self.procs.push(std::sync::Arc::new(Proc::new()));
        Pid::try_from(self.procs.len()).expect("pid fits")
    }

    /// How many processes were ever spawned (the highest pid).
    pub fn process_count(&self) -> usize {
        self.procs.len()
    }

    /// Process slot `p`, to change: copied first when a clone shares it.
    fn proc_mut(&mut self, p: usize) -> &mut Proc {
        std::sync::Arc::make_mut(&mut self.procs[p])
    }

    pub fn is_alive(&self, pid: Pid) -> bool {
        self.proc_slot(pid).is_some_and(|p| self.procs[p].alive)
    }

    /// The process dies: the kernel closes its descriptors (dropping flock
    /// and OFD locks with their descriptions), drops its POSIX locks, and its
    /// registry goes with its memory. Crashing a dead process does nothing.
    ///
    /// # Panics
    /// On a pid never spawned.
    pub fn crash(&mut self, pid: Pid) {
        let p = self.proc_slot(pid).unwrap_or_else(|| panic!("crash of unknown pid {pid}"));
        let proc = self.proc_mut(p);
        proc.alive = false;
        proc.posix.clear();
        proc.reserved.clear();
        let fds = std::mem::take(&mut proc.fds);
        // Reap each inode once: two descriptions of one unlinked inode (two
        // threads of this process) would otherwise free it twice.
        let mut inos: Vec<u32> = fds.into_iter().flatten().map(|d| d.ino).collect();
        inos.sort_unstable();
        inos.dedup();
        for ino in inos {
            self.reap(ino);
        }
    }

    /// Performs one atomic step of process `pid`.
    ///
    /// # Panics
    /// When `pid` is dead or was never spawned.
    pub fn exec(&mut self, pid: Pid, op: &Op) -> OpResult {
        let p = self.live(pid);
        let mut followed = false;
        let result = self.step(p, op, &mut followed);
        self.followed = Unhashed(followed);
        result
    }

    /// Process `pid` attempts `op` and the kernel fails it with `errno`
    /// (injected): nothing changes, except that [`Op::Close`] still frees
    /// its descriptor, as `close(2)` does even when it reports `EIO`.
    ///
    /// # Panics
    /// When `pid` is dead or was never spawned.
    pub fn exec_fault(&mut self, pid: Pid, op: &Op, errno: Errno) -> OpResult {
        let p = self.live(pid);
        self.followed = Unhashed(false);
        if let Op::Close { fd } = op {
            // A bad descriptor stays bad; the injected errno is reported.
            let _ = self.close(p, *fd);
        }
        Err(errno)
    }

    /// Whether the most recent [`SimFs::exec`] followed a symlink while
    /// resolving a path (an intermediate component; no `Op` follows a final
    /// one). Not part of the state's `==`/`Hash`.
    pub fn last_followed_symlink(&self) -> bool {
        self.followed.0
    }

    /// Makes [`Op::DrawId`] return `0, 1, .., n-1, 0, 1, ..` from now on, so
    /// that a small search meets id collisions. The default is `1, 2, 3..`.
    ///
    /// # Panics
    /// When `n` is 0.
    pub fn set_id_space(&mut self, n: u128) {
        assert!(n > 0, "id space must be non-empty");
        self.id_space = n;
        self.id_next = 0;
    }

    // ---- observation (never a step) ----------------------------------------

    /// `lstat(path)`: intermediate symlinks followed, the final one not.
    pub fn lstat(&self, path: &Path) -> Option<Identity> {
        self.lstat_ino(path).map(|ino| self.ns.identity(ino))
    }

    pub fn exists(&self, path: &Path) -> bool {
        self.lstat_ino(path).is_some()
    }

    /// The entries of directory `path` (a final symlink is not followed),
    /// sorted by name; empty when `path` is not a directory.
    pub fn list(&self, path: &Path) -> Vec<(String, FileKind)> {
        match self.lstat_ino(path) {
            Some(ino) if self.ns.is_dir(ino) => self
                .ns
                .children(ino)
                .iter()
                .map(|e| (e.name.to_string(), self.ns.kind(e.ino)))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Every path below `path` (not `path` itself), recursively, without
    /// following symlinks; sorted.
    pub fn tree(&self, path: &Path) -> Vec<(PathBuf, FileKind)> {
        let mut out = Vec::new();
        if let Some(ino) = self.lstat_ino(path).filter(|&i| self.ns.is_dir(i)) {
            self.tree_into(ino, path, &mut out);
        }
        out.sort();
        out
    }

    fn tree_into(&self, dir: u32, path: &Path, out: &mut Vec<(PathBuf, FileKind)>) {
        for e in self.ns.children(dir) {
            let child = path.join(e.name.as_str());
            let kind = self.ns.kind(e.ino);
            if kind == FileKind::Dir {
                self.tree_into(e.ino, &child, out);
            }
            out.push((child, kind));
        }
    }

    /// The live processes holding a lock on the inode `path` names (final
    /// symlink not followed), ascending.
    pub fn lock_holders(&self, path: &Path) -> Vec<Pid> {
        let Some(ino) = self.lstat_ino(path) else { return Vec::new() };
        (0..self.procs.len())
            .filter(|&p| self.holds_lock(p, ino))
            .map(|p| Pid::try_from(p + 1).expect("pid fits"))
            .collect()
    }

    /// True when `close(fd)` in process `pid` would change nothing but that
    /// process's descriptor table: `fd` is open on the directory `dir`
    /// names (a final symlink not followed), its description holds no
    /// flock/OFD lock, the process holds no POSIX lock on that inode, and
    /// the inode has a name (so the close cannot free it). The exhaustive
    /// search's partial-order reduction (`check::local`) asks this.
    pub fn close_is_quiet(&self, pid: Pid, fd: crate::fs::Fd, dir: &Path) -> bool {
        let Some(slot) = self.proc_slot(pid) else { return false };
        let proc = &self.procs[slot];
        let Ok(desc) = proc.desc(fd) else { return false };
        let Some(ino) = self.lstat_ino(dir) else { return false };
        desc.ino == ino
            && !desc.locked
            && !proc.holds_posix(ino)
            && self.ns.inode(ino).linked
            && self.ns.is_dir(ino)
    }

    /// How many descriptors process `pid` has open (0 for a dead one).
    pub fn open_fds(&self, pid: Pid) -> usize {
        self.proc_slot(pid).map_or(0, |p| self.procs[p].open_count())
    }

    // ---- internals -------------------------------------------------------

    #[inline]
    fn proc_slot(&self, pid: Pid) -> Option<usize> {
        let p = (pid as usize).checked_sub(1)?;
        (p < self.procs.len()).then_some(p)
    }

    #[inline]
    fn live(&self, pid: Pid) -> usize {
        match self.proc_slot(pid) {
            Some(p) if self.procs[p].alive => p,
            Some(_) => panic!("pid {pid} is dead and takes no steps"),
            None => panic!("pid {pid} was never spawned"),
        }
    }

    fn lstat_ino(&self, path: &Path) -> Option<u32> {
        let loc = self.ns.resolve(path, &mut false).ok()?;
        let ino = self.ns.target(&loc)?;
        (!loc.slash || self.ns.is_dir(ino)).then_some(ino)
    }

    /// `stat(path)`, following a final symlink too (setup checks only).
    fn stat_follow(&self, path: &Path) -> Option<u32> {
        let mut with_dot = path.as_os_str().to_owned();
        with_dot.push("/.");
        self.lstat_ino(Path::new(&with_dot))
    }

    fn holds_lock(&self, p: usize, ino: u32) -> bool {
        let proc = &self.procs[p];
        match self.lock_kind {
            LockKind::Posix => proc.holds_posix(ino),
            LockKind::Flock | LockKind::Ofd => {
                proc.fds.iter().flatten().any(|d| d.locked && d.ino == ino)
            }
        }
    }

    /// The namespace, to change it (copied first if a clone shares it).
    #[inline]
    fn ns_mut(&mut self) -> &mut Namespace {
        std::sync::Arc::make_mut(&mut self.ns)
    }

    /// Frees `ino` when it has neither a name nor an open description.
    fn reap(&mut self, ino: u32) {
        if !self.ns.inode(ino).linked && !self.procs.iter().any(|p| p.has_open(ino)) {
            self.ns_mut().free(ino);
        }
    }
}

/// One process's view of a [`SimFs`]: each [`Fs::execute`] is one step of
/// `pid`.
pub struct SimProcess<'a> {
    pub sim: &'a mut SimFs,
    pub pid: Pid,
}

impl Fs for SimProcess<'_> {
    #[inline]
    fn execute(&mut self, op: &Op) -> OpResult {
        self.sim.exec(self.pid, op)
    }
}

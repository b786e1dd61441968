//! The filesystem boundary: the operations the protocol may perform and the
//! trait that executes them.
//!
//! **The protocol does no I/O except through [`Fs`].** Every role machine in
//! [`crate::protocol`] emits exactly one [`Op`] per step and consumes its
//! [`OpResult`]. The real backend ([`real::RealFs`]) runs each `Op` as one
//! syscall; the simulated backend (`sim::SimFs`) runs it as one atomic step of
//! a modelled world. Both must give an `Op` the same meaning; the meaning is
//! written on each variant below, with the syscall it stands for.

pub mod errno;
pub mod real;
pub mod sim;

use std::fmt;
use std::path::PathBuf;

pub use errno::Errno;

/// A descriptor handle issued by a backend: an open file description for
/// files, a directory stream for [`Op::OpenDir`]. Plain data, so a machine
/// state that holds one can be stored, compared and printed. Backends issue
/// the lowest free number, like `open(2)`.
pub type Fd = u32;

/// An instance id: 128 bits, written as 32 lower-case hex digits.
pub type Id = u128;

/// Formats an id as the 32 lower-case hex digits used in file names.
pub fn id_hex(id: Id) -> String {
    let digits = id_hex_digits(id);
    std::str::from_utf8(&digits).expect("hex digits are ASCII").to_owned()
}

/// The 32 lower-case hex digits of [`id_hex`], without allocating.
pub fn id_hex_digits(id: Id) -> [u8; 32] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 32];
    for (k, digit) in out.iter_mut().enumerate() {
        *digit = DIGITS[((id >> ((31 - k) * 4)) & 0xf) as usize];
    }
    out
}

/// Parses exactly 32 lower-case hex digits; anything else is `None`.
pub fn parse_id_hex(s: &str) -> Option<Id> {
    if s.len() != 32 {
        return None;
    }
    let mut id: Id = 0;
    for b in s.bytes() {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => return None,
        };
        id = (id << 4) | digit as Id;
    }
    Some(id)
}

/// What a path names, as `lstat(2)` sees it (symlinks are not followed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileKind {
    File,
    Dir,
    Symlink,
    /// Sockets, fifos, devices: never created by the protocol.
    Other,
}

/// The identity of an inode: `st_dev`, `st_ino`, `st_nlink` and the file
/// type, from `fstat(2)` or `lstat(2)`.
///
/// `Hash` feeds `ino` through [`sim::relabelled_ino`]: the number itself,
/// except while a search fingerprints a simulated world by inode labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    pub dev: u64,
    pub ino: u64,
    /// Link count; 0 means the file has no name any more.
    pub nlink: u64,
    pub kind: FileKind,
}

impl std::hash::Hash for Identity {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.dev.hash(state);
        sim::relabelled_ino(self.ino).hash(state);
        self.nlink.hash(state);
        self.kind.hash(state);
    }
}

impl Identity {
    /// True when both name the same inode (same device and inode number).
    pub fn same_inode(&self, other: &Identity) -> bool {
        self.dev == other.dev && self.ino == other.ino
    }
}

/// One entry returned by a directory stream. `.` and `..` are never returned.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DirEntry {
    pub name: String,
    /// The entry's type without following symlinks (`d_type`, or `lstat`
    /// where the filesystem does not fill `d_type`).
    pub kind: FileKind,
}

/// One filesystem operation. Each variant is one syscall on the real backend
/// and one atomic step on the simulated one.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// `open(path, O_CREAT|O_EXCL|O_RDWR|O_NOFOLLOW|O_CLOEXEC, 0600)` →
    /// [`Value::Fd`]. `EEXIST` when the name exists (a symlink too).
    CreateExcl { path: PathBuf },
    /// `open(path, O_CREAT|O_RDWR|O_NOFOLLOW|O_CLOEXEC, 0600)` →
    /// [`Value::Fd`]. Creates the file when missing (used by the modelled
    /// published protocols, never by the reference). `ELOOP` on a symlink.
    OpenCreate { path: PathBuf },
    /// `open(path, O_RDWR|O_NOFOLLOW|O_CLOEXEC)` → [`Value::Fd`]. `ENOENT`
    /// when missing, `ELOOP` on a symlink.
    Open { path: PathBuf },
    /// Take the backend's advisory lock (flock, OFD or POSIX, fixed per
    /// backend) exclusively without blocking → [`Value::Unit`].
    /// `EWOULDBLOCK` when another owner holds it.
    TryLock { fd: Fd },
    /// Release the lock taken through `fd` → [`Value::Unit`].
    Unlock { fd: Fd },
    /// `fstat(fd)` → [`Value::Identity`].
    FdIdentity { fd: Fd },
    /// `lstat(path)` → [`Value::Identity`]; does not follow a final symlink.
    PathIdentity { path: PathBuf },
    /// `mkdir(path, 0700)` → [`Value::Unit`]. `EEXIST` when the name exists.
    Mkdir { path: PathBuf },
    /// `renameat2(from, to, RENAME_NOREPLACE)` → [`Value::Unit`]. `EEXIST`
    /// when `to` exists, `EXDEV` across filesystems. Atomic: either both
    /// names change or neither does.
    Rename { from: PathBuf, to: PathBuf },
    /// `unlink(path)` → [`Value::Unit`]. Removes a file or a symlink (never
    /// what it points to). `EISDIR` on a directory.
    Unlink { path: PathBuf },
    /// `rmdir(path)` → [`Value::Unit`]. `ENOTEMPTY`, `ENOTDIR`.
    Rmdir { path: PathBuf },
    /// `open(path, O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC)` → [`Value::Fd`]
    /// naming a directory stream. `ENOTDIR` (or `ELOOP`) when not a directory.
    OpenDir { path: PathBuf },
    /// `readdir(fd)`: the next entry → [`Value::Entry`], `None` at the end.
    /// A listing is many of these steps and is not a snapshot: an entry
    /// created or removed while the stream is open may or may not appear.
    ReadDirNext { fd: Fd },
    /// `fsync(fd)` → [`Value::Unit`].
    Fsync { fd: Fd },
    /// `close(fd)` → [`Value::Unit`]. Closing the last descriptor of an open
    /// file description releases its flock/OFD lock; under POSIX locks,
    /// closing any descriptor of a file drops the process's locks on it.
    Close { fd: Fd },
    /// Draw a fresh instance id from the backend's explicit source of
    /// randomness (`getrandom(2)` on the real backend, a scheduled choice in
    /// the simulation) → [`Value::Id`].
    DrawId,
    /// Reserve `id` in the process-wide registry of instances held by this
    /// process → [`Value::Unit`]; `EBUSY` when another thread of the same
    /// process holds it. Not a syscall: it stands in for the in-process state
    /// that POSIX lock kinds need (they never conflict within one process).
    Reserve { id: Id },
    /// Release `id` from the process-wide registry → [`Value::Unit`].
    Release { id: Id },
}

impl Op {
    /// The path this operation names, if any (the source path for a rename).
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            Op::CreateExcl { path }
            | Op::OpenCreate { path }
            | Op::Open { path }
            | Op::PathIdentity { path }
            | Op::Mkdir { path }
            | Op::Unlink { path }
            | Op::Rmdir { path }
            | Op::OpenDir { path } => Some(path),
            Op::Rename { from, .. } => Some(from),
            _ => None,
        }
    }

    /// Short lower-case name of the operation, as printed in traces.
    pub fn name(&self) -> &'static str {
        match self {
            Op::CreateExcl { .. } => "create_excl",
            Op::OpenCreate { .. } => "open_create",
            Op::Open { .. } => "open",
            Op::TryLock { .. } => "try_lock",
            Op::Unlock { .. } => "unlock",
            Op::FdIdentity { .. } => "fstat",
            Op::PathIdentity { .. } => "lstat",
            Op::Mkdir { .. } => "mkdir",
            Op::Rename { .. } => "rename",
            Op::Unlink { .. } => "unlink",
            Op::Rmdir { .. } => "rmdir",
            Op::OpenDir { .. } => "opendir",
            Op::ReadDirNext { .. } => "readdir",
            Op::Fsync { .. } => "fsync",
            Op::Close { .. } => "close",
            Op::DrawId => "draw_id",
            Op::Reserve { .. } => "reserve",
            Op::Release { .. } => "release",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Rename { from, to } => {
                write!(f, "rename {} -> {}", from.display(), to.display())
            }
            Op::TryLock { fd }
            | Op::Unlock { fd }
            | Op::FdIdentity { fd }
            | Op::ReadDirNext { fd }
            | Op::Fsync { fd }
            | Op::Close { fd } => write!(f, "{} fd{fd}", self.name()),
            Op::Reserve { id } | Op::Release { id } => {
                write!(f, "{} {}", self.name(), id_hex(*id))
            }
            Op::DrawId => f.write_str("draw_id"),
            _ => write!(f, "{} {}", self.name(), self.path().expect("op with a path").display()),
        }
    }
}

/// The value a successful operation returns.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Value {
    Unit,
    Fd(Fd),
    Identity(Identity),
    Entry(Option<DirEntry>),
    Id(Id),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Unit => f.write_str("ok"),
            Value::Fd(fd) => write!(f, "fd{fd}"),
            Value::Identity(i) => {
                write!(f, "dev={} ino={} nlink={} {:?}", i.dev, i.ino, i.nlink, i.kind)
            }
            Value::Entry(Some(e)) => write!(f, "{} ({:?})", e.name, e.kind),
            Value::Entry(None) => f.write_str("end"),
            Value::Id(id) => write!(f, "id {}", id_hex(*id)),
        }
    }
}

/// The result of one operation: a value, or the errno the syscall failed with.
pub type OpResult = Result<Value, Errno>;

/// Executes operations. Implemented by [`real::RealFs`] (syscalls) and by
/// the simulation's per-process handle.
pub trait Fs {
    /// Performs `op` and returns its result. Must not panic on any errno the
    /// operation can return; returns it instead.
    fn execute(&mut self, op: &Op) -> OpResult;
}

impl<F: Fs + ?Sized> Fs for &mut F {
    fn execute(&mut self, op: &Op) -> OpResult {
        (**self).execute(op)
    }
}

/// An operation that failed, with the errno: what every protocol error
/// carries, so that a message always names the path and the errno.
#[derive(Clone, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[error("{op}: {errno}")]
pub struct OpError {
    pub op: Op,
    pub errno: Errno,
}

impl OpError {
    pub fn new(op: Op, errno: Errno) -> Self {
        OpError { op, errno }
    }

    /// Converts to `std::io::Error` keeping the errno as the raw OS error.
    pub fn to_io(&self) -> std::io::Error {
        std::io::Error::new(
            std::io::Error::from_raw_os_error(self.errno.0).kind(),
            self.to_string(),
        )
    }
}

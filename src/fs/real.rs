//! The real backend: each [`Op`] is one syscall on Linux.
//!
//! | `Op` | syscall (man page) |
//! |---|---|
//! | `CreateExcl` | `open(path, O_CREAT\|O_EXCL\|O_RDWR\|O_NOFOLLOW\|O_CLOEXEC, 0600)` (open(2)) |
//! | `OpenCreate` | `open(path, O_CREAT\|O_RDWR\|O_NOFOLLOW\|O_CLOEXEC, 0600)` (open(2)) |
//! | `Open` | `open(path, O_RDWR\|O_NOFOLLOW\|O_CLOEXEC)` (open(2)) |
//! | `TryLock` | `flock(fd, LOCK_EX\|LOCK_NB)` (flock(2)) |
//! | `Unlock` | `flock(fd, LOCK_UN)` (flock(2)) |
//! | `FdIdentity` | `fstat(fd)` (fstat(2)) |
//! | `PathIdentity` | `lstat(path)` (lstat(2)) |
//! | `Mkdir` | `mkdir(path, 0700)` (mkdir(2)) |
//! | `Rename` | `renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE)` (rename(2)) |
//! | `Unlink` | `unlink(path)` (unlink(2)) |
//! | `Rmdir` | `rmdir(path)` (rmdir(2)) |
//! | `OpenDir` | `open(path, O_RDONLY\|O_DIRECTORY\|O_NOFOLLOW\|O_CLOEXEC)` (open(2)) |
//! | `ReadDirNext` | `readdir` (readdir(3): `getdents64(2)` when its buffer is empty), plus `fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW)` (stat(2)) only when the filesystem leaves `d_type` as `DT_UNKNOWN` |
//! | `Fsync` | `fsync(fd)` (fsync(2)) |
//! | `Close` | `close(fd)` (close(2)) |
//! | `DrawId` | `getrandom(buf, 16, 0)` (getrandom(2)) |
//! | `Reserve`/`Release` | no syscall: the process-wide registry below |
//!
//! **Lock kind: `flock(2)`.** It belongs to the open file description, so
//! two opens of one lock file conflict even inside one process (a recoverer
//! thread sees a live instance of its own process as busy), and the lock goes
//! when the last descriptor of that description is closed, or the process
//! dies.
//!
//! **Descriptors.** A [`RealFs`] owns a table from [`Fd`] numbers (lowest
//! free first, like open(2)) to the open file or directory stream, so the
//! machines hold only plain numbers. Dropping a `RealFs` closes everything in
//! its table (what a crash does to a process's descriptors).
//!
//! **Reservations.** [`Op::Reserve`] and [`Op::Release`] act on one registry
//! per process (a `static`), whichever `RealFs` or `StagingRoot` issues them,
//! because the registry stands for "ids held by this process" (see
//! [`Op::Reserve`]). With flock the registry is belt and braces: flock
//! already excludes threads; it matters for lock kinds that do not.
//!
//! **Errors** keep the raw errno of the failing syscall ([`Errno`]).
//!
//! **Names that are not UTF-8.** [`DirEntry::name`] is a `String`. An entry
//! whose name is not valid UTF-8 is returned as a NUL character followed by
//! the name's bytes in lower-case hex; every path this backend is given is
//! decoded the same way before the syscall, so the protocol can remove such
//! an entry by the name it was given. No real name contains NUL, so the
//! encoding cannot collide with one.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use rustix::fs::{AtFlags, Dir, FileType, FlockOperation, Mode, OFlags, RenameFlags, Stat, CWD};

use super::{DirEntry, Errno, Fd, FileKind, Fs, Id, Identity, Op, OpResult, Value};

/// The process-wide registry of reserved ids ([`Op::Reserve`]). `std`'s
/// `Mutex` even under `--cfg loom`: a `static` cannot hold a loom type, and
/// loom never drives this backend.
static RESERVED: Mutex<BTreeSet<Id>> = Mutex::new(BTreeSet::new());

/// What a descriptor number stands for.
#[derive(Debug)]
enum Entry {
    File(OwnedFd),
    Dir(Box<Dir>),
}

impl Entry {
    fn fd(&self) -> rustix::fd::BorrowedFd<'_> {
        use rustix::fd::AsFd;
        match self {
            Entry::File(fd) => fd.as_fd(),
            Entry::Dir(dir) => dir.fd().expect("rustix Dir::fd never fails on Linux"),
        }
    }
}

/// Executes operations with syscalls (module docs give the table).
///
/// One `RealFs` is one descriptor table. It is `Send`, not `Sync`:
/// [`crate::StagingRoot`] shares one behind a mutex, one operation at a time.
#[derive(Debug, Default)]
pub struct RealFs {
    table: Vec<Option<Entry>>,
}

impl RealFs {
    /// An empty descriptor table.
    pub fn new() -> Self {
        RealFs::default()
    }

    /// How many descriptors this table holds open (for leak checks in tests).
    pub fn open_count(&self) -> usize {
        self.table.iter().filter(|e| e.is_some()).count()
    }

    /// Whether `id` is reserved in this process's registry right now.
    pub fn is_reserved(id: Id) -> bool {
        RESERVED.lock().unwrap_or_else(PoisonError::into_inner).contains(&id)
    }

    fn insert(&mut self, entry: Entry) -> Fd {
        let slot = match self.table.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                self.table.push(None);
                self.table.len() - 1
            }
        };
        self.table[slot] = Some(entry);
        Fd::try_from(slot).expect("descriptor table exceeds u32")
    }

    fn get(&mut self, fd: Fd) -> Result<&mut Entry, Errno> {
        self.table.get_mut(fd as usize).and_then(Option::as_mut).ok_or(Errno::EBADF)
    }

    fn open(&mut self, path: &Path, flags: OFlags, mode: u32) -> OpResult {
        let owned = rustix::fs::open(native(path).as_ref(), flags, Mode::from_raw_mode(mode))
            .map_err(errno)?;
        Ok(Value::Fd(self.insert(Entry::File(owned))))
    }

    fn read_dir_next(&mut self, fd: Fd) -> OpResult {
        let Entry::Dir(dir) = self.get(fd)? else { return Err(Errno::ENOTDIR) };
        loop {
            let entry = match dir.read() {
                None => return Ok(Value::Entry(None)),
                Some(r) => r.map_err(errno)?,
            };
            let raw = entry.file_name().to_bytes();
            if raw == b"." || raw == b".." {
                continue;
            }
            let kind = match entry.file_type() {
                FileType::Unknown => {
                    let dirfd = dir.fd().map_err(errno)?;
                    let st = rustix::fs::statat(dirfd, entry.file_name(), AtFlags::SYMLINK_NOFOLLOW)
                        .map_err(errno)?;
                    kind_of(FileType::from_raw_mode(st.st_mode as _))
                }
                t => kind_of(t),
            };
            return Ok(Value::Entry(Some(DirEntry { name: encode_name(raw), kind })));
        }
    }
}

impl Fs for RealFs {
    fn execute(&mut self, op: &Op) -> OpResult {
        let file = OFlags::RDWR | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        match op {
            Op::CreateExcl { path } => self.open(path, file | OFlags::CREATE | OFlags::EXCL, 0o600),
            Op::OpenCreate { path } => self.open(path, file | OFlags::CREATE, 0o600),
            Op::Open { path } => self.open(path, file, 0),
            Op::TryLock { fd } => {
                let e = self.get(*fd)?;
                rustix::fs::flock(e.fd(), FlockOperation::NonBlockingLockExclusive).map_err(errno)?;
                Ok(Value::Unit)
            }
            Op::Unlock { fd } => {
                let e = self.get(*fd)?;
                rustix::fs::flock(e.fd(), FlockOperation::Unlock).map_err(errno)?;
                Ok(Value::Unit)
            }
            Op::FdIdentity { fd } => {
                let e = self.get(*fd)?;
                Ok(Value::Identity(identity(&rustix::fs::fstat(e.fd()).map_err(errno)?)))
            }
            Op::PathIdentity { path } => {
                Ok(Value::Identity(identity(&rustix::fs::lstat(native(path).as_ref()).map_err(errno)?)))
            }
            Op::Mkdir { path } => {
                rustix::fs::mkdir(native(path).as_ref(), Mode::from_raw_mode(0o700)).map_err(errno)?;
                Ok(Value::Unit)
            }
            Op::Rename { from, to } => {
                rustix::fs::renameat_with(
                    CWD,
                    native(from).as_ref(),
                    CWD,
                    native(to).as_ref(),
                    RenameFlags::NOREPLACE,
                )
                .map_err(errno)?;
                Ok(Value::Unit)
            }
            Op::Unlink { path } => {
                rustix::fs::unlink(native(path).as_ref()).map_err(errno)?;
                Ok(Value::Unit)
            }
            Op::Rmdir { path } => {
                rustix::fs::rmdir(native(path).as_ref()).map_err(errno)?;
                Ok(Value::Unit)
            }
            Op::OpenDir { path } => {
                let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
                let owned = rustix::fs::open(native(path).as_ref(), flags, Mode::empty()).map_err(errno)?;
                let dir = Dir::new(owned).map_err(errno)?;
                Ok(Value::Fd(self.insert(Entry::Dir(Box::new(dir)))))
            }
            Op::ReadDirNext { fd } => self.read_dir_next(*fd),
            Op::Fsync { fd } => {
                let e = self.get(*fd)?;
                rustix::fs::fsync(e.fd()).map_err(errno)?;
                Ok(Value::Unit)
            }
            // close(2): the descriptor is freed even when close reports an
            // error (Linux), and OwnedFd's drop does not report one; every
            // machine treats a close result the same either way.
            Op::Close { fd } => {
                let slot = self.table.get_mut(*fd as usize).ok_or(Errno::EBADF)?;
                slot.take().ok_or(Errno::EBADF)?;
                Ok(Value::Unit)
            }
            Op::DrawId => {
                let mut bytes = [0u8; 16];
                getrandom::fill(&mut bytes)
                    .map_err(|e| Errno(e.raw_os_error().unwrap_or(Errno::EIO.0)))?;
                Ok(Value::Id(u128::from_le_bytes(bytes)))
            }
            Op::Reserve { id } => {
                let mut set = RESERVED.lock().unwrap_or_else(PoisonError::into_inner);
                if set.insert(*id) {
                    Ok(Value::Unit)
                } else {
                    Err(Errno::EBUSY)
                }
            }
            Op::Release { id } => {
                RESERVED.lock().unwrap_or_else(PoisonError::into_inner).remove(id);
                Ok(Value::Unit)
            }
        }
    }
}

fn errno(e: rustix::io::Errno) -> Errno {
    Errno(e.raw_os_error())
}

fn kind_of(t: FileType) -> FileKind {
    match t {
        FileType::RegularFile => FileKind::File,
        FileType::Directory => FileKind::Dir,
        FileType::Symlink => FileKind::Symlink,
        _ => FileKind::Other,
    }
}

// The casts are no-ops on x86_64 but not everywhere (`st_nlink` is u32
// on aarch64).
#[allow(clippy::unnecessary_cast)]
fn identity(st: &Stat) -> Identity {
    Identity {
        dev: st.st_dev as u64,
        ino: st.st_ino as u64,
        nlink: st.st_nlink as u64,
        kind: kind_of(FileType::from_raw_mode(st.st_mode as _)),
    }
}

/// A directory entry name as the protocol sees it: the name itself when it
/// is UTF-8, else NUL followed by its bytes in hex (module docs).
pub fn encode_name(raw: &[u8]) -> String {
    match std::str::from_utf8(raw) {
        Ok(s) => s.to_owned(),
        Err(_) => {
            let mut s = String::with_capacity(1 + 2 * raw.len());
            s.push('\0');
            for b in raw {
                s.push_str(&format!("{b:02x}"));
            }
            s
        }
    }
}

/// Undoes [`encode_name`] for one component; `None` when it is not encoded.
fn decode_name(component: &OsStr) -> Option<OsString> {
    let hex = component.as_bytes().strip_prefix(b"\0")?;
    if hex.is_empty() || hex.len() % 2 != 0 {
        return None;
    }
    let bytes = hex
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    Some(OsString::from_vec(bytes))
}

/// The path to hand to the kernel: encoded components decoded.
fn native(path: &Path) -> Cow<'_, Path> {
    if !path.as_os_str().as_bytes().contains(&0) {
        return Cow::Borrowed(path);
    }
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(name) => match decode_name(name) {
                Some(raw) => out.push(raw),
                None => out.push(name),
            },
            other => out.push(other.as_os_str()),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_utf8_names_round_trip_through_paths() {
        let raw = b"caf\xe9";
        let name = encode_name(raw);
        assert_eq!(name, "\u{0}636166e9");
        let path = Path::new("/r/x").join(&name).join("y");
        assert_eq!(native(&path).as_os_str().as_bytes(), b"/r/x/caf\xe9/y");
        assert_eq!(encode_name(b"plain"), "plain");
        assert!(matches!(native(Path::new("/a/b")), Cow::Borrowed(_)));
    }

    #[test]
    fn descriptors_reuse_the_lowest_free_number() {
        let dir = tempfile::tempdir().unwrap();
        let mut fs = RealFs::new();
        let open = |fs: &mut RealFs| match fs.execute(&Op::OpenDir { path: dir.path().into() }) {
            Ok(Value::Fd(fd)) => fd,
            r => panic!("{r:?}"),
        };
        assert_eq!(open(&mut fs), 0);
        assert_eq!(open(&mut fs), 1);
        fs.execute(&Op::Close { fd: 0 }).unwrap();
        assert_eq!(open(&mut fs), 0);
        assert_eq!(fs.execute(&Op::Close { fd: 7 }), Err(Errno::EBADF));
        assert_eq!(fs.open_count(), 2);
    }
}

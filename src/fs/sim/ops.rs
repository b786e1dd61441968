//! One atomic step of a process: each [`Op`] as the kernel would run it,
//! its checks in the kernel's order.

use std::path::Path;

use super::namespace::{Last, Loc, Node};
use super::procs::{Desc, Open, FDS_MAX};
use super::{LockKind, ReaddirOrder, SimFs};
use crate::fs::{DirEntry, Errno, Fd, FileKind, Op, OpResult, Value};

/// How [`SimFs::open`] opens: the `open(2)` flags of each [`Op`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum How {
    /// `O_RDWR|O_NOFOLLOW`.
    Open,
    /// `O_CREAT|O_RDWR|O_NOFOLLOW`.
    Create,
    /// `O_CREAT|O_EXCL|O_RDWR|O_NOFOLLOW`.
    CreateExcl,
    /// `O_RDONLY|O_DIRECTORY|O_NOFOLLOW`.
    Dir,
}

impl SimFs {
    /// The existing inode a location names, with the trailing-slash rule
    /// applied.
    ///
    /// # Errors
    /// `ENOENT` when missing, `ENOTDIR` for a non-directory with a slash.
    #[inline]
    fn existing(&self, loc: &Loc<'_>) -> Result<u32, Errno> {
        let ino = self.ns.target(loc).ok_or(Errno::ENOENT)?;
        if loc.slash && !self.ns.is_dir(ino) {
            return Err(Errno::ENOTDIR);
        }
        Ok(ino)
    }

    pub(super) fn step(&mut self, p: usize, op: &Op, followed: &mut bool) -> OpResult {
        let unit = |r: Result<(), Errno>| r.map(|()| Value::Unit);
        match op {
            Op::CreateExcl { path } => self.open(p, path, How::CreateExcl, followed),
            Op::OpenCreate { path } => self.open(p, path, How::Create, followed),
            Op::Open { path } => self.open(p, path, How::Open, followed),
            Op::OpenDir { path } => self.open(p, path, How::Dir, followed),
            Op::TryLock { fd } => unit(self.try_lock(p, *fd)),
            Op::Unlock { fd } => unit(self.unlock(p, *fd)),
            Op::FdIdentity { fd } => {
                let ino = self.procs[p].desc(*fd)?.ino;
                Ok(Value::Identity(self.ns.identity(ino)))
            }
            Op::PathIdentity { path } => {
                let loc = self.ns.resolve(path, followed)?;
                Ok(Value::Identity(self.ns.identity(self.existing(&loc)?)))
            }
            Op::Mkdir { path } => unit(self.mkdir(path, followed)),
            Op::Rename { from, to } => unit(self.rename(from, to, followed)),
            Op::Unlink { path } => unit(self.unlink(path, followed)),
            Op::Rmdir { path } => unit(self.rmdir(path, followed)),
            Op::ReadDirNext { fd } => self.read_dir(p, *fd).map(Value::Entry),
            Op::Fsync { fd } => self.procs[p].desc(*fd).map(|_| Value::Unit),
            Op::Close { fd } => unit(self.close(p, *fd)),
            Op::DrawId => {
                let id = self.id_next;
                self.id_next = id.wrapping_add(1) % self.id_space;
                Ok(Value::Id(id))
            }
            Op::Reserve { id } => unit(self.proc_mut(p).reserve(*id)),
            Op::Release { id } => {
                self.proc_mut(p).release(*id);
                Ok(Value::Unit)
            }
        }
    }

    /// `open(2)` with the flags of `how`, checks in the kernel's order
    /// (`do_open`, then `may_open`).
    fn open(&mut self, p: usize, path: &Path, how: How, followed: &mut bool) -> OpResult {
        if self.procs[p].open_count() >= FDS_MAX {
            return Err(Errno::EMFILE);
        }
        let creat = matches!(how, How::Create | How::CreateExcl);
        let loc = self.ns.resolve(path, followed)?;
        if creat && loc.slash {
            return Err(Errno::EISDIR);
        }
        let ino = match self.ns.target(&loc) {
            None => match (creat, loc.last) {
                (true, Last::Name(name)) => self.ns_mut().create(loc.dir, name, Node::File)?,
                _ => return Err(Errno::ENOENT),
            },
            Some(ino) => {
                let kind = self.ns.kind(ino);
                if loc.slash && kind != FileKind::Dir {
                    return Err(Errno::ENOTDIR);
                }
                if how == How::CreateExcl {
                    return Err(Errno::EEXIST);
                }
                if creat && kind == FileKind::Dir {
                    return Err(Errno::EISDIR);
                }
                if how == How::Dir && kind != FileKind::Dir {
                    return Err(Errno::ENOTDIR);
                }
                if kind == FileKind::Symlink {
                    return Err(Errno::ELOOP);
                }
                if how != How::Dir && kind == FileKind::Dir {
                    return Err(Errno::EISDIR);
                }
                ino
            }
        };
        let open = if how == How::Dir { Open::Dir(None) } else { Open::File };
        let fd =
            self.proc_mut(p).install(Desc { ino, open, locked: false }).expect("EMFILE checked first");
        Ok(Value::Fd(fd))
    }

    pub(super) fn mkdir(&mut self, path: &Path, followed: &mut bool) -> Result<(), Errno> {
        let loc = self.ns.resolve(path, followed)?;
        let Last::Name(name) = loc.last else { return Err(Errno::EEXIST) };
        if self.ns.lookup(loc.dir, name).is_some() {
            return Err(Errno::EEXIST);
        }
        self.ns_mut().create(loc.dir, name, Node::Dir { parent: loc.dir, mount: false })?;
        Ok(())
    }

    fn unlink(&mut self, path: &Path, followed: &mut bool) -> Result<(), Errno> {
        let loc = self.ns.resolve(path, followed)?;
        let Last::Name(name) = loc.last else { return Err(Errno::EISDIR) };
        let ino = self.ns.lookup(loc.dir, name).ok_or(Errno::ENOENT)?;
        if self.ns.is_dir(ino) {
            return Err(Errno::EISDIR);
        }
        if loc.slash {
            return Err(Errno::ENOTDIR);
        }
        self.ns_mut().remove(loc.dir, name);
        self.reap(ino);
        Ok(())
    }

    fn rmdir(&mut self, path: &Path, followed: &mut bool) -> Result<(), Errno> {
        let loc = self.ns.resolve(path, followed)?;
        let name = match loc.last {
            Last::Name(name) => name,
            Last::Root => return Err(Errno::EBUSY),
            Last::Dot => return Err(Errno::EINVAL),
            Last::DotDot => return Err(Errno::ENOTEMPTY),
        };
        let ino = self.ns.lookup(loc.dir, name).ok_or(Errno::ENOENT)?;
        if !self.ns.is_dir(ino) {
            return Err(Errno::ENOTDIR);
        }
        if self.ns.is_mount(ino) {
            return Err(Errno::EBUSY);
        }
        if !self.ns.children(ino).is_empty() {
            return Err(Errno::ENOTEMPTY);
        }
        self.ns_mut().remove(loc.dir, name);
        self.reap(ino);
        Ok(())
    }

    /// `renameat2(from, to, RENAME_NOREPLACE)`, checks in `do_renameat2`'s
    /// order.
    fn rename(&mut self, from: &Path, to: &Path, followed: &mut bool) -> Result<(), Errno> {
        let a = self.ns.resolve(from, followed)?;
        let b = self.ns.resolve(to, followed)?;
        if self.ns.dev(a.dir) != self.ns.dev(b.dir) {
            return Err(Errno::EXDEV);
        }
        let Last::Name(from_name) = a.last else { return Err(Errno::EBUSY) };
        let Last::Name(to_name) = b.last else { return Err(Errno::EEXIST) };
        let src = self.ns.lookup(a.dir, from_name).ok_or(Errno::ENOENT)?;
        if self.ns.lookup(b.dir, to_name).is_some() {
            return Err(Errno::EEXIST);
        }
        let is_dir = self.ns.is_dir(src);
        if !is_dir && (a.slash || b.slash) {
            return Err(Errno::ENOTDIR);
        }
        // A directory cannot move into itself or below itself.
        if is_dir && self.ns.is_ancestor_or_self(src, b.dir) {
            return Err(Errno::EINVAL);
        }
        if self.ns.is_mount(src) {
            return Err(Errno::EBUSY);
        }
        self.ns_mut().rename(a.dir, from_name, b.dir, to_name);
        Ok(())
    }

    fn read_dir(&mut self, p: usize, fd: Fd) -> Result<Option<DirEntry>, Errno> {
        let desc = self.procs[p].desc(fd)?;
        let Open::Dir(cursor) = &desc.open else { return Err(Errno::ENOTDIR) };
        let entries = self.ns.children(desc.ino);
        let next = match (self.order, cursor.as_deref()) {
            (ReaddirOrder::Name, None) => entries.first(),
            (ReaddirOrder::Name, Some(c)) => {
                entries.get(entries.partition_point(|e| &*e.name <= c))
            }
            (ReaddirOrder::ReverseName, None) => entries.last(),
            (ReaddirOrder::ReverseName, Some(c)) => {
                entries.partition_point(|e| &*e.name < c).checked_sub(1).map(|i| &entries[i])
            }
        };
        let Some(entry) = next else { return Ok(None) };
        let (name, kind) = (entry.name, self.ns.kind(entry.ino));
        let out = DirEntry { name: name.to_string(), kind };
        self.proc_mut(p).desc_mut(fd).expect("checked above").open = Open::Dir(Some(name));
        Ok(Some(out))
    }

    fn try_lock(&mut self, p: usize, fd: Fd) -> Result<(), Errno> {
        let desc = self.procs[p].desc(fd)?;
        let ino = desc.ino;
        let writable = matches!(desc.open, Open::File);
        match self.lock_kind {
            LockKind::Flock | LockKind::Ofd => {
                if self.lock_kind == LockKind::Ofd && !writable {
                    return Err(Errno::EBADF);
                }
                if desc.locked {
                    return Ok(());
                }
                // Every description is its own owner, in this process too.
                if (0..self.procs.len()).any(|q| self.holds_lock(q, ino)) {
                    return Err(Errno::EWOULDBLOCK);
                }
                self.proc_mut(p).desc_mut(fd).expect("checked above").locked = true;
            }
            LockKind::Posix => {
                if !writable {
                    return Err(Errno::EBADF);
                }
                // The process is the owner: only other processes conflict.
                if (0..self.procs.len()).any(|q| q != p && self.holds_lock(q, ino)) {
                    return Err(Errno::EWOULDBLOCK);
                }
                self.proc_mut(p).add_posix(ino);
            }
        }
        Ok(())
    }

    fn unlock(&mut self, p: usize, fd: Fd) -> Result<(), Errno> {
        let kind = self.lock_kind;
        let proc = self.proc_mut(p);
        let desc = proc.desc_mut(fd)?;
        match kind {
            LockKind::Flock | LockKind::Ofd => desc.locked = false,
            LockKind::Posix => {
                let ino = desc.ino;
                proc.drop_posix(ino);
            }
        }
        Ok(())
    }

    /// Frees `fd`: its description goes (and with it a flock/OFD lock);
    /// under POSIX locks the process loses its lock on that inode.
    pub(super) fn close(&mut self, p: usize, fd: Fd) -> Result<(), Errno> {
        let desc = self.proc_mut(p).take(fd)?;
        if self.lock_kind == LockKind::Posix {
            self.proc_mut(p).drop_posix(desc.ino);
        }
        self.reap(desc.ino);
        Ok(())
    }
}

//! Processes: descriptor tables, open file descriptions, POSIX lock sets and
//! the in-process id registry.

use std::hash::Hasher;

use super::digest::Packer;
use super::names::Name;
use crate::fs::{Errno, Fd, Id};

/// Lowest descriptor number handed out (0, 1 and 2 are stdio).
pub(super) const FD_FIRST: Fd = 3;

/// Descriptors one process may hold open; one more is `EMFILE`.
pub const FDS_MAX: usize = 256;

/// What an open file description was opened as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Open {
    /// `O_RDWR` on a regular file.
    File,
    /// A directory stream (`O_RDONLY|O_DIRECTORY`) with its cursor: the last
    /// name returned, `None` before the first.
    Dir(Option<Name>),
}

/// An open file description. There is no `dup`/`fork` in the model, so each
/// description has exactly one descriptor and lives in its owner's table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Desc {
    pub ino: u32,
    pub open: Open,
    /// Holds the flock/OFD lock (unused under POSIX locks).
    pub locked: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Proc {
    pub alive: bool,
    /// Slot `i` is descriptor `FD_FIRST + i`; trailing free slots trimmed.
    pub fds: Vec<Option<Desc>>,
    /// Inodes this process holds a POSIX lock on, sorted.
    pub posix: Vec<u32>,
    /// The in-process registry ([`crate::fs::Op::Reserve`]), sorted.
    pub reserved: Vec<Id>,
}

impl Proc {
    pub fn new() -> Self {
        Proc { alive: true, fds: Vec::new(), posix: Vec::new(), reserved: Vec::new() }
    }

    /// Feeds every field `==` compares to `p` (see [`super::digest`]).
    pub fn digest<H: Hasher>(&self, p: &mut Packer<'_, H>) {
        self.digest_with(p, |ino| ino);
    }

    /// [`Proc::digest`] with each inode number replaced by its label.
    pub fn digest_labelled<H: Hasher>(&self, p: &mut Packer<'_, H>, labels: &[u32]) {
        self.digest_with(p, |ino| labels[ino as usize]);
    }

    fn digest_with<H: Hasher>(&self, p: &mut Packer<'_, H>, label: impl Fn(u32) -> u32) {
        p.put([u8::from(self.alive)]);
        p.count(self.fds.len());
        for slot in &self.fds {
            let Some(d) = slot else {
                p.put([0]);
                continue;
            };
            let (tag, cursor) = match d.open {
                Open::File => (1, 0),
                Open::Dir(None) => (2, 0),
                Open::Dir(Some(name)) => (3, name.hash()),
            };
            let mut piece = [0; 13];
            piece[0] = tag | u8::from(d.locked) << 4;
            piece[1..5].copy_from_slice(&label(d.ino).to_le_bytes());
            piece[5..].copy_from_slice(&cursor.to_le_bytes());
            p.put(piece);
        }
        // A set: sorted by label (by number when unlabelled).
        let mut posix: [u32; 16] = [0; 16];
        let n = self.posix.len();
        assert!(n <= posix.len(), "more POSIX locks than a digest holds");
        for (k, &ino) in self.posix.iter().enumerate() {
            posix[k] = label(ino);
        }
        posix[..n].sort_unstable();
        p.count(n);
        for &l in &posix[..n] {
            p.u32(l);
        }
        p.count(self.reserved.len());
        for &id in &self.reserved {
            p.u128(id);
        }
    }

    #[inline]
    fn slot(fd: Fd) -> Option<usize> {
        fd.checked_sub(FD_FIRST).map(|s| s as usize)
    }

    /// The description behind `fd`.
    ///
    /// # Errors
    /// `EBADF` when `fd` is not open.
    #[inline]
    pub fn desc(&self, fd: Fd) -> Result<&Desc, Errno> {
        Self::slot(fd).and_then(|s| self.fds.get(s)).and_then(Option::as_ref).ok_or(Errno::EBADF)
    }

    #[inline]
    pub fn desc_mut(&mut self, fd: Fd) -> Result<&mut Desc, Errno> {
        Self::slot(fd)
            .and_then(|s| self.fds.get_mut(s))
            .and_then(Option::as_mut)
            .ok_or(Errno::EBADF)
    }

    pub fn open_count(&self) -> usize {
        self.fds.iter().filter(|d| d.is_some()).count()
    }

    /// True when this process has any descriptor open on `ino`.
    #[inline]
    pub fn has_open(&self, ino: u32) -> bool {
        self.fds.iter().flatten().any(|d| d.ino == ino)
    }

    /// Installs `desc` at the lowest free descriptor number.
    ///
    /// # Errors
    /// `EMFILE` when [`FDS_MAX`] descriptors are open.
    pub fn install(&mut self, desc: Desc) -> Result<Fd, Errno> {
        let slot = match self.fds.iter().position(Option::is_none) {
            Some(slot) => slot,
            None if self.fds.len() < FDS_MAX => {
                self.fds.push(None);
                self.fds.len() - 1
            }
            None => return Err(Errno::EMFILE),
        };
        self.fds[slot] = Some(desc);
        Ok(FD_FIRST + Fd::try_from(slot).expect("FDS_MAX fits in Fd"))
    }

    /// Removes `fd` from the table and returns its description.
    ///
    /// # Errors
    /// `EBADF` when `fd` is not open.
    pub fn take(&mut self, fd: Fd) -> Result<Desc, Errno> {
        let slot = Self::slot(fd).ok_or(Errno::EBADF)?;
        let desc = self.fds.get_mut(slot).and_then(Option::take).ok_or(Errno::EBADF)?;
        while self.fds.last().is_some_and(Option::is_none) {
            self.fds.pop();
        }
        Ok(desc)
    }

    #[inline]
    pub fn holds_posix(&self, ino: u32) -> bool {
        self.posix.binary_search(&ino).is_ok()
    }

    pub fn add_posix(&mut self, ino: u32) {
        if let Err(pos) = self.posix.binary_search(&ino) {
            self.posix.insert(pos, ino);
        }
    }

    pub fn drop_posix(&mut self, ino: u32) {
        if let Ok(pos) = self.posix.binary_search(&ino) {
            self.posix.remove(pos);
        }
    }

    /// # Errors
    /// `EBUSY` when `id` is already reserved in this process.
    pub fn reserve(&mut self, id: Id) -> Result<(), Errno> {
        match self.reserved.binary_search(&id) {
            Ok(_) => Err(Errno::EBUSY),
            Err(pos) => {
                self.reserved.insert(pos, id);
                Ok(())
            }
        }
    }

    pub fn release(&mut self, id: Id) {
        if let Ok(pos) = self.reserved.binary_search(&id) {
            self.reserved.remove(pos);
        }
    }
}

//! The namespace: the inode table, the directory entries, and path
//! resolution. Knows nothing about processes; [`super::SimFs`] decides when
//! an unlinked inode may be freed (no open description left).

use std::hash::Hasher;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::digest::Packer;
use super::relabel::UNLABELLED;
use super::names::{Name, Target};
use crate::fs::{Errno, FileKind, Identity};

/// Slot of `/` in the inode table (inode number 1).
pub(super) const ROOT: u32 = 0;

/// Symlinks followed while resolving one path before `ELOOP`. (Linux allows
/// 40; a smaller bound keeps the model's walks short and is still far above
/// anything a scenario needs.)
pub(super) const LINKS_MAX: u32 = 8;

/// Inodes that may exist at once; one more is `ENOSPC`.
pub const INODES_MAX: usize = 4096;

/// Longest name component, as on Linux (`NAME_MAX`).
const NAME_MAX: usize = 255;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Node {
    /// A regular file. Files have no contents in this model.
    File,
    /// A directory. `parent` is the directory holding its entry (itself for
    /// `/`); `mount` marks the root of a mounted filesystem.
    Dir {
        parent: u32,
        mount: bool,
    },
    Symlink(Target),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Inode {
    pub dev: u32,
    /// False once the last name is gone (unlink, rmdir): `st_nlink == 0`.
    pub linked: bool,
    pub node: Node,
}

/// One directory entry. The table is sorted by `(dir, name)`, so one
/// directory's entries are a contiguous run in byte order of their names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Entry {
    pub dir: u32,
    pub name: Name,
    pub ino: u32,
}

/// The final component of a path, as the kernel classifies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Last<'p> {
    Name(&'p str),
    /// `.`: the parent directory itself, without a name.
    Dot,
    /// `..`: the parent's parent, without a name.
    DotDot,
    /// The path is `/` (or only slashes).
    Root,
}

/// A resolved path: the directory that holds (or would hold) the final
/// component, the component, and whether the path had a trailing slash.
#[derive(Clone, Copy, Debug)]
pub(super) struct Loc<'p> {
    pub dir: u32,
    pub last: Last<'p>,
    pub slash: bool,
}

/// The namespace. Plain data; freed slots are `None` and trailing `None`s are
/// trimmed, so equal trees have equal tables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Namespace {
    inodes: Vec<Option<Inode>>,
    entries: Vec<Entry>,
    /// Devices handed out so far; `/` is device 1.
    devs: u32,
    /// The labels and digest of the named part, once asked for; reset by
    /// every change to a name. Not part of `==`.
    named: NamedCache,
}

/// The labels of the named inodes (a preorder walk from `/`, entries in
/// name order; see `relabel.rs`) and the digest of the named tree under
/// them. Computed once per namespace: the search shares one namespace
/// among the many worlds whose steps changed no name.
#[derive(Clone, Debug)]
struct Named {
    /// `labels[raw]`, [`UNLABELLED`] for unnamed or free slots.
    labels: Vec<u32>,
    /// How many inodes have a name (labels `0..count`).
    count: u32,
    digest: u128,
}

#[derive(Clone, Debug, Default)]
struct NamedCache(std::sync::OnceLock<Named>);

impl PartialEq for NamedCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for NamedCache {}

impl Namespace {
    pub fn new() -> Self {
        let root = Inode { dev: 1, linked: true, node: Node::Dir { parent: ROOT, mount: false } };
        Namespace { inodes: vec![Some(root)], entries: Vec::new(), devs: 1, named: NamedCache::default() }
    }

    /// The live inode in `slot`.
    ///
    /// # Panics
    /// When the slot is free: a dangling reference is a simulator bug.
    #[inline]
    pub fn inode(&self, ino: u32) -> &Inode {
        self.inodes[ino as usize].as_ref().expect("reference to a freed inode")
    }

    #[inline]
    fn inode_mut(&mut self, ino: u32) -> &mut Inode {
        self.inodes[ino as usize].as_mut().expect("reference to a freed inode")
    }

    #[inline]
    pub fn kind(&self, ino: u32) -> FileKind {
        match self.inode(ino).node {
            Node::File => FileKind::File,
            Node::Dir { .. } => FileKind::Dir,
            Node::Symlink(_) => FileKind::Symlink,
        }
    }

    #[inline]
    pub fn is_dir(&self, ino: u32) -> bool {
        matches!(self.inode(ino).node, Node::Dir { .. })
    }

    #[inline]
    pub fn is_mount(&self, ino: u32) -> bool {
        matches!(self.inode(ino).node, Node::Dir { mount: true, .. })
    }

    #[inline]
    pub fn dev(&self, ino: u32) -> u32 {
        self.inode(ino).dev
    }

    #[inline]
    fn parent(&self, dir: u32) -> u32 {
        match self.inode(dir).node {
            Node::Dir { parent, .. } => parent,
            _ => unreachable!("parent of a non-directory"),
        }
    }

    /// `dir`'s entries, in ascending byte order of their names.
    #[inline]
    pub fn children(&self, dir: u32) -> &[Entry] {
        let lo = self.entries.partition_point(|e| e.dir < dir);
        let hi = lo + self.entries[lo..].partition_point(|e| e.dir == dir);
        &self.entries[lo..hi]
    }

    #[inline]
    fn find(&self, dir: u32, name: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|e| e.dir.cmp(&dir).then_with(|| (*e.name).cmp(name)))
    }

    #[inline]
    pub fn lookup(&self, dir: u32, name: &str) -> Option<u32> {
        self.find(dir, name).ok().map(|i| self.entries[i].ino)
    }

    /// The inode a resolved location names, without following a final
    /// symlink.
    #[inline]
    pub fn target(&self, loc: &Loc<'_>) -> Option<u32> {
        match loc.last {
            Last::Name(n) => self.lookup(loc.dir, n),
            Last::Dot => Some(loc.dir),
            Last::DotDot => Some(self.parent(loc.dir)),
            Last::Root => Some(ROOT),
        }
    }

    /// `fstat`/`lstat` of an inode. Directories count `2 + subdirectories`
    /// links while named, as ext4 does; everything has 0 once unlinked.
    pub fn identity(&self, ino: u32) -> Identity {
        let inode = self.inode(ino);
        let nlink = match (&inode.node, inode.linked) {
            (_, false) => 0,
            (Node::Dir { .. }, true) => {
                let subdirs = self.children(ino).iter().filter(|e| self.is_dir(e.ino)).count();
                2 + subdirs as u64
            }
            (_, true) => 1,
        };
        Identity { dev: u64::from(inode.dev), ino: u64::from(ino) + 1, nlink, kind: self.kind(ino) }
    }

    /// True when `a` is `b` or one of `b`'s ancestors (both directories).
    pub fn is_ancestor_or_self(&self, a: u32, mut b: u32) -> bool {
        loop {
            if a == b {
                return true;
            }
            if b == ROOT {
                return false;
            }
            b = self.parent(b);
        }
    }

    /// Feeds every field `==` compares to `p` (see [`super::digest`]).
    pub fn digest<H: Hasher>(&self, p: &mut Packer<'_, H>) {
        p.u32(self.devs);
        p.count(self.inodes.len());
        for slot in &self.inodes {
            let Some(inode) = slot else {
                p.put([0]);
                continue;
            };
            p.put(piece(inode, |ino| ino));
        }
        p.count(self.entries.len());
        for e in &self.entries {
            p.put(entry_piece(e.dir, e.ino, &e.name));
        }
    }

    /// Labels inodes (see `relabel.rs`): `labels[raw]` is the position of
    /// inode `raw` in a preorder walk from `/` in name order, then `extra`
    /// (open, unlinked inodes) in the order given; free slots are
    /// [`UNLABELLED`].
    pub fn labels(&self, extra: impl Iterator<Item = u32>, labels: &mut Vec<u32>) {
        let named = self.named();
        labels.clear();
        labels.extend_from_slice(&named.labels);
        labels.resize(self.inodes.len(), UNLABELLED);
        let mut next = named.count;
        for ino in extra {
            if labels[ino as usize] == UNLABELLED {
                labels[ino as usize] = next;
                next += 1;
            }
        }
        // Every live inode has a name or an open description.
        debug_assert!(self.inodes.iter().zip(labels.iter()).all(|(i, &l)| i.is_none() == (l == UNLABELLED)));
    }

    fn named(&self) -> &Named {
        self.named.0.get_or_init(|| {
            let mut labels = vec![UNLABELLED; self.inodes.len()];
            let mut by_label = Vec::with_capacity(self.inodes.len());
            let mut stack = vec![ROOT];
            while let Some(ino) = stack.pop() {
                if labels[ino as usize] != UNLABELLED {
                    continue;
                }
                labels[ino as usize] = by_label.len() as u32;
                by_label.push(ino);
                if self.is_dir(ino) {
                    stack.extend(self.children(ino).iter().rev().map(|e| e.ino));
                }
            }
            let mut bytes = Vec::with_capacity(16 * (by_label.len() + self.entries.len()) + 8);
            bytes.extend_from_slice(&(by_label.len() as u32).to_le_bytes());
            for &raw in &by_label {
                bytes.extend_from_slice(&piece(self.inode(raw), |ino| labels[ino as usize]));
            }
            // Entries by directory label, then name order: canonical.
            bytes.extend_from_slice(&(self.entries.len() as u32).to_le_bytes());
            for &raw in &by_label {
                if !self.is_dir(raw) {
                    continue;
                }
                for e in self.children(raw) {
                    bytes.extend_from_slice(&entry_piece(labels[raw as usize], labels[e.ino as usize], &e.name));
                }
            }
            let digest = xxhash_rust::xxh3::xxh3_128(&bytes);
            Named { labels, count: by_label.len() as u32, digest }
        })
    }

    /// [`Namespace::digest`] with inodes by label (`labels` from
    /// [`Namespace::labels`]) instead of by number: the named tree's cached
    /// digest, then the unnamed inodes in label order.
    pub fn digest_labelled<H: Hasher>(&self, p: &mut Packer<'_, H>, labels: &[u32]) {
        let named = self.named();
        p.u32(self.devs);
        p.u128(named.digest);
        let mut unnamed: [(u32, u32); 16] = [(0, 0); 16];
        let mut n = 0;
        for (raw, &l) in labels.iter().enumerate() {
            if l != UNLABELLED && l >= named.count {
                assert!(n < unnamed.len(), "more open unnamed inodes than a digest holds");
                unnamed[n] = (l, raw as u32);
                n += 1;
            }
        }
        unnamed[..n].sort_unstable();
        p.count(n);
        for &(_, raw) in &unnamed[..n] {
            // An unnamed directory's parent may be gone (or its number
            // reused): unlabelled, or a label that only ever costs a merge.
            p.put(piece(self.inode(raw), |ino| labels.get(ino as usize).copied().unwrap_or(UNLABELLED)));
        }
    }

    // ---- path resolution -------------------------------------------------

    /// Resolves every component of `path` but the last, following symlinks,
    /// and classifies the last one. Absolute paths only (`EINVAL` otherwise).
    /// Sets `*followed` when a symlink was traversed.
    ///
    /// # Errors
    /// `ENOENT` (missing component, empty path), `ENOTDIR` (a component is
    /// not a directory), `ELOOP`, `ENAMETOOLONG`, `EINVAL` (relative path, a
    /// name that is not UTF-8).
    pub fn resolve<'p>(&self, path: &'p Path, followed: &mut bool) -> Result<Loc<'p>, Errno> {
        let bytes = path.as_os_str().as_bytes();
        match bytes.first() {
            None => return Err(Errno::ENOENT),
            Some(b'/') => {}
            Some(_) => return Err(Errno::EINVAL),
        }
        let Some(end) = bytes.iter().rposition(|&b| b != b'/') else {
            return Ok(Loc { dir: ROOT, last: Last::Root, slash: false });
        };
        let trimmed = &bytes[..=end];
        let slash = end + 1 < bytes.len();
        let cut = trimmed.iter().rposition(|&b| b == b'/').expect("absolute path has a slash");
        let mut links = 0;
        let dir = self.walk(ROOT, &trimmed[..=cut], true, &mut links, followed)?;
        if !self.is_dir(dir) {
            return Err(Errno::ENOTDIR);
        }
        let last = match &trimmed[cut + 1..] {
            b"." => Last::Dot,
            b".." => Last::DotDot,
            name => Last::Name(name_str(name)?),
        };
        Ok(Loc { dir, last, slash })
    }

    /// Walks `path` from `start` (or from `/` when absolute), following every
    /// intermediate symlink and the final one when `follow_last`.
    fn walk(
        &self,
        start: u32,
        path: &[u8],
        follow_last: bool,
        links: &mut u32,
        followed: &mut bool,
    ) -> Result<u32, Errno> {
        let mut cur = match path.first() {
            None => return Err(Errno::ENOENT),
            Some(b'/') => ROOT,
            Some(_) => start,
        };
        let mut comps = path.split(|&b| b == b'/').filter(|c| !c.is_empty()).peekable();
        while let Some(comp) = comps.next() {
            let follow = follow_last || comps.peek().is_some();
            cur = self.step(cur, comp, follow, links, followed)?;
        }
        Ok(cur)
    }

    /// One component from directory `dir`.
    fn step(
        &self,
        dir: u32,
        comp: &[u8],
        follow: bool,
        links: &mut u32,
        followed: &mut bool,
    ) -> Result<u32, Errno> {
        let Node::Dir { parent, .. } = self.inode(dir).node else {
            return Err(Errno::ENOTDIR);
        };
        match comp {
            b"." => Ok(dir),
            b".." => Ok(parent),
            name => {
                let ino = self.lookup(dir, name_str(name)?).ok_or(Errno::ENOENT)?;
                match &self.inode(ino).node {
                    Node::Symlink(target) if follow => {
                        *links += 1;
                        if *links > LINKS_MAX {
                            return Err(Errno::ELOOP);
                        }
                        *followed = true;
                        // A relative target starts in the symlink's directory.
                        self.walk(dir, target.as_bytes(), true, links, followed)
                    }
                    _ => Ok(ino),
                }
            }
        }
    }

    // ---- changes ---------------------------------------------------------

    /// Creates `name` in `dir` as a new inode on `dir`'s device. The caller
    /// has checked that the name is free.
    ///
    /// # Errors
    /// `ENOSPC` when [`INODES_MAX`] inodes exist.
    pub fn create(&mut self, dir: u32, name: &str, node: Node) -> Result<u32, Errno> {
        self.named = NamedCache::default();
        let pos = self.find(dir, name).expect_err("create over an existing name");
        let slot = match self.inodes.iter().position(Option::is_none) {
            Some(slot) => slot,
            None if self.inodes.len() < INODES_MAX => {
                self.inodes.push(None);
                self.inodes.len() - 1
            }
            None => return Err(Errno::ENOSPC),
        };
        let ino = u32::try_from(slot).expect("INODES_MAX fits in u32");
        let node = match node {
            Node::Dir { mount, .. } => Node::Dir { parent: dir, mount },
            other => other,
        };
        self.inodes[slot] = Some(Inode { dev: self.dev(dir), linked: true, node });
        self.entries.insert(pos, Entry { dir, name: Name::new(name), ino });
        Ok(ino)
    }

    /// Removes the entry `dir/name` and marks its inode unlinked. The inode
    /// stays until [`Namespace::free`].
    pub fn remove(&mut self, dir: u32, name: &str) -> u32 {
        self.named = NamedCache::default();
        let pos = self.find(dir, name).expect("remove of a missing name");
        let ino = self.entries.remove(pos).ino;
        self.inode_mut(ino).linked = false;
        ino
    }

    /// Moves `from_dir/from` to `to_dir/to` (the caller has checked every
    /// rule of `rename(2)`).
    pub fn rename(&mut self, from_dir: u32, from: &str, to_dir: u32, to: &str) {
        self.named = NamedCache::default();
        let pos = self.find(from_dir, from).expect("rename of a missing name");
        let entry = self.entries.remove(pos);
        let ino = entry.ino;
        let name = if from == to { entry.name } else { Name::new(to) };
        let pos = self.find(to_dir, to).expect_err("rename over an existing name");
        self.entries.insert(pos, Entry { dir: to_dir, name, ino });
        if let Node::Dir { parent, .. } = &mut self.inode_mut(ino).node {
            *parent = to_dir;
        }
    }

    /// Frees an unlinked inode's slot; trailing free slots are trimmed so
    /// that the table stays canonical. The named part does not change.
    pub fn free(&mut self, ino: u32) {
        assert!(!self.inode(ino).linked, "freeing a named inode");
        assert!(ino != ROOT, "freeing /");
        self.inodes[ino as usize] = None;
        while self.inodes.last().is_some_and(Option::is_none) {
            self.inodes.pop();
        }
    }

    /// Makes the empty directory `ino` the root of a new device.
    pub fn mount(&mut self, ino: u32) -> u32 {
        self.named = NamedCache::default();
        assert!(self.children(ino).is_empty(), "mount over a non-empty directory");
        self.devs += 1;
        let dev = self.devs;
        let inode = self.inode_mut(ino);
        let Node::Dir { mount, .. } = &mut inode.node else { panic!("mount over a non-directory") };
        assert!(!*mount, "mount over a mount point");
        *mount = true;
        inode.dev = dev;
        dev
    }
}

/// One inode's fixed-size encoding for a digest: kind, linked, device,
/// and its parent's number or label (a directory) or its target's hash (a
/// symlink). `label` is the identity for a digest by number.
fn piece(inode: &Inode, label: impl Fn(u32) -> u32) -> [u8; 13] {
    let (tag, extra) = match inode.node {
        Node::File => (1, 0),
        Node::Dir { parent, mount } => (2 + u8::from(mount), u64::from(label(parent))),
        Node::Symlink(target) => (4, target.hash()),
    };
    let mut piece = [0; 13];
    piece[0] = tag | u8::from(inode.linked) << 4;
    piece[1..5].copy_from_slice(&inode.dev.to_le_bytes());
    piece[5..].copy_from_slice(&extra.to_le_bytes());
    piece
}

/// One directory entry's encoding for a digest: its directory, its inode
/// (each a number or a label) and the hash of its name.
fn entry_piece(dir: u32, ino: u32, name: &Name) -> [u8; 16] {
    let mut piece = [0; 16];
    piece[..4].copy_from_slice(&dir.to_le_bytes());
    piece[4..8].copy_from_slice(&ino.to_le_bytes());
    piece[8..].copy_from_slice(&name.hash().to_le_bytes());
    piece
}

/// A path component as a name: at most [`NAME_MAX`] bytes of UTF-8.
#[inline]
fn name_str(bytes: &[u8]) -> Result<&str, Errno> {
    if bytes.len() > NAME_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    std::str::from_utf8(bytes).map_err(|_| Errno::EINVAL)
}

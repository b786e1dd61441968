//! Cheap hashing of whole states. A checker hashes millions of [`SimFs`]
//! states; a derived `Hash` makes about a hundred tiny `Hasher::write` calls
//! per state, each costly in SipHash. Instead every part encodes itself into
//! a stack buffer that reaches the hasher in a few large writes.
//!
//! **The encoding covers exactly the fields `==` compares** (the derived
//! `PartialEq`), so equal states hash equally; tables carry their length,
//! and names and symlink targets enter as a 64-bit hash of their bytes that
//! is distinct for distinct names (`names.rs`), so different states rarely
//! collide. Every piece has a fixed size: a constant-size copy each.

use std::hash::{Hash, Hasher};

use super::SimFs;

/// Buffers bytes for a hasher. Flush points depend only on the bytes
/// written, so equal states give the hasher identical calls.
pub(super) struct Packer<'h, H: Hasher> {
    hasher: &'h mut H,
    buf: [u8; 512],
    len: usize,
}

impl<'h, H: Hasher> Packer<'h, H> {
    fn new(hasher: &'h mut H) -> Self {
        Packer { hasher, buf: [0; 512], len: 0 }
    }

    /// A fixed-size piece: one bounds check and a constant-size copy.
    #[inline]
    pub fn put<const N: usize>(&mut self, b: [u8; N]) {
        const { assert!(N <= 512) };
        if self.len + N > self.buf.len() {
            self.flush();
        }
        self.buf[self.len..self.len + N].copy_from_slice(&b);
        self.len += N;
    }

    #[inline]
    pub fn u32(&mut self, v: u32) {
        self.put(v.to_le_bytes());
    }

    #[inline]
    pub fn u128(&mut self, v: u128) {
        self.put(v.to_le_bytes());
    }

    /// A length or count (as `u32`: every table here is bounded far below).
    #[inline]
    pub fn count(&mut self, n: usize) {
        self.u32(n as u32);
    }

    fn flush(&mut self) {
        if self.len > 0 {
            self.hasher.write(&self.buf[..self.len]);
            self.len = 0;
        }
    }
}

impl Hash for SimFs {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.hash_shared(state);
        state.write_u32(self.procs.len() as u32);
        for pid in 1..=self.procs.len() {
            self.hash_proc(pid as super::Pid, state);
        }
        // `followed` is deliberately left out: it is not part of the state.
    }
}

impl SimFs {
    /// Feeds everything but the processes to `state`: the lock kind, the
    /// readdir order, the id counter and the namespace. With
    /// [`SimFs::hash_proc`] for every pid this covers what `==` compares;
    /// a search that treats some processes as interchangeable
    /// (`check::symmetry`) hashes them in an order of its choosing.
    pub fn hash_shared<H: Hasher>(&self, state: &mut H) {
        let mut p = Packer::new(state);
        p.put([self.lock_kind as u8, self.order as u8]);
        p.u128(self.id_next);
        p.u128(self.id_space);
        self.ns.digest(&mut p);
        p.flush();
    }

    /// [`SimFs::hash_shared`] with inodes by their labels
    /// ([`SimFs::inode_labels`]) instead of their numbers.
    pub fn hash_shared_labelled<H: Hasher>(&self, labels: &[u32], state: &mut H) {
        let mut p = Packer::new(state);
        p.put([self.lock_kind as u8, self.order as u8]);
        p.u128(self.id_next);
        p.u128(self.id_space);
        self.ns.digest_labelled(&mut p, labels);
        p.flush();
    }

    /// [`SimFs::hash_proc`] with inodes by their labels.
    ///
    /// # Panics
    /// On a pid never spawned.
    pub fn hash_proc_labelled<H: Hasher>(&self, pid: super::Pid, labels: &[u32], state: &mut H) {
        let slot = self.proc_slot(pid).unwrap_or_else(|| panic!("hash of unknown pid {pid}"));
        let mut p = Packer::new(state);
        self.procs[slot].digest_labelled(&mut p, labels);
        p.flush();
    }

    /// Feeds process `pid`'s state to `state`: liveness, descriptor table
    /// (each description's inode, kind, cursor and lock), POSIX locks and
    /// registry. Nothing in it names a pid.
    ///
    /// # Panics
    /// On a pid never spawned.
    pub fn hash_proc<H: Hasher>(&self, pid: super::Pid, state: &mut H) {
        let slot = self.proc_slot(pid).unwrap_or_else(|| panic!("hash of unknown pid {pid}"));
        let mut p = Packer::new(state);
        self.procs[slot].digest(&mut p);
        p.flush();
    }
}

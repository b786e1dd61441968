//! Cheap hashing of whole states. A checker hashes millions of [`SimFs`]
//! states; a derived `Hash` makes about a hundred tiny `Hasher::write` calls
//! per state, each costly in SipHash. Instead every part encodes itself into
//! a stack buffer that reaches the hasher in a few large writes.
//!
//! **The encoding covers exactly the fields `==` compares** (the derived
//! `PartialEq`), so equal states hash equally; variable-length parts carry
//! their length, so different states rarely collide.

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

    #[inline]
    pub fn bytes(&mut self, b: &[u8]) {
        if self.len + b.len() > self.buf.len() {
            self.flush();
            if b.len() > self.buf.len() {
                self.hasher.write(b);
                return;
            }
        }
        self.buf[self.len..self.len + b.len()].copy_from_slice(b);
        self.len += b.len();
    }

    #[inline]
    pub fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }

    #[inline]
    pub fn u128(&mut self, v: u128) {
        self.bytes(&v.to_le_bytes());
    }

    /// A length or count (as `u32`: every table here is bounded far below).
    #[inline]
    pub fn count(&mut self, n: usize) {
        self.u32(n as u32);
    }

    /// A length-prefixed byte string.
    #[inline]
    pub fn str(&mut self, b: &[u8]) {
        self.count(b.len());
        self.bytes(b);
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
        let mut p = Packer::new(state);
        p.bytes(&[self.lock_kind as u8, self.order as u8]);
        p.u128(self.id_next);
        p.u128(self.id_space);
        self.ns.digest(&mut p);
        p.count(self.procs.len());
        for proc in &self.procs {
            proc.digest(&mut p);
        }
        p.flush();
        // `followed` is deliberately left out: it is not part of the state.
    }
}

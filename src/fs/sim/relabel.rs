//! Inode relabelling for state fingerprints.
//!
//! Inode numbers in the simulation are the lowest free, so two worlds with
//! the same tree, the same descriptors and the same locks can differ only
//! in which number each inode got: two creators that made their lock files
//! in the other order. Nothing the protocol does depends on a number
//! except through equality (an identity re-check compares `st_ino`), the
//! oracle judges names and owners, never numbers, and the only identity a
//! machine keeps across a step is that of a descriptor it still holds open
//! (so its inode is live and labelled): such worlds have the same futures.
//! A search that hashes inodes by a canonical label instead of their
//! number keeps one of them.
//!
//! The label of an inode is its position in a preorder walk of the tree
//! from `/`, entries in name order; inodes with no name but an open
//! description (an unlinked lock file still held) come after, in the order
//! the processes' descriptor tables reach them. Every place that holds an
//! inode number is hashed through the same labels: directory entries,
//! parents, descriptors, POSIX lock sets, and the [`Identity`] values a
//! machine keeps between two steps (its `Hash` asks [`ino`]).
//!
//! [`Identity`]: crate::fs::Identity

use std::cell::RefCell;

use super::SimFs;

/// No label: the inode is not reachable (never the case for a number a
/// live state holds).
pub(super) const UNLABELLED: u32 = u32::MAX;

thread_local! {
    /// The labels in force while a fingerprint is taken (empty otherwise).
    static ACTIVE: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
}

impl SimFs {
    /// The labels of this filesystem's inodes: `labels[raw]` for each raw
    /// inode number (`u32::MAX` for a free slot).
    pub fn inode_labels(&self, labels: &mut Vec<u32>) {
        let extra = self.procs.iter().flat_map(|p| p.fds.iter().flatten().map(|d| d.ino));
        self.ns.labels(extra, labels);
    }
}

/// Runs `f` with `labels` (from [`SimFs::inode_labels`]) in force for
/// [`ino`] on this thread.
pub fn with_labels<R>(labels: &[u32], f: impl FnOnce() -> R) -> R {
    /// Takes the labels down again, also when `f` unwinds.
    struct Clear;
    impl Drop for Clear {
        fn drop(&mut self) {
            ACTIVE.with(|a| a.borrow_mut().clear());
        }
    }
    ACTIVE.with(|a| {
        let mut a = a.borrow_mut();
        assert!(a.is_empty(), "inode labels are already in force on this thread");
        a.extend_from_slice(labels);
    });
    let _clear = Clear;
    f()
}

/// The label of the `st_ino` value `ino` (raw number + 1) when labels are
/// in force, else `ino` itself. Labels are offset by `1 << 32` so that a
/// label never equals a raw value.
pub fn ino(ino: u64) -> u64 {
    ACTIVE.with(|a| {
        let a = a.borrow();
        if a.is_empty() {
            return ino;
        }
        let raw = ino.checked_sub(1).map(|r| r as usize);
        match raw.and_then(|r| a.get(r)) {
            Some(&label) if label != UNLABELLED => (1 << 32) + u64::from(label),
            _ => ino,
        }
    })
}

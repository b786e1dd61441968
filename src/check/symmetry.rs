//! Process symmetry: two creators (or two recoverers) of one scenario run
//! the same program on different items, so a world and the world with
//! their two process slots exchanged have the same futures, up to the
//! names of the processes in the actions. The exhaustive search keeps one
//! state per such class: it fingerprints each process slot on its own,
//! sorts the fingerprints within a role, and hashes the sorted list with
//! the shared part of the world (namespace, fault budget). It merges most
//! of each class, not always all of it: open unnamed inodes are labelled
//! in pid order before the slots are sorted, so two worlds that differ by
//! exchanging two processes that each hold one stay apart (a missed merge,
//! never a wrong one).
//!
//! Why the exchange is a symmetry of the model:
//! - a process slot is everything that belongs to one process: its
//!   program state (which holds its own paths, ids and descriptor numbers)
//!   and its [`SimFs`](crate::fs::sim::SimFs) slot (descriptor table, open
//!   file descriptions, POSIX locks, registry). Nothing else in the world
//!   names a process: inodes, locks on flock/OFD descriptions and the
//!   oracle's owners are reached through the slots, and the oracle names
//!   the acting process by its slot;
//! - the enabled actions, the filesystem's semantics and the oracle treat
//!   every slot alike (an invariant speaks of "some process", never of
//!   pid 2);
//! - an exchange never crosses roles, so "creators first, then recoverers"
//!   holds in every representative.
//!
//! It is switched off when two machines share one pid (a recoverer or a
//! status thread inside a creator's process): there the slots are not
//! independent.
//!
//! The search stores the worlds it actually reached (not a canonical
//! relabelling), so the parent links still replay from the initial state
//! action by action, and the counterexample is still the shortest: every
//! member of a class is reached at the same depth as its representative.

use std::hash::{Hash, Hasher};
use std::ops::Range;

use crate::fs::sim::{with_labels, Pid};

use super::bfs::{ByteSink, Fingerprint};
use super::scenario::Scenario;
use super::world::World;

/// The interchangeable process slots of a scenario: each range is one role
/// whose slots may be exchanged. Empty when symmetry is off.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Symmetry {
    classes: Vec<Range<usize>>,
    /// Hash inodes by label instead of number (`fs::sim` `relabel.rs`).
    inodes: bool,
}

impl Symmetry {
    /// The classes of `scn`: its creators, and its recoverers, each when
    /// there are at least two and no two machines share a pid.
    pub fn of(scn: &Scenario) -> Symmetry {
        if scn.shared_process || scn.statuses > 0 {
            return Symmetry { classes: Vec::new(), inodes: true };
        }
        let creators = scn.creators as usize;
        let recoverers = scn.recoverers as usize;
        let classes = [0..creators, creators..creators + recoverers]
            .into_iter()
            .filter(|r| r.len() >= 2)
            .collect();
        Symmetry { classes, inodes: true }
    }

    /// No symmetry: every slot and every inode number is told apart.
    pub fn none() -> Symmetry {
        Symmetry::default()
    }

    /// True when no two process slots may be exchanged.
    pub fn is_none(&self) -> bool {
        self.classes.is_empty()
    }
}

thread_local! {
    static SHARED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    static SLOT: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    static KEYS: std::cell::RefCell<Vec<u128>> = const { std::cell::RefCell::new(Vec::new()) };
    static LABELS: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The fingerprint of `w`'s class under `sym`: equal for two worlds that
/// differ only by exchanging slots within a class. With [`Symmetry::none`]
/// it still identifies the world (slots are hashed in pid order).
///
/// # Panics
/// When symmetry is on and a process's pid is not its slot number plus
/// one (one pid per machine is what makes slots exchangeable).
pub fn fingerprint(w: &World, sym: &Symmetry) -> Fingerprint {
    LABELS.with(|labels| {
        let mut labels = labels.borrow_mut();
        labels.clear();
        if sym.inodes {
            w.fs.inode_labels(&mut labels);
            with_labels(&labels, || fingerprint_with(w, sym, Some(&labels)))
        } else {
            fingerprint_with(w, sym, None)
        }
    })
}

fn fingerprint_with(w: &World, sym: &Symmetry, labels: Option<&[u32]>) -> Fingerprint {
    let slot_hash = |f: &mut dyn FnMut(&mut ByteSink<'_>)| {
        SLOT.with(|buf| {
            let mut buf = buf.borrow_mut();
            buf.clear();
            f(&mut ByteSink(&mut buf));
            xxhash_rust::xxh3::xxh3_128(&buf)
        })
    };
    KEYS.with(|keys| {
        let mut keys = keys.borrow_mut();
        keys.clear();
        // Slot keys: one 128-bit hash per process slot.
        for (slot, proc) in w.procs.iter().enumerate() {
            keys.push(slot_hash(&mut |h| {
                proc.program.hash(h);
                proc.life.hash(h);
                if sym.is_none() {
                    proc.pid.hash(h);
                } else {
                    assert_eq!(proc.pid as usize, slot + 1, "symmetry needs one pid per machine");
                }
            }));
        }
        // The filesystem's process slots, by pid.
        let fs_slots = w.fs.process_count();
        for pid in 1..=fs_slots {
            let key = slot_hash(&mut |h| match labels {
                Some(l) => w.fs.hash_proc_labelled(pid as Pid, l, h),
                None => w.fs.hash_proc(pid as Pid, h),
            });
            if sym.is_none() || pid > w.procs.len() {
                keys.push(key);
            } else {
                // One pid per machine: the slot's key covers both halves.
                let k = &mut keys[pid - 1];
                let mut both = [0u8; 32];
                both[..16].copy_from_slice(&k.to_le_bytes());
                both[16..].copy_from_slice(&key.to_le_bytes());
                *k = xxhash_rust::xxh3::xxh3_128(&both);
            }
        }
        for class in &sym.classes {
            keys[class.clone()].sort_unstable();
        }
        SHARED.with(|buf| {
            let mut buf = buf.borrow_mut();
            buf.clear();
            let mut h = ByteSink(&mut buf);
            match labels {
                Some(l) => w.fs.hash_shared_labelled(l, &mut h),
                None => w.fs.hash_shared(&mut h),
            }
            h.write_u8(w.faults_left);
            h.write_usize(w.procs.len());
            h.write_usize(fs_slots);
            for k in keys.iter() {
                h.write(&k.to_le_bytes());
            }
            xxhash_rust::xxh3::xxh3_128(&buf)
        })
    })
}

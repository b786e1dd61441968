//! The invariant oracle: judges every step of a world (SPEC.md
//! "Invariants"). Ghost state comes from the programs' own beliefs
//! ([`Role::owned`]) and from the operations themselves.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::fs::sim::Pid;
use crate::fs::{id_hex, FileKind, Id, Op};
use crate::variants::{Entry, Role};

use super::scenario::{Scenario, OUTSIDE};
use super::world::{Record, World};

/// The invariants, numbered as in SPEC.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Invariant {
    /// INV-1: at most one live owner per instance id.
    OneOwner,
    /// INV-2: nothing inside an instance's data is removed while its owner
    /// is alive, except by the owner.
    OwnerDataUntouched,
    /// INV-3: stage is atomic: Ok means gone from the source and present in
    /// the data; Err means intact at the source.
    StageAtomic,
    /// INV-4: `<id>.data` exists only while `<id>.lock` names a file.
    DataUnderLock,
    /// INV-5: after every process has ended and one fault-free recovery has
    /// run, ROOT holds nothing but foreign entries (and the instances whose
    /// data still holds a mount point, which removal must not cross).
    NothingLeaks,
    /// INV-6: recovery removes nothing outside `ROOT/<id>.lock` and
    /// `ROOT/<id>.data`, and follows no symlink; nobody removes anything
    /// outside ROOT or on another filesystem than ROOT's.
    RecoveryConfined,
}

impl Invariant {
    pub const ALL: [Invariant; 6] = [
        Invariant::OneOwner,
        Invariant::OwnerDataUntouched,
        Invariant::StageAtomic,
        Invariant::DataUnderLock,
        Invariant::NothingLeaks,
        Invariant::RecoveryConfined,
    ];

    /// `INV-1` .. `INV-6`.
    pub fn code(&self) -> &'static str {
        match self {
            Invariant::OneOwner => "INV-1",
            Invariant::OwnerDataUntouched => "INV-2",
            Invariant::StageAtomic => "INV-3",
            Invariant::DataUnderLock => "INV-4",
            Invariant::NothingLeaks => "INV-5",
            Invariant::RecoveryConfined => "INV-6",
        }
    }

    pub fn title(&self) -> &'static str {
        match self {
            Invariant::OneOwner => "at most one live owner per id",
            Invariant::OwnerDataUntouched => "a live owner's data is removed only by its owner",
            Invariant::StageAtomic => "stage is atomic",
            Invariant::DataUnderLock => "data exists only while its lock file has a name",
            Invariant::NothingLeaks => "nothing leaks after a final recovery",
            Invariant::RecoveryConfined => "removal stays inside its names and its filesystem, follows no symlink",
        }
    }
}

impl fmt::Display for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.code(), self.title())
    }
}

/// A broken invariant, with the state that shows it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Violation {
    pub invariant: Invariant,
    /// What the oracle saw, in words a person can check against the trace.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} violated: {}", self.invariant, self.detail)
    }
}

fn violation(invariant: Invariant, detail: String) -> Option<Violation> {
    Some(Violation { invariant, detail })
}

/// The live owners: (thread, pid, id) for each live thread (index into
/// `World::procs`) that believes it owns an id.
pub fn owners(w: &World) -> Vec<(usize, Pid, Id)> {
    w.procs
        .iter()
        .enumerate()
        .filter(|(_, p)| p.alive())
        .filter_map(|(t, p)| p.program.owned().map(|id| (t, p.pid, id)))
        .collect()
}

/// The path an operation removes from its place, when it succeeds.
fn removed_path(op: &Op) -> Option<&Path> {
    match op {
        Op::Unlink { path } | Op::Rmdir { path } => Some(path),
        Op::Rename { from, .. } => Some(from),
        _ => None,
    }
}

/// Judges one step. `owners_before` are the live owners before it.
pub fn after_step(scn: &Scenario, w: &World, rec: &Record, owners_before: &[(usize, Pid, Id)]) -> Option<Violation> {
    let layout = scn.variant.layout();
    let root = scn.root();
    // INV-1: at most one live owner per id.
    let now = owners(w);
    for (k, (_, pa, ia)) in now.iter().enumerate() {
        if let Some((_, pb, _)) = now[k + 1..].iter().find(|(_, _, ib)| ib == ia) {
            return violation(
                Invariant::OneOwner,
                format!("pid {pa} and pid {pb} both own id {} after this step", short(*ia)),
            );
        }
    }
    let (Some(op), Some(result)) = (&rec.op, &rec.result) else {
        return None;
    };
    // The acting thread, by index: two machines may share a pid (a
    // recoverer thread in a creator's process).
    let actor = &w.procs[rec.action.proc()];
    // INV-2: a removal inside a live owner's data, by anyone else (another
    // process, or another thread of the owner's process).
    if let (Some(path), Ok(_)) = (removed_path(op), result) {
        for (thread, owner, id) in owners_before {
            let alive = w.procs[*thread].alive();
            if *thread != rec.action.proc() && alive && path.starts_with(layout.data_path(root, *id)) {
                return violation(
                    Invariant::OwnerDataUntouched,
                    format!("pid {} removed {} while pid {owner} owns id {}", rec.pid, path.display(), short(*id)),
                );
            }
        }
        // INV-6: nothing on another filesystem than ROOT's is removed, by
        // anyone (owner or not): a filesystem mounted inside a staged tree
        // is not garbage. The removed name's directory is still there and
        // tells the device (a mount point itself cannot be removed).
        if let Some(dev) = other_device(scn, w, path) {
            return violation(
                Invariant::RecoveryConfined,
                format!("pid {} removed {}, on device {dev}, not ROOT's", rec.pid, path.display()),
            );
        }
        // INV-6: a recoverer removes only `<id>.lock` and what is in `<id>.data`.
        if actor.program.is_recoverer() && !recovery_may_remove(scn, path) {
            return violation(
                Invariant::RecoveryConfined,
                format!("recoverer pid {} removed {}, outside its instance names", rec.pid, path.display()),
            );
        }
    }
    // INV-3: stage is atomic (a creator's rename).
    if let Op::Rename { from, to } = op {
        if !actor.program.is_recoverer() {
            let (src, dst) = (w.fs.exists(from), w.fs.exists(to));
            match result {
                Ok(_) if src || !dst => {
                    return violation(
                        Invariant::StageAtomic,
                        format!("stage returned Ok but source present={src}, destination present={dst}"),
                    )
                }
                Err(e) if !src => {
                    return violation(
                        Invariant::StageAtomic,
                        format!("stage of {} failed with {e} and the source is gone", from.display()),
                    )
                }
                _ => {}
            }
        }
    }
    // INV-4: every data directory has its lock file. Only a step that
    // changes names directly in ROOT can change this.
    if layout.claims_data_under_lock() && result.is_ok() && changes_names_in(op, root) {
        for (name, _) in w.fs.list(root_dir(scn)) {
            if let Entry::Data(id) = layout.classify(&name) {
                let lock = layout.lock_path(root, id);
                if w.fs.lstat(&lock).is_none() && !is_bait(scn, id) {
                    return violation(
                        Invariant::DataUnderLock,
                        format!("{} exists but {} does not", root.join(&name).display(), lock.display()),
                    );
                }
            }
        }
    }
    // INV-6: nothing outside ROOT was removed, by anyone.
    if !w.fs.exists(&Path::new(OUTSIDE).join("keep")) {
        return violation(Invariant::RecoveryConfined, format!("{OUTSIDE}/keep was removed"));
    }
    None
}

/// The directory whose entries are "in ROOT": ROOT itself, or the bait
/// directory when ROOT is a symlink to it (`Scenario::symlink_root`): what
/// `ROOT/<name>` names is then `OUTSIDE/<name>`.
fn root_dir(scn: &Scenario) -> &Path {
    if scn.symlink_root {
        Path::new(OUTSIDE)
    } else {
        scn.root()
    }
}

/// The device of the directory that held `path`, when it is another one
/// than ROOT's (`None` when the same, or when it cannot be told).
fn other_device(scn: &Scenario, w: &World, path: &Path) -> Option<u64> {
    let parent = path.parent()?;
    let dev = w.fs.lstat(parent)?.dev;
    let root = w.fs.lstat(root_dir(scn))?.dev;
    (dev != root).then_some(dev)
}

/// Whether the directory `data` holds a mount point somewhere below it: a
/// directory on another device than its own.
fn holds_a_mount(w: &World, data: &Path) -> bool {
    let Some(own) = w.fs.lstat(data).map(|i| i.dev) else { return false };
    w.fs.tree(data)
        .iter()
        .any(|(p, kind)| *kind == FileKind::Dir && w.fs.lstat(p).is_some_and(|i| i.dev != own))
}

/// Whether `op` can add or remove a name directly inside `dir`.
fn changes_names_in(op: &Op, dir: &Path) -> bool {
    let parent_is = |p: &Path| p.parent() == Some(dir);
    match op {
        Op::CreateExcl { path } | Op::OpenCreate { path } | Op::Mkdir { path } | Op::Unlink { path } | Op::Rmdir { path } => {
            parent_is(path)
        }
        Op::Rename { from, to } => parent_is(from) || parent_is(to),
        _ => false,
    }
}

/// The bait symlink planted by `Scenario::foreign` has no lock file by
/// design; INV-4 is about instances the protocol made.
fn is_bait(scn: &Scenario, id: Id) -> bool {
    scn.foreign && id == u128::MAX
}

fn recovery_may_remove(scn: &Scenario, path: &Path) -> bool {
    let layout = scn.variant.layout();
    let root = scn.root();
    let Ok(rest) = path.strip_prefix(root) else {
        return false;
    };
    let Some(first) = rest.iter().next().and_then(|n| n.to_str()) else {
        return false;
    };
    match layout.classify(first) {
        Entry::Lock(_) => rest.iter().count() == 1,
        Entry::Data(_) => true,
        Entry::Foreign => false,
    }
}

/// INV-6: a recoverer's path resolution went through a symlink.
pub fn symlink_followed(rec: &Record) -> Violation {
    let op = rec.op.as_ref().map(|o| o.to_string()).unwrap_or_default();
    Violation {
        invariant: Invariant::RecoveryConfined,
        detail: format!("recoverer pid {} followed a symlink in `{op}`", rec.pid),
    }
}

/// INV-5, after the final recovery pass: only foreign names remain in ROOT,
/// and the lock file and data directory of an id whose data still holds a
/// mount point (removal stops there with `EBUSY`, R5a, and must).
pub fn final_state(scn: &Scenario, w: &World) -> Option<Violation> {
    let layout = scn.variant.layout();
    if !layout.claims_nothing_leaks() {
        return None;
    }
    let dir = root_dir(scn);
    let mounted = |id: Id| holds_a_mount(w, &layout.data_path(dir, id));
    let left: Vec<PathBuf> = w
        .fs
        .list(dir)
        .into_iter()
        .filter(|(name, _)| match layout.classify(name) {
            Entry::Foreign => false,
            Entry::Lock(id) | Entry::Data(id) => !mounted(id),
        })
        .map(|(name, _)| scn.root().join(name))
        .collect();
    if left.is_empty() {
        None
    } else {
        let names: Vec<String> = left.iter().map(|p| p.display().to_string()).collect();
        violation(Invariant::NothingLeaks, format!("left after the final recovery: {}", names.join(", ")))
    }
}

/// An id as printed in traces: the last 4 hex digits (the simulation's ids
/// are small).
pub fn short(id: Id) -> String {
    let hex = id_hex(id);
    format!("…{}", &hex[hex.len() - 4..])
}

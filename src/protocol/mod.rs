//! The reference staging protocol as sans-IO step machines.
//!
//! Each role is a [`Machine`]: [`Machine::op`] names the one filesystem
//! operation it waits on, [`Machine::feed`] consumes that operation's result
//! and moves to the next state. States are plain data (`Clone`, `Eq`, `Hash`,
//! `Debug`), so the real backend, the exhaustive search, loom, shuttle,
//! proptest and the fuzzer all drive the same code, and a checker can store,
//! compare and print any state.
//!
//! **The protocol does no I/O except through [`crate::fs::Fs`], reads no
//! clock, and draws randomness only through [`crate::fs::Op::DrawId`].**
//!
//! The roles (SPEC.md names the step numbers used in comments):
//! - [`create::Create`]: lock-first creation (C1..C7);
//! - [`stage::Stage`]: one rename into the data directory (S1);
//! - [`cleanup::Cleanup`]: data-before-lock deletion (D1..D4);
//! - [`recover::Recover`]: TryLock-based recovery (V1..V12);
//! - [`remove_tree::RemoveTree`]: removal without following symlinks (R1..R6);
//! - [`open_root::OpenRoot`]: checking and creating ROOT (O1..O3);
//! - [`status::Status`]: the read-only live/stale listing (T1..T8).

pub mod cleanup;
pub mod create;
pub mod layout;
pub mod list_root;
pub mod open_root;
pub mod output;
pub mod recover;
pub mod remove_tree;
pub mod shared_path;
pub mod stage;
pub mod status;

use crate::fs::{Fs, Op, OpResult};

/// A sans-IO step machine.
pub trait Machine {
    /// What the machine returns when it is done.
    type Output;

    /// The operation this machine waits on, or `None` when it is done.
    /// Pure: calling it twice gives the same operation.
    fn op(&self) -> Option<Op>;

    /// Consumes the result of the operation [`Machine::op`] returned.
    ///
    /// # Panics
    /// When the machine is done, or when the result is a value that
    /// operation can never return (a backend bug).
    fn feed(&mut self, result: OpResult);

    /// The output of a finished machine.
    ///
    /// # Panics
    /// When [`Machine::op`] still returns an operation.
    fn finish(self) -> Self::Output;
}

/// Feeds `result` to the sub-machine `m` a role is running (a tree removal
/// inside cleanup or recovery): `Ok(m)` while it has steps left,
/// `Err(output)` once it is done.
pub fn feed_sub<M: Machine>(mut m: M, result: OpResult) -> Result<M, M::Output> {
    m.feed(result);
    if m.op().is_some() {
        Ok(m)
    } else {
        Err(m.finish())
    }
}

/// Runs `machine` to completion on `fs`, one operation a step.
pub fn run<M: Machine, F: Fs + ?Sized>(mut machine: M, fs: &mut F) -> M::Output {
    while let Some(op) = machine.op() {
        let result = fs.execute(&op);
        machine.feed(result);
    }
    machine.finish()
}

/// A single deliberate change to the reference protocol, for showing what
/// the checkers catch. `None` in [`Config::mutation`] is the reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mutation {
    /// Create and recover trust the lock without comparing the locked
    /// descriptor's identity with the path's (C5 and V6-V7 removed).
    NoIdentityRecheck,
    /// Cleanup releases the lock before unlinking the lock file (an
    /// explicit unlock inserted before D2, instead of the lock going with
    /// D3's close). Recovery's V11/V12 are unchanged.
    UnlockBeforeUnlink,
    /// Cleanup and recovery unlink the lock file before removing the data
    /// (D1 and D2 swapped; V10 and V11 swapped).
    UnlinkLockBeforeData,
    /// Create makes the data directory before the lock file (C6 moved
    /// before C3).
    DataBeforeLock,
    /// Recovery opens lock files with `O_CREAT`, creating a missing one and
    /// claiming the data behind it without the exclusive create (V4 opens
    /// with `O_CREAT`, so V8-V9 are never reached). An equivalent mutant:
    /// SPEC.md "Data without a lock file" says why.
    RecoveryCreatesLock,
    /// POSIX record locks (owned by the process) instead of the reference's
    /// flock/OFD locks (owned by the open file description), with no
    /// in-process registry to make up for it. The machines are unchanged;
    /// the lock kind is the change.
    PosixLockKind,
    /// Create opens the lock file with `O_CREAT` but without `O_EXCL`
    /// (C3), so it may adopt a lock file someone else made.
    CreateWithoutExcl,
    /// Create never takes the lock (C4 removed): the identity check still
    /// runs, but nothing tells a recoverer the instance is live.
    CreateSkipsLock,
    /// Create's undo unlinks the lock file even when the lock was never
    /// verified as its own (C7 unlinks after a busy lock or a mismatch).
    UndoUnlinksUnverified,
    /// Recovery releases the lock before unlinking the lock file (an unlock
    /// inserted before V11).
    RecoveryUnlockBeforeUnlink,
    /// Recovery alone trusts the lock without the identity re-check (V6-V7
    /// removed; creation keeps C5).
    RecoveryNoIdentityRecheck,
    /// Recovery treats a busy lock as its own (V5): on `EWOULDBLOCK` it
    /// goes on to the identity check as if the try-lock had succeeded.
    RecoveryIgnoresBusyLock,
    /// The listing of ROOT stops after the first instance name it reads
    /// (V2 does not read to the end), so a pass visits at most one id.
    RecoveryPartialListing,
    /// Create reserves the id only after its lock is verified (C2 moved
    /// after C5). Runs on POSIX locks with the registry, the only setting
    /// where the reservation matters.
    ReserveAfterLock,
    /// Cleanup releases the reservation before it unlinks the lock file
    /// (D4 moved before D2). Runs on POSIX locks with the registry.
    ReleaseBeforeUnlink,
    /// Tree removal's R1 follows a final symlink, as `stat` would: a tree
    /// root that is a symlink to a directory is walked as that directory
    /// instead of being unlinked.
    TreeRootStat,
    /// Tree removal treats `ENOENT` from R1's `lstat` and R2's `unlink` as
    /// an error instead of "already gone".
    RemoveEnoentIsError,
    /// Recovery claims data without a lock file with `O_CREAT` but without
    /// `O_EXCL` (V9). An equivalent mutant in the model (SPEC.md section 11).
    RecoveryClaimWithoutExcl,
    /// Create retries with the same id after giving one up instead of
    /// drawing a fresh one (C1 runs only for the first attempt). An
    /// equivalent mutant: a fresh draw may return the same id.
    CreateReusesId,
    /// Status never reserves the id in-process (T4 removed): it opens and
    /// closes the lock file of an id a thread of its own process holds.
    /// Runs on POSIX locks with the registry and a status thread inside a
    /// creator's process, the only setting where T4 matters.
    StatusSkipsReservation,
    /// Opening ROOT accepts a symlink to a directory, as `stat(2)` would
    /// see it (O1 and O3 follow the final symlink). Runs with ROOT a
    /// symlink to the bait directory.
    OpenRootFollowsSymlink,
    /// Status keeps a lock it acquired until after it looked at the data
    /// (T6's unlock and T7's close move after T8). Runs with a status
    /// thread, like `status-skips-reservation`.
    StatusKeepsLock,
    /// Tree removal descends into every subdirectory without comparing its
    /// `st_dev` with the tree root's (R5a's comparison removed): a
    /// filesystem mounted inside a staged tree is emptied. Runs with a
    /// mount inside the first creator's item.
    RemoveCrossesMounts,
}

impl Mutation {
    /// Every mutant. New mutants go at the end: a fuzz input's first byte
    /// indexes this order.
    pub const ALL: [Mutation; 23] = [
        Mutation::NoIdentityRecheck,
        Mutation::UnlockBeforeUnlink,
        Mutation::UnlinkLockBeforeData,
        Mutation::DataBeforeLock,
        Mutation::RecoveryCreatesLock,
        Mutation::PosixLockKind,
        Mutation::CreateWithoutExcl,
        Mutation::CreateSkipsLock,
        Mutation::UndoUnlinksUnverified,
        Mutation::RecoveryUnlockBeforeUnlink,
        Mutation::RecoveryNoIdentityRecheck,
        Mutation::RecoveryIgnoresBusyLock,
        Mutation::RecoveryPartialListing,
        Mutation::ReserveAfterLock,
        Mutation::ReleaseBeforeUnlink,
        Mutation::TreeRootStat,
        Mutation::RemoveEnoentIsError,
        Mutation::RecoveryClaimWithoutExcl,
        Mutation::CreateReusesId,
        Mutation::StatusSkipsReservation,
        Mutation::OpenRootFollowsSymlink,
        Mutation::StatusKeepsLock,
        Mutation::RemoveCrossesMounts,
    ];

    /// The mutant's name, as `stagedir check --variant` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Mutation::NoIdentityRecheck => "no-identity-recheck",
            Mutation::UnlockBeforeUnlink => "unlock-before-unlink",
            Mutation::UnlinkLockBeforeData => "unlink-lock-before-data",
            Mutation::DataBeforeLock => "data-before-lock",
            Mutation::RecoveryCreatesLock => "recovery-creates-lock",
            Mutation::PosixLockKind => "posix-lock-kind",
            Mutation::CreateWithoutExcl => "create-without-excl",
            Mutation::CreateSkipsLock => "create-skips-lock",
            Mutation::UndoUnlinksUnverified => "undo-unlinks-unverified-lock",
            Mutation::RecoveryUnlockBeforeUnlink => "recovery-unlock-before-unlink",
            Mutation::RecoveryNoIdentityRecheck => "recovery-no-identity-recheck",
            Mutation::RecoveryIgnoresBusyLock => "recovery-ignores-busy-lock",
            Mutation::RecoveryPartialListing => "recovery-partial-listing",
            Mutation::ReserveAfterLock => "reserve-after-lock",
            Mutation::ReleaseBeforeUnlink => "release-before-unlink",
            Mutation::TreeRootStat => "tree-root-stat",
            Mutation::RemoveEnoentIsError => "remove-enoent-is-error",
            Mutation::RecoveryClaimWithoutExcl => "recovery-claim-without-excl",
            Mutation::CreateReusesId => "create-reuses-id",
            Mutation::StatusSkipsReservation => "status-skips-reservation",
            Mutation::OpenRootFollowsSymlink => "open-root-follows-symlink",
            Mutation::StatusKeepsLock => "status-keeps-lock",
            Mutation::RemoveCrossesMounts => "remove-crosses-mounts",
        }
    }
}

/// Protocol parameters. Plain data, copied into every machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Config {
    /// How many ids creation tries before giving up with `EEXIST`
    /// (busy lock, identity mismatch, or a name collision each use one).
    pub attempts_max: u32,
    /// Whether machines consult the in-process registry
    /// ([`Op::Reserve`]/[`Op::Release`]). Needed when the lock kind does
    /// not exclude threads of one process (POSIX record locks).
    pub use_registry: bool,
    /// `None` for the reference protocol.
    pub mutation: Option<Mutation>,
}

impl Config {
    /// Default attempts on a real filesystem, where ids are 128-bit random
    /// and a collision means a live or stale instance of that id.
    pub const ATTEMPTS_MAX_DEFAULT: u32 = 64;

    pub const fn reference() -> Self {
        Config { attempts_max: Self::ATTEMPTS_MAX_DEFAULT, use_registry: true, mutation: None }
    }

    pub fn has(&self, m: Mutation) -> bool {
        self.mutation == Some(m)
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::reference()
    }
}

/// Why a role failed. Every variant names the path and the errno, or the
/// bound that was reached.
#[derive(Clone, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Error {
    /// A filesystem operation failed; the message names the operation, its
    /// path(s) and the errno.
    #[error(transparent)]
    Op(#[from] crate::fs::OpError),
    /// Creation tried [`Config::attempts_max`] ids and each was busy, taken,
    /// or changed under it (SPEC.md rule CREATE-RETRY).
    #[error("no instance could be created in {root}: {attempts} ids tried, each busy or taken (last: {last})")]
    AttemptsExhausted { root: std::path::PathBuf, attempts: u32, last: String },
    /// The path to stage has no final component to name it by (`/`, `..`).
    #[error("cannot stage {path}: the path has no file name (EINVAL)")]
    NoFileName { path: std::path::PathBuf },
}

impl Error {
    /// The errno behind this error (`EEXIST` for exhausted attempts,
    /// `EINVAL` for a path without a file name).
    pub fn errno(&self) -> crate::fs::Errno {
        match self {
            Error::Op(e) => e.errno,
            Error::AttemptsExhausted { .. } => crate::fs::Errno::EEXIST,
            Error::NoFileName { .. } => crate::fs::Errno::EINVAL,
        }
    }
}

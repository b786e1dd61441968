//! The protocol variants every checker runs: the reference, its single-change
//! mutants, and faithful models of published protocols.
//!
//! Each variant is a set of role programs ([`Role`]: plain-data step machines
//! that emit one [`Op`] a step) plus its on-disk [`Layout`], behind the one
//! [`Variant`] value, so the exhaustive search, shuttle, proptest and the
//! fuzzer run every variant the same way.
//!
//! - [`reference`]: this crate's protocol and its mutants;
//! - [`cstorage`]: containers/storage as merged in 2025 (`cstorage-2025`);
//! - [`ostree`]: ostree/libglnx staging directories (`ostree`);
//! - [`review`]: the first design proposed in the review
//!   (`review-prototype`).
//!
//! Each model's `//!` header cites what it models
//! (`/work/shared/design/prior-art.md`) and lists every modelling choice.

pub mod cstorage;
pub mod ostree;
pub mod reference;
pub mod review;
pub mod script;

use std::fmt;
use std::path::{Path, PathBuf};

use crate::fs::sim::LockKind;
use crate::fs::{Id, Op, OpResult};
use crate::protocol::{layout, Config, Mutation};

/// A role program: a step machine for one whole process.
pub trait Role {
    /// The next operation, or `None` when the program has ended.
    fn op(&self) -> Option<Op>;
    /// Consumes the result of [`Role::op`].
    fn feed(&mut self, result: OpResult);
    /// The instance id this program believes it owns now (oracle ghost
    /// state: ownership begins at the verified lock and ends at the unlink
    /// of the lock file).
    fn owned(&self) -> Option<Id>;
    /// True for recovery programs (the oracle's INV-6 applies to them).
    fn is_recoverer(&self) -> bool;
}

/// A protocol variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Variant {
    /// This crate's protocol.
    Reference,
    /// The reference with one deliberate change.
    Mutant(Mutation),
    /// containers/storage as merged in 2025 ([`cstorage`]).
    CStorage2025,
    /// ostree/libglnx staging directories ([`ostree`]).
    Ostree,
    /// The first design proposed in the review ([`review`]).
    ReviewPrototype,
}

impl Variant {
    /// Every variant: the reference, its mutants, then the modelled
    /// published protocols and the review prototype.
    pub fn all() -> Vec<Variant> {
        let mut v = vec![Variant::Reference];
        v.extend(Mutation::ALL.iter().map(|m| Variant::Mutant(*m)));
        v.extend([Variant::CStorage2025, Variant::Ostree, Variant::ReviewPrototype]);
        v
    }

    /// The name `--variant` takes.
    pub fn name(&self) -> &'static str {
        match self {
            Variant::Reference => "reference",
            Variant::Mutant(m) => m.name(),
            Variant::CStorage2025 => "cstorage-2025",
            Variant::Ostree => "ostree",
            Variant::ReviewPrototype => "review-prototype",
        }
    }

    /// Parses a name from [`Variant::name`].
    ///
    /// # Errors
    /// A message listing the valid names.
    pub fn from_name(name: &str) -> Result<Variant, String> {
        Variant::all().into_iter().find(|v| v.name() == name).ok_or_else(|| {
            let names: Vec<_> = Variant::all().iter().map(|v| v.name()).collect();
            format!("unknown variant `{name}`; valid variants: {}", names.join(", "))
        })
    }

    /// True for deliberately broken variants: the checkers must find a
    /// violation in them.
    pub fn is_mutant(&self) -> bool {
        matches!(self, Variant::Mutant(_))
    }

    /// True for models of protocols shipped in public software
    /// (containers/storage, ostree): what the checkers find in them is
    /// reported as a finding, not as a test failure.
    pub fn is_published(&self) -> bool {
        matches!(self, Variant::CStorage2025 | Variant::Ostree)
    }

    /// The lock kind the protocol uses, the default for a scenario of this
    /// variant ([`crate::check::scenario::Scenario::new`]): the forced kind
    /// if there is one ([`Variant::forced_lock_kind`]), else flock for the
    /// reference and its mutants, POSIX record locks for containers/storage,
    /// OFD locks for ostree, and flock for the review prototype (its lock
    /// kind is not recorded; it would have used the reference's primitive).
    pub fn default_lock_kind(&self) -> LockKind {
        if let Some(kind) = self.forced_lock_kind() {
            return kind;
        }
        match self {
            Variant::Reference | Variant::Mutant(_) | Variant::ReviewPrototype => LockKind::Flock,
            Variant::CStorage2025 => LockKind::Posix,
            Variant::Ostree => LockKind::Ofd,
        }
    }

    /// The lock kind this variant must run on, when it fixes one (the
    /// change of the POSIX mutant). The published models run on their own
    /// kind by default ([`Variant::default_lock_kind`]) but may be checked
    /// on another.
    pub fn forced_lock_kind(&self) -> Option<LockKind> {
        match self {
            Variant::Mutant(
                Mutation::PosixLockKind
                | Mutation::ReserveAfterLock
                | Mutation::ReleaseBeforeUnlink
                | Mutation::StatusSkipsReservation,
            ) => Some(LockKind::Posix),
            _ => None,
        }
    }

    /// Whether this variant must run with the in-process registry: the
    /// mutants that move or drop a reservation step (C2, D4, T4) run on
    /// POSIX locks with the registry, the deployment where those steps
    /// matter.
    pub fn forced_registry(&self) -> bool {
        matches!(
            self,
            Variant::Mutant(Mutation::ReserveAfterLock | Mutation::ReleaseBeforeUnlink | Mutation::StatusSkipsReservation)
        )
    }

    /// Whether this variant's scenarios must plant the foreign entries
    /// (a symlink named like a data directory, pointing outside ROOT): the
    /// mutant of R1 differs from the reference only on a symlink tree root.
    pub fn forced_foreign(&self) -> bool {
        matches!(self, Variant::Mutant(Mutation::TreeRootStat))
    }

    /// How many status threads this variant's scenarios must run at least
    /// (inside the first creator's process): the status mutants differ from
    /// the reference only when status runs.
    pub fn forced_statuses(&self) -> u8 {
        match self {
            Variant::Mutant(Mutation::StatusSkipsReservation | Mutation::StatusKeepsLock) => 1,
            _ => 0,
        }
    }

    /// Whether this variant's scenarios must make ROOT a symlink to the bait
    /// directory (every process then opens ROOT first, O1..O3): the mutant
    /// of O1/O3 differs from the reference only on a symlink ROOT.
    pub fn forced_symlink_root(&self) -> bool {
        matches!(self, Variant::Mutant(Mutation::OpenRootFollowsSymlink))
    }

    /// Whether this variant's scenarios must put a mount inside the first
    /// creator's item (`Scenario::mount_in_item`): the mutant of R5a
    /// differs from the reference only when a staged tree holds a mount
    /// point.
    pub fn forced_mount_in_item(&self) -> bool {
        matches!(self, Variant::Mutant(Mutation::RemoveCrossesMounts))
    }

    /// The on-disk layout of this variant.
    pub fn layout(&self) -> Layout {
        match self {
            Variant::Reference | Variant::Mutant(_) => Layout::Reference,
            Variant::CStorage2025 => Layout::CStorage,
            Variant::Ostree => Layout::Ostree,
            Variant::ReviewPrototype => Layout::Review,
        }
    }

    /// Protocol configuration for the reference and its mutants.
    pub fn config(&self, attempts_max: u32, use_registry: bool) -> Config {
        let mutation = match self {
            Variant::Mutant(m) => Some(*m),
            _ => None,
        };
        Config { attempts_max, use_registry, mutation }
    }

    /// A creator program staging `items` into one instance under `root`.
    pub fn creator(&self, root: &Path, params: &RoleParams, items: Vec<PathBuf>) -> Program {
        match self {
            Variant::Reference | Variant::Mutant(_) => Program::RefCreator(reference::Creator::with_open_root(
                root.to_path_buf(),
                self.config(params.attempts_max, params.use_registry),
                items,
                params.cleanup_retries,
                params.open_root,
            )),
            Variant::CStorage2025 => Program::CStorageCreator(cstorage::Creator::new(root.to_path_buf(), params, items)),
            Variant::Ostree => Program::OstreeCreator(ostree::Creator::new(root.to_path_buf(), params, items)),
            Variant::ReviewPrototype => Program::ReviewCreator(review::Creator::new(root.to_path_buf(), params, items)),
        }
    }

    /// A recovery program running `passes` passes over `root`.
    pub fn recoverer(&self, root: &Path, params: &RoleParams, passes: u8) -> Program {
        match self {
            Variant::Reference | Variant::Mutant(_) => Program::RefRecoverer(reference::Recoverer::with_open_root(
                root.to_path_buf(),
                self.config(params.attempts_max, params.use_registry),
                passes,
                params.open_root,
            )),
            Variant::CStorage2025 => Program::CStorageRecoverer(cstorage::Recoverer::new(root.to_path_buf(), passes)),
            Variant::Ostree => Program::OstreeRecoverer(ostree::Recoverer::new(root.to_path_buf(), params, passes)),
            Variant::ReviewPrototype => Program::ReviewRecoverer(review::Recoverer::new(root.to_path_buf(), passes)),
        }
    }

    /// A status program running one status pass over `root`, or `None`
    /// when the variant has no status model (the published protocols and
    /// the review prototype: only the reference and its mutants have one).
    pub fn status(&self, root: &Path, params: &RoleParams) -> Option<Program> {
        match self {
            Variant::Reference | Variant::Mutant(_) => Some(Program::RefStatus(reference::StatusReader::new(
                root.to_path_buf(),
                self.config(params.attempts_max, params.use_registry),
                params.open_root,
            ))),
            Variant::CStorage2025 | Variant::Ostree | Variant::ReviewPrototype => None,
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Parameters shared by every role of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RoleParams {
    pub attempts_max: u32,
    pub use_registry: bool,
    pub cleanup_retries: u8,
    /// Every program opens ROOT (O1..O3) before its work. Only the
    /// reference and its mutants model it; the other variants ignore it.
    pub open_root: bool,
}

/// What a name directly in ROOT is, for a variant's layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Entry {
    Lock(Id),
    Data(Id),
    Foreign,
}

/// A variant's on-disk naming.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layout {
    /// `<id>.lock`, `<id>.data/`.
    Reference,
    /// `lock-<id>`, `temp-dir-<id>/`, `<id>` in decimal.
    CStorage,
    /// `staging-<boot>-<XXXXXX>/` and its sibling `staging-<boot>-<XXXXXX>-lock`,
    /// `XXXXXX` the id in decimal, zero-padded to six digits.
    Ostree,
    /// `temp-dir-<id>/` holding its own `.lock`, `<id>` in decimal, plus the
    /// global `.global-tmp-lock` (foreign: it belongs to no instance and is
    /// never removed).
    Review,
}

impl Layout {
    /// What a name directly in ROOT is. Each layout maps its own name scheme
    /// to and from the model's `u128` ids; names that do not round-trip
    /// exactly (leading zeros, upper case, other boot ids) are foreign.
    pub fn classify(&self, name: &str) -> Entry {
        match self {
            Layout::Reference => match layout::classify(name) {
                layout::Name::Lock(id) => Entry::Lock(id),
                layout::Name::Data(id) => Entry::Data(id),
                layout::Name::Foreign => Entry::Foreign,
            },
            Layout::CStorage => cstorage::classify(name),
            Layout::Ostree => ostree::classify(name),
            Layout::Review => review::classify(name),
        }
    }

    /// The path of instance `id`'s lock file (inside the data directory for
    /// [`Layout::Review`]).
    pub fn lock_path(&self, root: &Path, id: Id) -> PathBuf {
        match self {
            Layout::Reference => layout::lock_path(root, id),
            Layout::CStorage => cstorage::lock_path(root, id),
            Layout::Ostree => ostree::lock_path(root, id),
            Layout::Review => review::lock_path(root, id),
        }
    }

    pub fn data_path(&self, root: &Path, id: Id) -> PathBuf {
        match self {
            Layout::Reference => layout::data_path(root, id),
            Layout::CStorage => cstorage::data_path(root, id),
            Layout::Ostree => ostree::data_path(root, id),
            Layout::Review => review::data_path(root, id),
        }
    }

    /// Whether the protocol claims INV-4 (data exists only while its lock
    /// file has a name). containers/storage does (it creates the lock file
    /// before the directory); ostree and the review prototype make the
    /// directory first.
    /// The oracle's invariants this protocol does not claim (not checked
    /// for it), as `INV-n` codes.
    pub fn unclaimed(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if !self.claims_data_under_lock() {
            v.push("INV-4");
        }
        if !self.claims_nothing_leaks() {
            v.push("INV-5");
        }
        v
    }

    pub fn claims_data_under_lock(&self) -> bool {
        match self {
            Layout::Reference | Layout::CStorage => true,
            Layout::Ostree | Layout::Review => false,
        }
    }

    /// Whether the protocol claims INV-5 as the oracle states it (one
    /// recovery pass after every process ended leaves nothing). ostree does
    /// not: its recovery keeps the directories of the current boot for a
    /// later allocation to reuse, and removes orphan `-lock` files only
    /// after an expiry the model never reaches. The oracle skips INV-5 for
    /// a protocol that does not claim it (see the `ostree` module docs).
    pub fn claims_nothing_leaks(&self) -> bool {
        match self {
            Layout::Reference | Layout::CStorage | Layout::Review => true,
            Layout::Ostree => false,
        }
    }
}

/// Parses an id written in canonical decimal (no sign, no leading zero
/// except `0` itself), as containers/storage and the review prototype
/// write it. Anything else is `None`.
pub fn parse_decimal_id(s: &str) -> Option<Id> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse().ok()
}

/// One process's program, for any variant. Plain data.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Program {
    RefCreator(reference::Creator),
    RefRecoverer(reference::Recoverer),
    RefStatus(reference::StatusReader),
    CStorageCreator(cstorage::Creator),
    CStorageRecoverer(cstorage::Recoverer),
    OstreeCreator(ostree::Creator),
    OstreeRecoverer(ostree::Recoverer),
    ReviewCreator(review::Creator),
    ReviewRecoverer(review::Recoverer),
    /// A hand-made history (see [`script`]).
    Script(script::Script),
    /// A process that has ended (exited or crashed). Its program state is
    /// dropped so that states differing only in where a dead process
    /// stopped are one state to the search.
    Ended(Ended),
}

/// The program of a process that has ended: takes no step, owns nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ended {
    pub recoverer: bool,
}

impl Role for Ended {
    fn op(&self) -> Option<Op> {
        None
    }
    fn feed(&mut self, _result: OpResult) {
        panic!("feed to an ended process");
    }
    fn owned(&self) -> Option<Id> {
        None
    }
    fn is_recoverer(&self) -> bool {
        self.recoverer
    }
}

impl Program {
    fn role(&self) -> &dyn Role {
        match self {
            Program::RefCreator(r) => r,
            Program::RefRecoverer(r) => r,
            Program::RefStatus(r) => r,
            Program::CStorageCreator(r) => r,
            Program::CStorageRecoverer(r) => r,
            Program::OstreeCreator(r) => r,
            Program::OstreeRecoverer(r) => r,
            Program::ReviewCreator(r) => r,
            Program::ReviewRecoverer(r) => r,
            Program::Script(r) => r,
            Program::Ended(r) => r,
        }
    }

    fn role_mut(&mut self) -> &mut dyn Role {
        match self {
            Program::RefCreator(r) => r,
            Program::RefRecoverer(r) => r,
            Program::RefStatus(r) => r,
            Program::CStorageCreator(r) => r,
            Program::CStorageRecoverer(r) => r,
            Program::OstreeCreator(r) => r,
            Program::OstreeRecoverer(r) => r,
            Program::ReviewCreator(r) => r,
            Program::ReviewRecoverer(r) => r,
            Program::Script(r) => r,
            Program::Ended(r) => r,
        }
    }
}

impl Program {
    /// Replaces the program with the tombstone of an ended process.
    pub fn end(&mut self) {
        *self = Program::Ended(Ended { recoverer: self.is_recoverer() });
    }
}

impl Role for Program {
    fn op(&self) -> Option<Op> {
        self.role().op()
    }
    fn feed(&mut self, result: OpResult) {
        self.role_mut().feed(result)
    }
    fn owned(&self) -> Option<Id> {
        self.role().owned()
    }
    fn is_recoverer(&self) -> bool {
        self.role().is_recoverer()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_names_round_trip() {
        for v in Variant::all() {
            assert_eq!(Variant::from_name(v.name()), Ok(v));
        }
        assert_eq!(Variant::from_name("cstorage-2025"), Ok(Variant::CStorage2025));
        assert_eq!(Variant::from_name("ostree"), Ok(Variant::Ostree));
        assert_eq!(Variant::from_name("review-prototype"), Ok(Variant::ReviewPrototype));
        let err = Variant::from_name("nope").unwrap_err();
        assert!(err.contains("cstorage-2025, ostree, review-prototype"), "{err}");
    }

    #[test]
    fn published_variants_and_their_lock_kinds() {
        let published: Vec<_> = Variant::all().into_iter().filter(Variant::is_published).collect();
        assert_eq!(published, vec![Variant::CStorage2025, Variant::Ostree]);
        assert!(!Variant::ReviewPrototype.is_mutant());
        assert_eq!(Variant::CStorage2025.default_lock_kind(), LockKind::Posix);
        assert_eq!(Variant::Ostree.default_lock_kind(), LockKind::Ofd);
        assert_eq!(Variant::Reference.default_lock_kind(), LockKind::Flock);
    }

    #[test]
    fn layouts_round_trip_their_ids() {
        let root = Path::new("/r");
        for layout in [Layout::Reference, Layout::CStorage, Layout::Ostree, Layout::Review] {
            for id in [0, 1, 9, 10, 123_456, 1_234_567, u128::MAX] {
                let data = layout.data_path(root, id);
                let name = data.file_name().unwrap().to_str().unwrap();
                assert_eq!(layout.classify(name), Entry::Data(id), "{layout:?} {name}");
                let lock = layout.lock_path(root, id);
                if lock.parent() == Some(root) {
                    let name = lock.file_name().unwrap().to_str().unwrap();
                    assert_eq!(layout.classify(name), Entry::Lock(id), "{layout:?} {name}");
                } else {
                    assert_eq!(lock.parent(), Some(data.as_path()), "{layout:?}: a nested lock lives in its data");
                }
            }
        }
    }

    #[test]
    fn decimal_ids_are_canonical() {
        assert_eq!(parse_decimal_id("0"), Some(0));
        assert_eq!(parse_decimal_id("4294967295"), Some(4_294_967_295));
        assert_eq!(parse_decimal_id(&u128::MAX.to_string()), Some(u128::MAX));
        for bad in ["", "00", "01", "+1", "-1", "1a", " 1", "340282366920938463463374607431768211456"] {
            assert_eq!(parse_decimal_id(bad), None, "{bad:?}");
        }
    }
}

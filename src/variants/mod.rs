//! The protocol variants every checker runs: the reference, its single-change
//! mutants, and faithful models of published protocols.
//!
//! Each variant is a set of role programs ([`Role`]: plain-data step machines
//! that emit one [`Op`] a step) plus its on-disk [`Layout`], behind the one
//! [`Variant`] value, so the exhaustive search, shuttle, proptest and the
//! fuzzer run every variant the same way.

pub mod reference;
pub mod script;

use std::fmt;
use std::path::{Path, PathBuf};

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
}

impl Variant {
    /// Every variant, reference first.
    pub fn all() -> Vec<Variant> {
        let mut v = vec![Variant::Reference];
        v.extend(Mutation::ALL.iter().map(|m| Variant::Mutant(*m)));
        v
    }

    /// The name `--variant` takes.
    pub fn name(&self) -> &'static str {
        match self {
            Variant::Reference => "reference",
            Variant::Mutant(m) => m.name(),
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

    /// The lock kind this variant must run on, when it fixes one.
    pub fn forced_lock_kind(&self) -> Option<crate::fs::sim::LockKind> {
        match self {
            Variant::Mutant(Mutation::PosixLockKind) => Some(crate::fs::sim::LockKind::Posix),
            _ => None,
        }
    }

    /// The on-disk layout of this variant.
    pub fn layout(&self) -> Layout {
        match self {
            Variant::Reference | Variant::Mutant(_) => Layout::Reference,
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
            Variant::Reference | Variant::Mutant(_) => Program::RefCreator(reference::Creator::new(
                root.to_path_buf(),
                self.config(params.attempts_max, params.use_registry),
                items,
                params.cleanup_retries,
            )),
        }
    }

    /// A recovery program running `passes` passes over `root`.
    pub fn recoverer(&self, root: &Path, params: &RoleParams, passes: u8) -> Program {
        match self {
            Variant::Reference | Variant::Mutant(_) => Program::RefRecoverer(reference::Recoverer::new(
                root.to_path_buf(),
                self.config(params.attempts_max, params.use_registry),
                passes,
            )),
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
}

impl Layout {
    pub fn classify(&self, name: &str) -> Entry {
        match self {
            Layout::Reference => match layout::classify(name) {
                layout::Name::Lock(id) => Entry::Lock(id),
                layout::Name::Data(id) => Entry::Data(id),
                layout::Name::Foreign => Entry::Foreign,
            },
        }
    }

    pub fn lock_path(&self, root: &Path, id: Id) -> PathBuf {
        match self {
            Layout::Reference => layout::lock_path(root, id),
        }
    }

    pub fn data_path(&self, root: &Path, id: Id) -> PathBuf {
        match self {
            Layout::Reference => layout::data_path(root, id),
        }
    }

    /// Whether the protocol claims INV-4 (data exists only while its lock
    /// file has a name).
    pub fn claims_data_under_lock(&self) -> bool {
        match self {
            Layout::Reference => true,
        }
    }
}

/// One process's program, for any variant. Plain data.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Program {
    RefCreator(reference::Creator),
    RefRecoverer(reference::Recoverer),
    /// A hand-made history (see [`script`]).
    Script(script::Script),
}

impl Program {
    fn role(&self) -> &dyn Role {
        match self {
            Program::RefCreator(r) => r,
            Program::RefRecoverer(r) => r,
            Program::Script(r) => r,
        }
    }

    fn role_mut(&mut self) -> &mut dyn Role {
        match self {
            Program::RefCreator(r) => r,
            Program::RefRecoverer(r) => r,
            Program::Script(r) => r,
        }
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

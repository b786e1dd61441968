//! One listing of ROOT (SPEC.md V1..V3, T1..T3), shared by recovery and
//! status: open ROOT, read it one entry a step, close it. The listing is a
//! hint, never a decision: it is not a snapshot.

use std::collections::BTreeSet;

use super::layout::{classify, Name};
use super::output::Output;
use super::shared_path::SharedPath;
use super::{Config, Machine, Mutation};
use crate::fs::{Fd, Id, Op, OpError, OpResult, Value};

/// What one listing saw.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Listing {
    /// Every id seen by either name, ascending.
    pub ids: Vec<Id>,
    /// Names matching neither `<id>.lock` nor `<id>.data`, in listing order.
    pub foreign: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Step {
    Open,
    Read(Fd),
    Close(Fd),
    /// A read failed with the stream open: close it, then fail.
    Abort(Fd, OpError),
    Done(Result<Listing, OpError>),
}

/// Lists ROOT. Output: the [`Listing`].
///
/// # Errors
/// The errno of `opendir` or `readdir` (the stream is closed first).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ListRoot {
    root: SharedPath,
    seen: BTreeSet<Id>,
    foreign: Output<Vec<String>>,
    step: Step,
    /// Mutant `recovery-partial-listing`: stop after the first instance name.
    first_only: bool,
}

impl ListRoot {
    pub fn new(root: impl Into<SharedPath>) -> Self {
        ListRoot {
            root: root.into(),
            seen: BTreeSet::new(),
            foreign: Output::default(),
            step: Step::Open,
            first_only: false,
        }
    }

    /// As [`ListRoot::new`], with the protocol configuration (its mutation,
    /// if it changes the listing).
    pub fn with_config(root: impl Into<SharedPath>, cfg: Config) -> Self {
        ListRoot { first_only: cfg.has(Mutation::RecoveryPartialListing), ..ListRoot::new(root) }
    }
}

impl Machine for ListRoot {
    type Output = Result<Listing, OpError>;

    fn op(&self) -> Option<Op> {
        Some(match &self.step {
            Step::Open => Op::OpenDir { path: self.root.to_path_buf() },
            Step::Read(fd) => Op::ReadDirNext { fd: *fd },
            Step::Close(fd) | Step::Abort(fd, _) => Op::Close { fd: *fd },
            Step::Done(_) => return None,
        })
    }

    fn feed(&mut self, result: OpResult) {
        let step = std::mem::replace(&mut self.step, Step::Open);
        self.step = match (step, result) {
            // V1/T1: open ROOT for one listing.
            (Step::Open, Ok(Value::Fd(fd))) => Step::Read(fd),
            (Step::Open, Err(errno)) => {
                Step::Done(Err(OpError::new(Op::OpenDir { path: self.root.to_path_buf() }, errno)))
            }
            // V2/T2: collect ids from both names, one entry a step.
            (Step::Read(fd), Ok(Value::Entry(Some(e)))) => {
                match classify(&e.name) {
                    Name::Lock(id) | Name::Data(id) => {
                        self.seen.insert(id);
                    }
                    Name::Foreign => self.foreign.push(e.name),
                }
                // Mutant: the listing ends at the first instance name.
                if self.first_only && !self.seen.is_empty() {
                    Step::Close(fd)
                } else {
                    Step::Read(fd)
                }
            }
            (Step::Read(fd), Ok(Value::Entry(None))) => Step::Close(fd),
            (Step::Read(fd), Err(errno)) => Step::Abort(fd, OpError::new(Op::ReadDirNext { fd }, errno)),
            (Step::Abort(_, e), _) => Step::Done(Err(e)),
            // V3/T3: close the listing (a close error still frees the fd).
            (Step::Close(_), _) => Step::Done(Ok(Listing {
                ids: std::mem::take(&mut self.seen).into_iter().collect(),
                foreign: std::mem::take(&mut *self.foreign),
            })),
            (step, r) => panic!("list_root: {r:?} in {step:?}"),
        };
    }

    fn finish(self) -> Self::Output {
        match self.step {
            Step::Done(r) => r,
            s => panic!("list_root: finish before done ({s:?})"),
        }
    }
}

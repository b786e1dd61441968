//! Staging (SPEC.md S1): one `rename` with `RENAME_NOREPLACE` of the item into
//! `<id>.data/<n>-<basename>`. Atomic: Ok means the source path is gone and
//! the item is in the data directory; Err means the source is untouched.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::create::Held;
use super::layout::data_path;
use super::shared_path::SharedPath;
use super::{Error, Machine};
use crate::fs::{Op, OpError, OpResult};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Step {
    Rename { from: SharedPath, to: SharedPath },
    Done(Result<PathBuf, Error>),
}

/// Stages one item. Output: the item's new path inside the data directory.
///
/// # Errors
/// [`Error::NoFileName`] (no operation is issued) for a path without a final
/// component; otherwise the rename's errno: `EXDEV` when the item is on
/// another filesystem than ROOT (the error names both paths; there is no copy
/// fallback), `ENOENT`, `EACCES`, `EEXIST`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Stage {
    step: Step,
}

impl Stage {
    /// `n` is the item's number within the instance ([`Held::staged`]).
    pub fn new(held: &Held, source: &Path) -> Self {
        let step = match source.file_name() {
            None => Step::Done(Err(Error::NoFileName { path: source.to_path_buf() })),
            Some(base) => {
                let mut name = OsString::from(format!("{}-", held.staged));
                name.push(base);
                let to = data_path(&held.root, held.id).join(name);
                Step::Rename { from: source.into(), to: to.into() }
            }
        };
        Stage { step }
    }
}

impl Machine for Stage {
    type Output = Result<PathBuf, Error>;

    fn op(&self) -> Option<Op> {
        match &self.step {
            Step::Rename { from, to } => Some(Op::Rename { from: from.to_path_buf(), to: to.to_path_buf() }),
            Step::Done(_) => None,
        }
    }

    fn feed(&mut self, result: OpResult) {
        let op = self.op().expect("feed after done");
        let Step::Rename { to, .. } = &self.step else { unreachable!() };
        // S1: the one rename; its result is the stage's result (INV-3).
        self.step = Step::Done(match result {
            Ok(_) => Ok(to.to_path_buf()),
            Err(errno) => Err(Error::Op(OpError::new(op, errno))),
        });
    }

    fn finish(self) -> Self::Output {
        match self.step {
            Step::Done(r) => r,
            s => panic!("stage: finish before done ({s:?})"),
        }
    }
}

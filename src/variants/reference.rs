//! The reference protocol's roles as whole programs for the checkers: a
//! creator (create, stage each item, clean up), a recoverer (recovery
//! passes) and a status reader (one status pass), built from the machines in
//! [`crate::protocol`] (or one of its single-change mutants, through
//! [`Config::mutation`]). With `open_root`, each first opens ROOT (O1..O3)
//! and ends at once, touching nothing, when ROOT is refused.

use std::path::PathBuf;

use crate::fs::{Id, Op, OpResult};
use crate::protocol::cleanup::Cleanup;
use crate::protocol::create::{Create, Held};
use crate::protocol::open_root::OpenRoot;
use crate::protocol::recover::Recover;
use crate::protocol::shared_path::SharedPath;
use crate::protocol::stage::Stage;
use crate::protocol::status::Status;
use crate::protocol::{Config, Machine};

use super::Role;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Phase {
    /// O1..O3, then create.
    OpenRoot(OpenRoot, PathBuf),
    Create(Create),
    Stage(Held, Stage),
    Cleanup(Cleanup),
    Done,
}

/// Creates one instance, stages `items` in order into it, cleans it up
/// (retrying a failed cleanup at most `cleanup_retries` times), and ends.
/// A failed stage leaves its item where it was and goes on with the next.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Creator {
    cfg: Config,
    items: std::sync::Arc<[SharedPath]>,
    next_item: usize,
    cleanup_retries: u8,
    phase: Phase,
}

impl Creator {
    pub fn new(root: PathBuf, cfg: Config, items: Vec<PathBuf>, cleanup_retries: u8) -> Self {
        Self::with_open_root(root, cfg, items, cleanup_retries, false)
    }

    /// As [`Creator::new`]; with `open_root`, ROOT is opened first (O1..O3,
    /// creating it when missing, as the library's default does).
    pub fn with_open_root(root: PathBuf, cfg: Config, items: Vec<PathBuf>, cleanup_retries: u8, open_root: bool) -> Self {
        let phase = if open_root {
            Phase::OpenRoot(OpenRoot::with_config(root.clone(), true, cfg), root)
        } else {
            Phase::Create(Create::new(root, cfg))
        };
        let items = items.into_iter().map(SharedPath::from).collect();
        Creator { cfg, items, next_item: 0, cleanup_retries, phase }
    }

    /// Starts the stage of the next item, or the cleanup after the last.
    fn next_stage(&mut self, held: Held) -> Phase {
        match self.items.get(self.next_item) {
            Some(item) => {
                self.next_item += 1;
                let stage = Stage::new(&held, item);
                Phase::Stage(held, stage)
            }
            None => Phase::Cleanup(Cleanup::new(held, self.cfg)),
        }
    }
}

impl Role for Creator {
    fn op(&self) -> Option<Op> {
        match &self.phase {
            Phase::OpenRoot(m, _) => m.op(),
            Phase::Create(m) => m.op(),
            Phase::Stage(_, m) => m.op(),
            Phase::Cleanup(m) => m.op(),
            Phase::Done => None,
        }
    }

    fn feed(&mut self, result: OpResult) {
        let phase = std::mem::replace(&mut self.phase, Phase::Done);
        self.phase = match phase {
            Phase::OpenRoot(mut m, root) => {
                m.feed(result);
                match m.op() {
                    Some(_) => Phase::OpenRoot(m, root),
                    None => match m.finish() {
                        Ok(()) => Phase::Create(Create::new(root, self.cfg)),
                        Err(_) => Phase::Done,
                    },
                }
            }
            Phase::Create(mut m) => {
                m.feed(result);
                match m.op() {
                    Some(_) => Phase::Create(m),
                    None => match m.finish() {
                        Ok(held) => self.next_stage(held),
                        Err(_) => Phase::Done,
                    },
                }
            }
            Phase::Stage(mut held, mut m) => {
                m.feed(result);
                assert!(m.op().is_none(), "stage is one step");
                if m.finish().is_ok() {
                    held.staged += 1;
                }
                self.next_stage(held)
            }
            Phase::Cleanup(mut m) => {
                m.feed(result);
                match m.op() {
                    Some(_) => Phase::Cleanup(m),
                    None => match m.finish() {
                        Ok(()) => Phase::Done,
                        Err((held, _)) if self.cleanup_retries > 0 => {
                            self.cleanup_retries -= 1;
                            Phase::Cleanup(Cleanup::new(held, self.cfg))
                        }
                        // Give up holding the instance: the process exits,
                        // the kernel closes the descriptor, recovery finishes.
                        Err(_) => Phase::Done,
                    },
                }
            }
            Phase::Done => panic!("creator: feed after done"),
        };
    }

    fn owned(&self) -> Option<Id> {
        match &self.phase {
            Phase::OpenRoot(..) => None,
            Phase::Create(m) => m.owned(),
            Phase::Stage(held, _) => Some(held.id),
            Phase::Cleanup(m) => m.owned(),
            Phase::Done => None,
        }
    }

    fn is_recoverer(&self) -> bool {
        false
    }
}

/// Runs `passes` recovery passes one after the other, then ends.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Recoverer {
    root: SharedPath,
    cfg: Config,
    passes_left: u8,
    /// O1..O3 before the first pass (ROOT is never created by recovery).
    open: Option<OpenRoot>,
    pass: Option<Recover>,
}

impl Recoverer {
    pub fn new(root: PathBuf, cfg: Config, passes: u8) -> Self {
        Self::with_open_root(root, cfg, passes, false)
    }

    /// As [`Recoverer::new`]; with `open_root`, ROOT is opened first
    /// (O1..O3, never creating it).
    pub fn with_open_root(root: PathBuf, cfg: Config, passes: u8, open_root: bool) -> Self {
        assert!(passes > 0, "a recoverer runs at least one pass");
        let open = open_root.then(|| OpenRoot::with_config(root.clone(), false, cfg));
        let root = SharedPath::from(root);
        let pass = Some(Recover::new(root.clone(), cfg));
        Recoverer { root, cfg, passes_left: passes - 1, open, pass }
    }
}

impl Role for Recoverer {
    fn op(&self) -> Option<Op> {
        open_root_then(&self.open, &self.pass)
    }

    fn feed(&mut self, result: OpResult) {
        let Some(result) = feed_open_root(&mut self.open, &mut self.pass, result) else { return };
        let m = self.pass.as_mut().expect("recoverer: feed after done");
        m.feed(result);
        if m.op().is_none() {
            self.pass = if self.passes_left > 0 {
                self.passes_left -= 1;
                Some(Recover::new(self.root.clone(), self.cfg))
            } else {
                None
            };
        }
    }

    fn owned(&self) -> Option<Id> {
        self.pass.as_ref().and_then(|m| m.owned())
    }

    fn is_recoverer(&self) -> bool {
        true
    }
}

/// The next step of a role that opens ROOT (O1..O3) before it runs its
/// machine `pass`.
fn open_root_then<M: Machine>(open: &Option<OpenRoot>, pass: &Option<M>) -> Option<Op> {
    match open {
        Some(m) => m.op(),
        None => pass.as_ref().and_then(|m| m.op()),
    }
}

/// Feeds `result` to a role's opening of ROOT (O1..O3) while that runs; a
/// refused ROOT ends the role (`pass` goes: it runs nothing more). Returns
/// the result back when the opening is over (or never ran): it is for the
/// role's own machine.
fn feed_open_root<M>(open: &mut Option<OpenRoot>, pass: &mut Option<M>, result: OpResult) -> Option<OpResult> {
    let Some(m) = open.as_mut() else { return Some(result) };
    m.feed(result);
    if m.op().is_none() && open.take().expect("the opening ran").finish().is_err() {
        *pass = None;
    }
    None
}

/// Runs one status pass (T1..T8) and ends. Owns nothing and removes
/// nothing; not a recoverer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StatusReader {
    open: Option<OpenRoot>,
    pass: Option<Status>,
}

impl StatusReader {
    /// With `open_root`, ROOT is opened first (O1..O3, never creating it).
    pub fn new(root: PathBuf, cfg: Config, open_root: bool) -> Self {
        let open = open_root.then(|| OpenRoot::with_config(root.clone(), false, cfg));
        StatusReader { open, pass: Some(Status::new(root, cfg)) }
    }
}

impl Role for StatusReader {
    fn op(&self) -> Option<Op> {
        open_root_then(&self.open, &self.pass)
    }

    fn feed(&mut self, result: OpResult) {
        let Some(result) = feed_open_root(&mut self.open, &mut self.pass, result) else { return };
        let m = self.pass.as_mut().expect("status: feed after done");
        m.feed(result);
        if m.op().is_none() {
            self.pass = None;
        }
    }

    fn owned(&self) -> Option<Id> {
        None
    }

    fn is_recoverer(&self) -> bool {
        false
    }
}

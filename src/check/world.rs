//! The whole world a checker explores: the simulated filesystem plus every
//! process's program. Plain data: `Clone`, `Eq`, `Hash`, so a search can
//! store and de-duplicate states.

use std::sync::Arc;

use crate::fs::sim::{Pid, SimFs};
use crate::fs::{Errno, Op, OpResult, Value};
use crate::variants::{Program, Role};

use super::oracle::{self, Violation};
use super::scenario::Scenario;

/// Where a process is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Life {
    Running,
    /// Its program ended; the kernel closed its descriptors.
    Exited,
    /// It died between two steps; the kernel closed its descriptors.
    Crashed,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Proc {
    pub pid: Pid,
    /// Shared between a world and the worlds branched from it until this
    /// process steps: a transition changes one program, so cloning a world
    /// copies the others by reference count only.
    pub program: Arc<Task>,
    pub life: Life,
}

/// A process's program with its next operation built once: listing a
/// state's actions, the partial-order reduction and the step itself all
/// read [`Task::next_op`] instead of building the operation (and its
/// paths) again. Dereferences to the [`Program`]; `==` and `Hash` look at
/// the program only, since the operation is a function of it.
#[derive(Clone, Debug)]
pub struct Task {
    program: Program,
    next: Option<Op>,
}

impl Task {
    pub fn new(program: Program) -> Task {
        let next = program.op();
        Task { program, next }
    }

    /// The program's next operation ([`Role::op`]), or `None` once it ended.
    pub fn next_op(&self) -> Option<&Op> {
        self.next.as_ref()
    }

    /// [`Role::feed`], then the next operation is built anew.
    pub fn feed(&mut self, result: OpResult) {
        self.program.feed(result);
        self.next = self.program.op();
    }

    /// [`Program::end`]: the tombstone of an ended process, with no step.
    pub fn end(&mut self) {
        self.program.end();
        self.next = None;
        debug_assert!(self.program.op().is_none(), "an ended program has no step");
    }
}

impl std::ops::Deref for Task {
    type Target = Program;
    fn deref(&self) -> &Program {
        &self.program
    }
}

impl PartialEq for Task {
    fn eq(&self, other: &Task) -> bool {
        self.program == other.program
    }
}

impl Eq for Task {}

impl std::hash::Hash for Task {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.program.hash(h);
    }
}

impl Proc {
    pub fn alive(&self) -> bool {
        self.life == Life::Running
    }
}

/// One choice of the scheduler. Processes are named by index (pid - 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// The process takes its next step.
    Step(u8),
    /// The process takes its next step, a [`Op::DrawId`], and draws this id.
    Draw(u8, u8),
    /// The process's next step fails with this errno instead.
    Fault(u8, Errno),
    /// The process dies now.
    Crash(u8),
}

impl Action {
    pub fn proc(&self) -> usize {
        match *self {
            Action::Step(p) | Action::Draw(p, _) | Action::Fault(p, _) | Action::Crash(p) => p as usize,
        }
    }
}

/// What one action did, for traces.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Record {
    pub pid: Pid,
    pub action: Action,
    /// `None` for a crash.
    pub op: Option<Op>,
    pub result: Option<OpResult>,
    /// The program ended with this step (the process exited).
    pub exited: bool,
    /// The step created a name that did not exist before (a successful
    /// create, `O_CREAT` open or mkdir of a missing name).
    pub created: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct World {
    pub fs: SimFs,
    pub procs: Vec<Proc>,
    pub faults_left: u8,
}

/// The errnos a fault may inject into an operation: the ones the real
/// syscall can return that the protocol must survive.
pub fn fault_errnos(op: &Op) -> &'static [Errno] {
    match op {
        Op::Rename { .. } => &[Errno::EXDEV, Errno::EIO],
        Op::Unlink { .. } | Op::Rmdir { .. } => &[Errno::EBUSY, Errno::EIO],
        Op::Mkdir { .. } | Op::CreateExcl { .. } | Op::OpenCreate { .. } => &[Errno::ENOSPC, Errno::EACCES],
        Op::Open { .. } | Op::OpenDir { .. } => &[Errno::EACCES],
        Op::ReadDirNext { .. } | Op::FdIdentity { .. } | Op::PathIdentity { .. } => &[Errno::EIO],
        Op::TryLock { .. } => &[Errno::EINTR],
        Op::Close { .. } => &[Errno::EIO],
        Op::Unlock { .. } | Op::Fsync { .. } => &[Errno::EIO],
        Op::DrawId | Op::Reserve { .. } | Op::Release { .. } => &[],
    }
}

impl World {
    /// The initial world of a scenario: creators first, then recoverers, then
    /// status threads.
    pub fn new(scn: &Scenario) -> World {
        let mut fs = scn.initial_fs();
        let params = scn.role_params();
        let mut procs = Vec::with_capacity(scn.processes());
        for c in 0..scn.creators {
            let items = (0..scn.items).map(|k| scn.item_path(c, k)).collect();
            let program = scn.variant.creator(scn.root(), &params, items);
            procs.push(Proc { pid: fs.spawn(), program: Arc::new(Task::new(program)), life: Life::Running });
        }
        for r in 0..scn.recoverers {
            let program = scn.variant.recoverer(scn.root(), &params, scn.recover_passes);
            // A shared process: recoverer 0 is a thread of creator 0's process.
            let pid = if scn.shared_process && r == 0 && scn.creators > 0 { procs[0].pid } else { fs.spawn() };
            procs.push(Proc { pid, program: Arc::new(Task::new(program)), life: Life::Running });
        }
        for _ in 0..scn.statuses {
            let program = scn
                .variant
                .status(scn.root(), &params)
                .unwrap_or_else(|| panic!("{} has no status model: scenarios with statuses are for the reference and its mutants", scn.variant));
            // A status thread runs inside the first creator's process.
            let pid = if scn.creators > 0 { procs[0].pid } else { fs.spawn() };
            procs.push(Proc { pid, program: Arc::new(Task::new(program)), life: Life::Running });
        }
        assert!(procs.len() < u8::MAX as usize, "processes are named by u8");
        World { fs, procs, faults_left: scn.faults }
    }

    /// True when no process can take another step.
    pub fn is_terminal(&self) -> bool {
        self.procs.iter().all(|p| !p.alive())
    }

    /// Every action enabled in this state, in a fixed order.
    pub fn actions(&self, scn: &Scenario, out: &mut Vec<Action>) {
        out.clear();
        for (i, p) in self.procs.iter().enumerate() {
            if !p.alive() {
                continue;
            }
            let i = i as u8;
            let op = p.program.next_op().expect("a running program has a next step");
            if *op == Op::DrawId {
                out.extend((0..scn.ids).map(|k| Action::Draw(i, k)));
            } else {
                out.push(Action::Step(i));
            }
            if self.faults_left > 0 {
                out.extend(fault_errnos(op).iter().map(|e| Action::Fault(i, *e)));
            }
            if scn.crashes {
                out.push(Action::Crash(i));
            }
        }
    }

    /// Applies one action and judges the step with the oracle.
    ///
    /// # Panics
    /// When the action is not enabled (a corrupt replay token is refused by
    /// [`World::try_apply`] instead).
    pub fn apply(&mut self, scn: &Scenario, action: Action) -> (Record, Option<Violation>) {
        self.try_apply(scn, action).expect("action enabled")
    }

    /// [`World::apply`], or `None` when the action is not enabled here.
    pub fn try_apply(&mut self, scn: &Scenario, action: Action) -> Option<(Record, Option<Violation>)> {
        let i = action.proc();
        let proc = self.procs.get(i)?;
        if !proc.alive() {
            return None;
        }
        let pid = proc.pid;
        if let Action::Crash(_) = action {
            if !scn.crashes {
                return None;
            }
            // The whole process dies: every thread of it.
            self.fs.crash(pid);
            for p in self.procs.iter_mut().filter(|p| p.pid == pid && p.alive()) {
                p.life = Life::Crashed;
                Arc::make_mut(&mut p.program).end();
            }
            let record = Record { pid, action, op: None, result: None, exited: false, created: false };
            let violation = oracle::after_step(scn, self, &record, &[]);
            return Some((record, violation.filter(|v| !scn.past.contains(&v.invariant))));
        }
        let op = proc.program.next_op().expect("running program has a step").clone();
        let owners_before = oracle::owners(self);
        let creates = match &op {
            Op::CreateExcl { path } | Op::OpenCreate { path } | Op::Mkdir { path } => Some(path),
            _ => None,
        };
        let existed_before = creates.is_some_and(|p| self.fs.lstat(p).is_some());
        // The partial-order reduction (`check::local`) relies on ROOT
        // keeping its inode: only a rename or rmdir could take it away.
        let root_before = matches!(op, Op::Rename { .. } | Op::Rmdir { .. }).then(|| self.fs.lstat(scn.root()));
        let result = match action {
            Action::Step(_) if op != Op::DrawId => self.fs.exec(pid, &op),
            Action::Draw(_, k) if op == Op::DrawId && k < scn.ids => Ok(Value::Id(k as u128)),
            Action::Fault(_, e) if self.faults_left > 0 && fault_errnos(&op).contains(&e) => {
                self.faults_left -= 1;
                self.fs.exec_fault(pid, &op, e)
            }
            _ => return None,
        };
        if let Some(before) = root_before {
            let after = self.fs.lstat(scn.root());
            assert!(
                before.map(|i| (i.dev, i.ino)) == after.map(|i| (i.dev, i.ino)),
                "`{op}` by pid {pid} removed or replaced ROOT; the search assumes ROOT stays"
            );
        }
        let followed_symlink = self.fs.last_followed_symlink();
        Arc::make_mut(&mut self.procs[i].program).feed(result.clone());
        let exited = self.procs[i].program.next_op().is_none();
        if exited {
            self.procs[i].life = Life::Exited;
            Arc::make_mut(&mut self.procs[i].program).end();
            // The process exits with its last thread; the kernel closes
            // whatever descriptors are left.
            if !self.procs.iter().any(|p| p.pid == pid && p.alive()) {
                self.fs.crash(pid);
            }
        }
        let created = creates.is_some() && !existed_before && result.is_ok();
        let record = Record { pid, action, op: Some(op), result: Some(result), exited, created };
        let mut violation = oracle::after_step(scn, self, &record, &owners_before);
        if violation.is_none() && followed_symlink && self.procs[i].program.is_recoverer() {
            violation = Some(oracle::symlink_followed(&record));
        }
        Some((record, violation.filter(|v| !scn.past.contains(&v.invariant))))
    }

    /// INV-5: from a terminal state, one fault-free recovery pass runs alone;
    /// afterwards ROOT must hold only foreign entries. Returns that pass's
    /// records, and the violation if any.
    pub fn final_check(&self, scn: &Scenario) -> (Vec<Record>, Option<Violation>) {
        assert!(self.is_terminal(), "final check on a running world");
        let mut w = self.clone();
        let program = scn.variant.recoverer(scn.root(), &scn.role_params(), 1);
        let pid = w.fs.spawn();
        w.procs.push(Proc { pid, program: Arc::new(Task::new(program)), life: Life::Running });
        let i = (w.procs.len() - 1) as u8;
        let mut records = Vec::new();
        let steps_max = 100_000;
        for _ in 0..steps_max {
            if !w.procs[i as usize].alive() {
                break;
            }
            let op = w.procs[i as usize].program.next_op().expect("running");
            let action = if *op == Op::DrawId { Action::Draw(i, 0) } else { Action::Step(i) };
            let (record, violation) = w.apply(scn, action);
            records.push(record);
            if violation.is_some() {
                return (records, violation);
            }
        }
        assert!(!w.procs[i as usize].alive(), "final recovery did not end in {steps_max} steps");
        (records, oracle::final_state(scn, &w).filter(|v| !scn.past.contains(&v.invariant)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cached next operation is the one the program would build, at
    /// every step of a schedule that crashes, faults and exits processes.
    #[test]
    fn the_cached_next_operation_follows_the_program() {
        let mut scn = Scenario::new(crate::variants::Variant::Reference, 2, 1, 2);
        scn.faults = 1;
        let mut w = World::new(&scn);
        let mut actions = Vec::new();
        let mut steps = 0;
        let mut k = 0usize;
        while !w.is_terminal() {
            w.actions(&scn, &mut actions);
            // Mostly steps, now and then a fault or a crash.
            k += 1;
            let steps_only: Vec<Action> =
                actions.iter().copied().filter(|a| matches!(a, Action::Step(_) | Action::Draw(..))).collect();
            let action =
                if k.is_multiple_of(13) { actions[k % actions.len()] } else { steps_only[(k * 7) % steps_only.len()] };
            w.apply(&scn, action);
            steps += 1;
            for p in &w.procs {
                assert_eq!(p.program.next_op().cloned(), p.program.program.op(), "after {steps} steps");
                assert_eq!(p.program.next_op().is_none(), !p.alive() || p.program.program.op().is_none());
            }
        }
        assert!(steps > 10, "the schedule took {steps} steps");
    }
}

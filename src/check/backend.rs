//! One simulated process as an owned backend, for running the public API
//! ([`crate::StagingRoot`]) on the simulation: the loom models share one
//! `StagingRoot<SimBackend>` between threads of one process, so that every
//! simulated operation is a step behind the root's mutex (a loom scheduling
//! point under `--cfg loom`).

use crate::fs::sim::{Pid, SimFs};
use crate::fs::{Fs, Op, OpResult};

/// A [`SimFs`] and the process whose steps [`Fs::execute`] takes. Every
/// thread using the backend is a thread of that one process: they share its
/// descriptor table, POSIX locks and in-process registry.
#[derive(Clone, Debug)]
pub struct SimBackend {
    pub sim: SimFs,
    pub pid: Pid,
}

impl SimBackend {
    /// Spawns a new process on `sim` and takes its steps.
    pub fn spawn(mut sim: SimFs) -> SimBackend {
        let pid = sim.spawn();
        SimBackend { sim, pid }
    }
}

impl Fs for SimBackend {
    fn execute(&mut self, op: &Op) -> OpResult {
        self.sim.exec(self.pid, op)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::fs::sim::{LockKind, ReaddirOrder};
    use crate::{Options, StagingRoot};

    /// The API runs on the backend: an instance made, staged into and
    /// cleaned up leaves ROOT empty and no descriptor open.
    #[test]
    fn api_runs_on_a_simulated_process() {
        let mut sim = SimFs::new(LockKind::Flock, ReaddirOrder::Name);
        sim.mkdir_all(Path::new("/s"));
        sim.write_file(Path::new("/s/item"));
        let root =
            StagingRoot::open_with("/r", SimBackend::spawn(sim), Options::default()).expect("open");
        let mut inst = root.create_instance().expect("create");
        let staged = inst.stage("/s/item").expect("stage");
        assert!(root.with_backend(|b| b.sim.exists(&staged)));
        assert_eq!(
            root.with_backend(|b| b.sim.lock_holders(&inst.lock_file())),
            vec![1]
        );
        inst.cleanup().expect("cleanup");
        assert!(root
            .with_backend(|b| b.sim.list(Path::new("/r")))
            .is_empty());
        assert!(!root.with_backend(|b| b.sim.exists(Path::new("/s/item"))));
        assert_eq!(root.with_backend(|b| b.sim.open_fds(b.pid)), 0);
    }
}

//! TEMP STUB (not committed)
#![allow(unused)]
use std::path::{Path, PathBuf};
use super::*;
pub type Pid = u32;
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LockKind { Flock, Ofd, Posix }
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReaddirOrder { Name, ReverseName }
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SimFs {}
impl SimFs {
    pub fn new(lock_kind: LockKind, order: ReaddirOrder) -> SimFs { todo!() }
    pub fn lock_kind(&self) -> LockKind { todo!() }
    pub fn mkdir_all(&mut self, path: &Path) { todo!() }
    pub fn write_file(&mut self, path: &Path) { todo!() }
    pub fn symlink(&mut self, path: &Path, target: &Path) { todo!() }
    pub fn mount(&mut self, path: &Path) { todo!() }
    pub fn spawn(&mut self) -> Pid { todo!() }
    pub fn is_alive(&self, pid: Pid) -> bool { todo!() }
    pub fn crash(&mut self, pid: Pid) { todo!() }
    pub fn exec(&mut self, pid: Pid, op: &Op) -> OpResult { todo!() }
    pub fn exec_fault(&mut self, pid: Pid, op: &Op, errno: Errno) -> OpResult { todo!() }
    pub fn last_followed_symlink(&self) -> bool { todo!() }
    pub fn lstat(&self, path: &Path) -> Option<Identity> { todo!() }
    pub fn exists(&self, path: &Path) -> bool { todo!() }
    pub fn list(&self, path: &Path) -> Vec<(String, FileKind)> { todo!() }
    pub fn tree(&self, path: &Path) -> Vec<(PathBuf, FileKind)> { todo!() }
    pub fn lock_holders(&self, path: &Path) -> Vec<Pid> { todo!() }
    pub fn open_fds(&self, pid: Pid) -> usize { todo!() }
    pub fn set_id_space(&mut self, n: u128) { todo!() }
}

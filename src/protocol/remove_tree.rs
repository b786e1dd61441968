//! Tree removal without following symlinks, one syscall a step (SPEC.md
//! R1..R6, with R5a). Shared by cleanup and recovery.
//!
//! Depth first: list a directory completely (one `readdir` a step), close the
//! stream, then remove each entry (files and symlinks by `unlink`, directories
//! by descending after an `lstat` shows them on the same device), then `rmdir`
//! the directory. A directory on another device (something mounted inside the
//! staged tree) stops the removal with `EBUSY` before anything on that other
//! filesystem is touched. At most one directory stream is
//! open at any time, so an error path has at most one descriptor to close.
//!
//! A concurrent removal is tolerated: `ENOENT` on any step counts as done for
//! that entry (the other remover got there first). `ENOTEMPTY` on `rmdir`
//! (someone added an entry after our listing) re-lists that directory, at most
//! [`RELIST_MAX`] times.


use super::shared_path::SharedPath;
use super::{Config, Machine, Mutation};
use crate::fs::{Errno, FileKind, Fd, Op, OpError, OpResult, Value};

/// How many times one directory is listed again after `rmdir` saw
/// `ENOTEMPTY`, before the removal gives up with that error.
pub const RELIST_MAX: u32 = 2;

/// Depth bound: a staged tree deeper than this is refused with `ELOOP`
/// rather than walked (keeps the machine state bounded).
pub const DEPTH_MAX: usize = 256;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Frame {
    dir: SharedPath,
    /// Entries still to remove (popped from the back), once listed.
    pending: Vec<(String, FileKind)>,
    relists: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum State {
    /// lstat the root of the tree.
    Stat,
    /// lstat a subdirectory before descending: a mount point is not crossed.
    StatDir(SharedPath),
    /// unlink a non-directory: the root itself or an entry of the top frame.
    Unlink(SharedPath),
    /// Open the top frame's directory for listing.
    OpenDir,
    /// Read the next entry of the top frame's directory.
    Read(Fd),
    /// Close the top frame's directory stream, listing complete.
    CloseDir(Fd),
    /// Pick the next entry of the top frame, or rmdir it when none is left.
    Next,
    /// rmdir the top frame's directory.
    Rmdir,
    /// An error happened while a stream was open: close it, then fail.
    Abort(Fd, OpError),
    Done(Result<(), OpError>),
}

/// Removes the tree at `root` (a file, symlink or directory) without
/// following symlinks. Finishes with `Ok(())` when the tree is gone,
/// including when it was already gone.
///
/// # Errors
/// The first failing operation other than `ENOENT`, with its errno: `EBUSY`
/// for a mount point inside the tree, `EIO`, `EACCES`/`EPERM`, `ENOTEMPTY`
/// after [`RELIST_MAX`] re-listings. What was removed before the error stays
/// removed; what was not is intact (each step removes one name).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RemoveTree {
    root: SharedPath,
    /// The device of the root: a directory on another one is a mount point.
    dev: u64,
    stack: Vec<Frame>,
    state: State,
    /// A mutant of the removal steps (R1, R2, R5a), or `None`.
    mutation: Option<Mutation>,
}

impl RemoveTree {
    pub fn new(root: impl Into<SharedPath>) -> Self {
        RemoveTree { root: root.into(), dev: 0, stack: Vec::new(), state: State::Stat, mutation: None }
    }

    /// As [`RemoveTree::new`], with the protocol configuration (its
    /// mutation, if it changes a removal step).
    pub fn with_config(root: impl Into<SharedPath>, cfg: Config) -> Self {
        RemoveTree { mutation: cfg.mutation, ..RemoveTree::new(root) }
    }

    fn has(&self, m: Mutation) -> bool {
        self.mutation == Some(m)
    }

    /// The root this machine removes.
    pub fn root(&self) -> &std::path::Path {
        &self.root
    }

    fn top(&mut self) -> &mut Frame {
        self.stack.last_mut().expect("a frame is open in this state")
    }

    fn push_dir(&mut self, dir: SharedPath) -> State {
        if self.stack.len() >= DEPTH_MAX {
            return State::Done(Err(OpError::new(Op::OpenDir { path: dir.to_path_buf() }, Errno::ELOOP)));
        }
        self.stack.push(Frame { dir, pending: Vec::new(), relists: 0 });
        State::OpenDir
    }

    /// The top frame is finished (removed, or found gone): pop it and carry on
    /// with its parent, or finish.
    fn pop(&mut self) -> State {
        self.stack.pop();
        if self.stack.is_empty() {
            State::Done(Ok(()))
        } else {
            State::Next
        }
    }

    fn fail(op: Op, errno: Errno) -> State {
        State::Done(Err(OpError::new(op, errno)))
    }
}

impl Machine for RemoveTree {
    type Output = Result<(), OpError>;

    fn op(&self) -> Option<Op> {
        let frame_dir = || self.stack.last().expect("frame").dir.to_path_buf();
        Some(match &self.state {
            State::Stat => Op::PathIdentity { path: self.root.to_path_buf() },
            State::StatDir(path) => Op::PathIdentity { path: path.to_path_buf() },
            State::Unlink(path) => Op::Unlink { path: path.to_path_buf() },
            State::OpenDir => Op::OpenDir { path: frame_dir() },
            State::Read(fd) => Op::ReadDirNext { fd: *fd },
            State::CloseDir(fd) | State::Abort(fd, _) => Op::Close { fd: *fd },
            State::Rmdir => Op::Rmdir { path: frame_dir() },
            State::Next => unreachable!("Next is resolved in feed"),
            State::Done(_) => return None,
        })
    }

    fn feed(&mut self, result: OpResult) {
        let op = self.op().expect("feed after done");
        let state = std::mem::replace(&mut self.state, State::Stat);
        self.state = match (state, result) {
            // R1: lstat, never stat: a symlink root is unlinked, not followed.
            (State::Stat, Ok(Value::Identity(id))) => match id.kind {
                // Mutant: `stat` instead of `lstat`: a symlink root is
                // taken for the directory it points to and walked.
                FileKind::Symlink if self.has(Mutation::TreeRootStat) => {
                    self.dev = id.dev;
                    self.push_dir(self.root.clone())
                }
                FileKind::Dir => {
                    self.dev = id.dev;
                    self.push_dir(self.root.clone())
                }
                _ => State::Unlink(self.root.clone()),
            },
            // R5a: never cross into another filesystem: a mount point inside
            // the tree fails the removal with EBUSY before anything below it
            // is touched (what rmdir(2) of a mount point would say).
            (State::StatDir(path), Ok(Value::Identity(id))) => match id.kind {
                // Mutant: no st_dev comparison: the walk goes on into the
                // mounted filesystem and empties it.
                FileKind::Dir if id.dev != self.dev && !self.has(Mutation::RemoveCrossesMounts) => {
                    Self::fail(op, Errno::EBUSY)
                }
                FileKind::Dir => self.push_dir(path),
                _ => State::Unlink(path),
            },
            (State::StatDir(_), Err(Errno::ENOENT)) => State::Next,
            (State::Stat, Err(Errno::ENOENT)) if !self.has(Mutation::RemoveEnoentIsError) => State::Done(Ok(())),
            // R2: unlink one name; ENOENT means a concurrent remover got it.
            (State::Unlink(_), Err(Errno::ENOENT)) if self.has(Mutation::RemoveEnoentIsError) => {
                Self::fail(op, Errno::ENOENT)
            }
            (State::Unlink(_), Ok(_)) | (State::Unlink(_), Err(Errno::ENOENT)) => {
                if self.stack.is_empty() {
                    State::Done(Ok(()))
                } else {
                    State::Next
                }
            }
            // R3: open the directory with O_NOFOLLOW; gone means done.
            (State::OpenDir, Ok(Value::Fd(fd))) => {
                self.top().pending.clear();
                State::Read(fd)
            }
            (State::OpenDir, Err(Errno::ENOENT)) => self.pop(),
            // R4: list completely before removing anything (one entry a step).
            (State::Read(fd), Ok(Value::Entry(Some(entry)))) => {
                self.top().pending.push((entry.name, entry.kind));
                State::Read(fd)
            }
            (State::Read(fd), Ok(Value::Entry(None))) => State::CloseDir(fd),
            (State::Read(fd), Err(errno)) => State::Abort(fd, OpError::new(op, errno)),
            // R4 (end): close the stream before removing anything, so at most
            // one stream is open; remove in name order (popped from the back).
            (State::CloseDir(_), _) => {
                self.top().pending.sort_by(|a, b| b.0.cmp(&a.0));
                State::Next
            }
            // R6: the directory is empty by our listing: rmdir it.
            (State::Rmdir, Ok(_)) | (State::Rmdir, Err(Errno::ENOENT)) => self.pop(),
            (State::Rmdir, Err(Errno::ENOTEMPTY)) if self.top().relists < RELIST_MAX => {
                self.top().relists += 1;
                State::OpenDir
            }
            (State::Abort(_, err), _) => State::Done(Err(err)),
            (_, Err(errno)) => Self::fail(op, errno),
            (state, Ok(value)) => panic!("remove_tree: {op} returned {value} in {state:?}"),
        };
        // R5: take the next pending entry of the top frame.
        while matches!(self.state, State::Next) {
            let frame = self.top();
            self.state = match frame.pending.pop() {
                None => State::Rmdir,
                Some((name, kind)) => {
                    let path = SharedPath::new(frame.dir.join(&name));
                    if kind == FileKind::Dir {
                        State::StatDir(path)
                    } else {
                        State::Unlink(path)
                    }
                }
            };
        }
    }

    fn finish(self) -> Self::Output {
        match self.state {
            State::Done(r) => r,
            s => panic!("remove_tree: finish before done ({s:?})"),
        }
    }
}

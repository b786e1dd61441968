//! [`SharedPath`]: an immutable path for machine states. Cloning is a
//! reference-count increment and hashing writes the path's bytes once, so
//! a checker that clones and hashes millions of states does not pay for
//! `PathBuf`'s allocation and component-wise hashing.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// An immutable, cheaply cloned path. Equality, order and hash are those of
/// the path's bytes (`/r/` and `/r` differ, unlike `Path`'s component-wise
/// equality; the protocol builds every path one way).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SharedPath(Arc<Path>);

impl SharedPath {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SharedPath(Arc::from(path.into()))
    }

    pub fn as_path(&self) -> &Path {
        &self.0
    }

    /// An owned copy, for an [`crate::fs::Op`].
    pub fn to_path_buf(&self) -> PathBuf {
        self.0.to_path_buf()
    }
}

impl Hash for SharedPath {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(self.0.as_os_str().as_encoded_bytes());
    }
}

impl Deref for SharedPath {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for SharedPath {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl From<PathBuf> for SharedPath {
    fn from(p: PathBuf) -> Self {
        SharedPath::new(p)
    }
}

impl From<&Path> for SharedPath {
    fn from(p: &Path) -> Self {
        SharedPath(Arc::from(p))
    }
}

impl fmt::Debug for SharedPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

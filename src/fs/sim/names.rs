//! Interned names: directory entry names, readdir cursors and symlink
//! targets as `Copy` references into one process-wide, append-only table.
//!
//! A checker clones the whole [`super::SimFs`] on every transition; with
//! names as `Copy` references the inode, entry and descriptor tables are
//! plain `Copy` data, so a clone is a few `memcpy`s: no allocation and no
//! reference count per name.
//!
//! **Interning never shows in the state.** The table is keyed by content and
//! never iterated; `==`, ordering and hashing of a name use its bytes only,
//! never its address, so equal states compare and hash equally whatever
//! order names were first seen in (in this search, another branch, another
//! test), and the same calls give the same state byte for byte.
//!
//! The table only grows: one copy of each distinct name or symlink target
//! ever created in this process (at most 255 bytes for a name, and the
//! protocol's names are a bounded set: ids times suffixes, item names).

use std::collections::BTreeSet;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

/// Every distinct byte string interned so far, each leaked once.
static TABLE: Mutex<BTreeSet<&'static [u8]>> = Mutex::new(BTreeSet::new());

/// The one `'static` copy of `bytes`.
fn intern(bytes: &[u8]) -> &'static [u8] {
    let mut table = TABLE.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(&b) = table.get(bytes) {
        return b;
    }
    let b: &'static [u8] = Box::leak(bytes.into());
    table.insert(b);
    b
}

/// A directory entry name (UTF-8, at most `NAME_MAX` bytes). Compares,
/// orders and hashes as its bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Name(&'static str);

impl Name {
    #[inline]
    pub fn new(name: &str) -> Name {
        let bytes = intern(name.as_bytes());
        Name(std::str::from_utf8(bytes).expect("interned from a str"))
    }

    #[inline]
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl std::ops::Deref for Name {
    type Target = str;

    #[inline]
    fn deref(&self) -> &str {
        self.0
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0, f)
    }
}

/// A symlink's target path, as written. Compares as its bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct Target(&'static [u8]);

impl Target {
    pub fn new(path: &Path) -> Target {
        Target(intern(path.as_os_str().as_bytes()))
    }

    #[inline]
    pub fn as_bytes(self) -> &'static [u8] {
        self.0
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(Path::new(std::ffi::OsStr::from_bytes(self.0)), f)
    }
}

//! Interned names: directory entry names, readdir cursors and symlink
//! targets as `Copy` references into one process-wide, append-only table.
//!
//! A checker clones the whole [`super::SimFs`] on every transition; with
//! names as `Copy` references the inode, entry and descriptor tables are
//! plain `Copy` data, so a clone is a few `memcpy`s: no allocation and no
//! reference count per name.
//!
//! **Interning never shows in the state.** The table is keyed by content and
//! never iterated; there is one entry per distinct content, so `==` may
//! compare addresses; ordering uses the bytes, and hashing a 64-bit hash of
//! the bytes (never an address), so equal states compare and hash equally
//! whatever order names were first seen in (in this search, another branch,
//! another test), and the same calls give the same state byte for byte.
//!
//! The table only grows: one copy of each distinct name or symlink target
//! ever created in this process (at most 255 bytes for a name, and the
//! protocol's names are a bounded set: ids times suffixes, item names).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

/// One distinct byte string, leaked once, with its content hash.
struct Interned {
    /// xxh3-64 of `bytes`: a function of the content alone, so it may stand
    /// for the bytes in `Hash`. Distinct entries have distinct hashes
    /// (asserted when interning).
    hash: u64,
    bytes: &'static [u8],
    /// `bytes` as UTF-8, when it is (every [`Name`]); "" otherwise.
    text: &'static str,
}

struct Table {
    by_bytes: BTreeMap<&'static [u8], &'static Interned>,
    hashes: BTreeSet<u64>,
}

/// Every distinct byte string interned so far.
static TABLE: Mutex<Table> =
    Mutex::new(Table { by_bytes: BTreeMap::new(), hashes: BTreeSet::new() });

/// The one `'static` copy of `bytes`.
fn intern(bytes: &[u8]) -> &'static Interned {
    let mut table = TABLE.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(&i) = table.by_bytes.get(bytes) {
        return i;
    }
    let bytes: &'static [u8] = Box::leak(bytes.into());
    let hash = xxhash_rust::xxh3::xxh3_64(bytes);
    // Two names with one hash would make two different states hash alike:
    // refuse instead of merging them silently (odds about n^2 / 2^65).
    assert!(table.hashes.insert(hash), "64-bit hash collision between interned names");
    let text = std::str::from_utf8(bytes).unwrap_or("");
    let i: &'static Interned = Box::leak(Box::new(Interned { hash, bytes, text }));
    table.by_bytes.insert(bytes, i);
    i
}

/// A directory entry name (UTF-8, at most `NAME_MAX` bytes). Compares and
/// orders as its bytes; hashes as a function of them.
#[derive(Clone, Copy)]
pub(super) struct Name(&'static Interned);

impl Name {
    #[inline]
    pub fn new(name: &str) -> Name {
        Name(intern(name.as_bytes()))
    }

    #[inline]
    pub fn as_str(self) -> &'static str {
        self.0.text
    }

    /// A hash of the bytes (equal names, equal hashes; distinct names,
    /// distinct hashes).
    #[inline]
    pub fn hash(self) -> u64 {
        self.0.hash
    }
}

/// One `Interned` per distinct content: the address is the content.
impl PartialEq for Name {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

impl Eq for Name {}

impl PartialOrd for Name {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Name {
    #[inline]
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.bytes.cmp(other.0.bytes)
    }
}

impl std::ops::Deref for Name {
    type Target = str;

    #[inline]
    fn deref(&self) -> &str {
        self.0.text
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0.text, f)
    }
}

/// A symlink's target path, as written. Compares as its bytes.
#[derive(Clone, Copy)]
pub(super) struct Target(&'static Interned);

impl Target {
    pub fn new(path: &Path) -> Target {
        Target(intern(path.as_os_str().as_bytes()))
    }

    #[inline]
    pub fn as_bytes(self) -> &'static [u8] {
        self.0.bytes
    }

    /// As [`Name::hash`].
    #[inline]
    pub fn hash(self) -> u64 {
        self.0.hash
    }
}

impl PartialEq for Target {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

impl Eq for Target {}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(Path::new(std::ffi::OsStr::from_bytes(self.0.bytes)), f)
    }
}

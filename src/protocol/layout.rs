//! On-disk names (SPEC.md "Layout"): `ROOT/<id>.lock` and `ROOT/<id>.data/`,
//! `<id>` being 32 lower-case hex digits; staged items become
//! `<id>.data/<n>-<basename>`.

use std::path::{Path, PathBuf};

use crate::fs::{id_hex, parse_id_hex, Id};

/// Suffix of an instance's lock file.
pub const LOCK_SUFFIX: &str = ".lock";
/// Suffix of an instance's data directory.
pub const DATA_SUFFIX: &str = ".data";

/// `ROOT/<id>.lock`.
pub fn lock_path(root: &Path, id: Id) -> PathBuf {
    let mut name = id_hex(id);
    name.push_str(LOCK_SUFFIX);
    root.join(name)
}

/// `ROOT/<id>.data`.
pub fn data_path(root: &Path, id: Id) -> PathBuf {
    let mut name = id_hex(id);
    name.push_str(DATA_SUFFIX);
    root.join(name)
}

/// What a name in ROOT is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Name {
    Lock(Id),
    Data(Id),
    /// Matches neither pattern: left alone and reported.
    Foreign,
}

/// Classifies one entry name of ROOT.
pub fn classify(name: &str) -> Name {
    if let Some(hex) = name.strip_suffix(LOCK_SUFFIX) {
        if let Some(id) = parse_id_hex(hex) {
            return Name::Lock(id);
        }
    }
    if let Some(hex) = name.strip_suffix(DATA_SUFFIX) {
        if let Some(id) = parse_id_hex(hex) {
            return Name::Data(id);
        }
    }
    Name::Foreign
}

/// The name a staged item gets inside the data directory: `<n>-<basename>`.
pub fn staged_name(n: u64, basename: &str) -> String {
    format!("{n}-{basename}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_names() {
        let hex = "0123456789abcdef0123456789abcdef";
        let id = u128::from_str_radix(hex, 16).unwrap();
        assert_eq!(classify(&format!("{hex}.lock")), Name::Lock(id));
        assert_eq!(classify(&format!("{hex}.data")), Name::Data(id));
        assert_eq!(classify("0123456789ABCDEF0123456789abcdef.lock"), Name::Foreign);
        assert_eq!(classify("short.lock"), Name::Foreign);
        assert_eq!(classify(&format!("{hex}.lockx")), Name::Foreign);
        assert_eq!(lock_path(Path::new("/r"), 1), PathBuf::from("/r/00000000000000000000000000000001.lock"));
    }
}

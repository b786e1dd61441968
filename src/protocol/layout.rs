//! On-disk names (SPEC.md "Layout"): `ROOT/<id>.lock` and `ROOT/<id>.data/`,
//! `<id>` being 32 lower-case hex digits; staged items become
//! `<id>.data/<n>-<basename>`.

use std::path::{Path, PathBuf};

use crate::fs::{id_hex_digits, parse_id_hex, Id};

/// Suffix of an instance's lock file.
pub const LOCK_SUFFIX: &str = ".lock";
/// Suffix of an instance's data directory.
pub const DATA_SUFFIX: &str = ".data";

/// `ROOT/<id>.lock`.
pub fn lock_path(root: &Path, id: Id) -> PathBuf {
    instance_path(root, id, LOCK_SUFFIX)
}

/// `ROOT/<id>.data`.
pub fn data_path(root: &Path, id: Id) -> PathBuf {
    instance_path(root, id, DATA_SUFFIX)
}

/// `ROOT/<id><suffix>`, built in one allocation: every step of the
/// protocol names a path like this, and the checkers build millions.
fn instance_path(root: &Path, id: Id, suffix: &str) -> PathBuf {
    let mut name = [0u8; 32 + 5];
    assert!(suffix.len() <= 5, "suffix {suffix:?} longer than the buffer");
    name[..32].copy_from_slice(&id_hex_digits(id));
    name[32..32 + suffix.len()].copy_from_slice(suffix.as_bytes());
    let name = std::str::from_utf8(&name[..32 + suffix.len()]).expect("ASCII");
    let mut path = PathBuf::with_capacity(root.as_os_str().len() + 1 + name.len());
    path.push(root);
    path.push(name);
    path
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

    #[test]
    fn instance_paths_are_the_joined_hex_names() {
        let id = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210;
        let hex = "0123456789abcdeffedcba9876543210";
        assert_eq!(crate::fs::id_hex(id), hex);
        for root in ["/r", "/r/", "rel", "/a/b/c"] {
            let root = Path::new(root);
            assert_eq!(lock_path(root, id), root.join(format!("{hex}.lock")), "{}", root.display());
            assert_eq!(data_path(root, id), root.join(format!("{hex}.data")), "{}", root.display());
        }
        assert_eq!(data_path(Path::new("/r/"), id).as_os_str(), format!("/r/{hex}.data").as_str());
    }
}

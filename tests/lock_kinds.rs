//! Lock kinds do not exclude each other: an implementation that locks
//! `<id>.lock` with another kind of lock than `flock(2)` is invisible to
//! this one (SPEC.md rule LOCK-KIND-SHARED). These tests build that broken
//! deployment and assert the damage it does.

use std::fs;

use rustix::fs::{fcntl_lock, flock, FlockOperation};
use stagedir::fs::id_hex;
use stagedir::StagingRoot;

#[test]
fn flock_does_not_see_a_posix_record_lock_on_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.lock");
    let posix = fs::File::create_new(&path).unwrap();
    fcntl_lock(&posix, FlockOperation::NonBlockingLockExclusive).unwrap();
    let other = fs::OpenOptions::new().read(true).write(true).open(&path).unwrap();
    flock(&other, FlockOperation::NonBlockingLockExclusive).expect("flock ignores the POSIX lock");
}

#[test]
fn recovery_reclaims_a_live_instance_locked_only_with_a_posix_record_lock() {
    let dir = tempfile::tempdir().unwrap();
    let root_path = dir.path().join("root");
    let root = StagingRoot::open(&root_path).unwrap();
    let id = 0x1c0c_u128;
    let lock = root_path.join(format!("{}.lock", id_hex(id)));
    let data = root_path.join(format!("{}.data", id_hex(id)));
    // Another implementation's live instance: lock file first, locked with
    // fcntl(F_SETLK), then its data.
    let theirs = fs::File::create_new(&lock).unwrap();
    fcntl_lock(&theirs, FlockOperation::NonBlockingLockExclusive).unwrap();
    fs::create_dir(&data).unwrap();
    fs::write(data.join("0-item"), b"live").unwrap();
    let report = root.recover().unwrap();
    assert_eq!(report.reclaimed, [id], "flock(2) took the lock the owner still holds");
    assert!(!data.exists(), "the live owner's data is gone");
    assert!(!lock.exists());
    drop(theirs);
}

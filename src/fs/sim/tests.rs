use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use super::*;
use crate::fs::{DirEntry, Errno, Fd, FileKind, Op, OpResult, Value};

const KINDS: [LockKind; 3] = [LockKind::Flock, LockKind::Ofd, LockKind::Posix];

fn p(s: &str) -> PathBuf {
    PathBuf::from(s)
}

fn sim(kind: LockKind) -> SimFs {
    SimFs::new(kind, ReaddirOrder::Name)
}

#[track_caller]
fn fd(r: OpResult) -> Fd {
    match r {
        Ok(Value::Fd(fd)) => fd,
        other => panic!("expected a descriptor, got {other:?}"),
    }
}

#[track_caller]
fn ident(r: OpResult) -> Identity {
    match r {
        Ok(Value::Identity(i)) => i,
        other => panic!("expected an identity, got {other:?}"),
    }
}

#[track_caller]
fn entry(r: OpResult) -> Option<String> {
    match r {
        Ok(Value::Entry(e)) => e.map(|e| e.name),
        other => panic!("expected an entry, got {other:?}"),
    }
}

#[track_caller]
fn check(sim: &mut SimFs, pid: Pid, op: Op, want: Result<(), Errno>) {
    let got = sim.exec(pid, &op).map(|_| ());
    assert_eq!(got, want, "{op}");
}

fn open(s: &mut SimFs, pid: Pid, path: &str) -> Fd {
    fd(s.exec(pid, &Op::Open { path: p(path) }))
}

fn lock(s: &mut SimFs, pid: Pid, fd: Fd) -> Result<(), Errno> {
    s.exec(pid, &Op::TryLock { fd }).map(|_| ())
}

fn hash(s: &SimFs) -> u64 {
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

// ---- locks -----------------------------------------------------------------

#[test]
fn posix_locks_never_conflict_within_one_process() {
    let mut s = sim(LockKind::Posix);
    s.write_file(&p("/l"));
    let (a, b) = (s.spawn(), s.spawn());
    let (fa1, fa2) = (open(&mut s, a, "/l"), open(&mut s, a, "/l"));
    assert_eq!(lock(&mut s, a, fa1), Ok(()));
    assert_eq!(lock(&mut s, a, fa2), Ok(()));
    let fb = open(&mut s, b, "/l");
    assert_eq!(lock(&mut s, b, fb), Err(Errno::EWOULDBLOCK));
    assert_eq!(s.lock_holders(&p("/l")), vec![a]);
}

#[test]
fn flock_conflicts_between_two_descriptions_of_one_process() {
    for kind in [LockKind::Flock, LockKind::Ofd] {
        let mut s = sim(kind);
        s.write_file(&p("/l"));
        let a = s.spawn();
        let (f1, f2) = (open(&mut s, a, "/l"), open(&mut s, a, "/l"));
        assert_eq!(lock(&mut s, a, f1), Ok(()), "{kind:?}");
        assert_eq!(lock(&mut s, a, f2), Err(Errno::EWOULDBLOCK), "{kind:?}");
        // Re-locking what this description holds is fine.
        assert_eq!(lock(&mut s, a, f1), Ok(()), "{kind:?}");
        check(&mut s, a, Op::Unlock { fd: f1 }, Ok(()));
        assert_eq!(lock(&mut s, a, f2), Ok(()), "{kind:?}");
    }
}

#[test]
fn closing_any_fd_drops_posix_lock_but_not_a_description_lock() {
    for kind in KINDS {
        let mut s = sim(kind);
        s.write_file(&p("/l"));
        let (a, b) = (s.spawn(), s.spawn());
        let (locked, other) = (open(&mut s, a, "/l"), open(&mut s, a, "/l"));
        assert_eq!(lock(&mut s, a, locked), Ok(()));
        check(&mut s, a, Op::Close { fd: other }, Ok(()));
        let fb = open(&mut s, b, "/l");
        let want = if kind == LockKind::Posix { Ok(()) } else { Err(Errno::EWOULDBLOCK) };
        assert_eq!(lock(&mut s, b, fb), want, "{kind:?}");
    }
}

#[test]
fn unlock_and_close_release_the_lock_for_other_processes() {
    for kind in KINDS {
        let mut s = sim(kind);
        s.write_file(&p("/l"));
        let (a, b) = (s.spawn(), s.spawn());
        let (fa, fb) = (open(&mut s, a, "/l"), open(&mut s, b, "/l"));
        assert_eq!(lock(&mut s, a, fa), Ok(()));
        assert_eq!(lock(&mut s, b, fb), Err(Errno::EWOULDBLOCK), "{kind:?}");
        check(&mut s, a, Op::Unlock { fd: fa }, Ok(()));
        assert_eq!(lock(&mut s, b, fb), Ok(()), "{kind:?}");
        assert_eq!(lock(&mut s, a, fa), Err(Errno::EWOULDBLOCK), "{kind:?}");
        check(&mut s, b, Op::Close { fd: fb }, Ok(()));
        assert_eq!(lock(&mut s, a, fa), Ok(()), "{kind:?}");
        assert_eq!(s.lock_holders(&p("/l")), vec![a]);
    }
}

#[test]
fn lock_on_unlinked_inode_has_nlink_zero() {
    for kind in KINDS {
        let mut s = sim(kind);
        s.mkdir_all(&p("/r"));
        let (a, b) = (s.spawn(), s.spawn());
        let fa = fd(s.exec(a, &Op::CreateExcl { path: p("/r/x.lock") }));
        assert_eq!(lock(&mut s, a, fa), Ok(()));
        let before = ident(s.exec(a, &Op::FdIdentity { fd: fa }));
        assert_eq!(before.nlink, 1);
        check(&mut s, a, Op::Unlink { path: p("/r/x.lock") }, Ok(()));
        let after = ident(s.exec(a, &Op::FdIdentity { fd: fa }));
        assert_eq!((after.nlink, after.ino), (0, before.ino));
        // A new file under the same name is another inode with its own lock.
        let fb = fd(s.exec(b, &Op::CreateExcl { path: p("/r/x.lock") }));
        let fresh = ident(s.exec(b, &Op::FdIdentity { fd: fb }));
        assert!(!fresh.same_inode(&before), "{kind:?}: open inode reused");
        assert_eq!(lock(&mut s, b, fb), Ok(()), "{kind:?}");
        assert_eq!(lock(&mut s, a, fa), Ok(()), "{kind:?}: old lock lost");
        assert_eq!(s.lock_holders(&p("/r/x.lock")), vec![b]);
    }
}

#[test]
fn crash_releases_locks_descriptors_and_registry() {
    for kind in KINDS {
        let mut s = sim(kind);
        s.write_file(&p("/l"));
        let (a, b) = (s.spawn(), s.spawn());
        let fa = open(&mut s, a, "/l");
        assert_eq!(lock(&mut s, a, fa), Ok(()));
        check(&mut s, a, Op::Reserve { id: 7 }, Ok(()));
        check(&mut s, a, Op::Reserve { id: 7 }, Err(Errno::EBUSY));
        let fb = open(&mut s, b, "/l");
        assert_eq!(lock(&mut s, b, fb), Err(Errno::EWOULDBLOCK));
        s.crash(a);
        assert!(!s.is_alive(a));
        assert!(s.is_alive(b));
        assert_eq!(s.open_fds(a), 0);
        assert_eq!(s.lock_holders(&p("/l")), Vec::<Pid>::new());
        assert_eq!(lock(&mut s, b, fb), Ok(()), "{kind:?}");
        assert!(s.procs[0].reserved.is_empty());
    }
}

#[test]
fn registry_is_per_process() {
    let mut s = sim(LockKind::Posix);
    let (a, b) = (s.spawn(), s.spawn());
    check(&mut s, a, Op::Reserve { id: 1 }, Ok(()));
    check(&mut s, b, Op::Reserve { id: 1 }, Ok(()));
    check(&mut s, a, Op::Reserve { id: 1 }, Err(Errno::EBUSY));
    check(&mut s, a, Op::Release { id: 1 }, Ok(()));
    check(&mut s, a, Op::Release { id: 1 }, Ok(()));
    check(&mut s, a, Op::Reserve { id: 1 }, Ok(()));
}

#[test]
fn write_locks_need_a_writable_description() {
    for (kind, want) in [
        (LockKind::Flock, Ok(())),
        (LockKind::Ofd, Err(Errno::EBADF)),
        (LockKind::Posix, Err(Errno::EBADF)),
    ] {
        let mut s = sim(kind);
        s.mkdir_all(&p("/d"));
        let a = s.spawn();
        let d = fd(s.exec(a, &Op::OpenDir { path: p("/d") }));
        assert_eq!(lock(&mut s, a, d), want, "{kind:?}");
    }
}

#[test]
fn bad_descriptors_are_ebadf() {
    let mut s = sim(LockKind::Flock);
    let a = s.spawn();
    for op in [
        Op::TryLock { fd: 3 },
        Op::Unlock { fd: 0 },
        Op::FdIdentity { fd: 3 },
        Op::ReadDirNext { fd: 9 },
        Op::Fsync { fd: 3 },
        Op::Close { fd: 3 },
    ] {
        check(&mut s, a, op, Err(Errno::EBADF));
    }
}

// ---- faults and processes ---------------------------------------------------

#[test]
fn exec_fault_on_close_still_closes() {
    let mut s = sim(LockKind::Posix);
    s.write_file(&p("/l"));
    let (a, b) = (s.spawn(), s.spawn());
    let fa = open(&mut s, a, "/l");
    assert_eq!(lock(&mut s, a, fa), Ok(()));
    assert_eq!(s.exec_fault(a, &Op::Close { fd: fa }, Errno::EIO), Err(Errno::EIO));
    assert_eq!(s.open_fds(a), 0);
    check(&mut s, a, Op::FdIdentity { fd: fa }, Err(Errno::EBADF));
    let fb = open(&mut s, b, "/l");
    assert_eq!(lock(&mut s, b, fb), Ok(()));
}

#[test]
fn exec_fault_has_no_effect() {
    let mut s = sim(LockKind::Flock);
    s.mkdir_all(&p("/r"));
    let a = s.spawn();
    let before = s.clone();
    for op in [
        Op::Mkdir { path: p("/r/d") },
        Op::CreateExcl { path: p("/r/f") },
        Op::Rmdir { path: p("/r") },
        Op::DrawId,
        Op::Reserve { id: 3 },
    ] {
        assert_eq!(s.exec_fault(a, &op, Errno::ENOSPC), Err(Errno::ENOSPC));
    }
    assert_eq!(s, before);
    assert_eq!(s.exec(a, &Op::DrawId), Ok(Value::Id(1)));
}

#[test]
#[should_panic(expected = "dead")]
fn dead_process_takes_no_steps() {
    let mut s = sim(LockKind::Flock);
    let a = s.spawn();
    s.crash(a);
    let _ = s.exec(a, &Op::DrawId);
}

#[test]
fn descriptors_are_lowest_free_from_three() {
    let mut s = sim(LockKind::Flock);
    s.write_file(&p("/f"));
    let (a, b) = (s.spawn(), s.spawn());
    assert_eq!([open(&mut s, a, "/f"), open(&mut s, a, "/f"), open(&mut s, a, "/f")], [3, 4, 5]);
    assert_eq!(open(&mut s, b, "/f"), 3);
    check(&mut s, a, Op::Close { fd: 4 }, Ok(()));
    assert_eq!(open(&mut s, a, "/f"), 4);
    assert_eq!(s.open_fds(a), 3);
    check(&mut s, a, Op::Close { fd: 5 }, Ok(()));
    check(&mut s, a, Op::Close { fd: 5 }, Err(Errno::EBADF));
}

#[test]
fn draw_id_counts_then_wraps_in_a_small_space() {
    let mut s = sim(LockKind::Flock);
    let a = s.spawn();
    let draw = |s: &mut SimFs| match s.exec(a, &Op::DrawId) {
        Ok(Value::Id(id)) => id,
        other => panic!("{other:?}"),
    };
    assert_eq!([draw(&mut s), draw(&mut s)], [1, 2]);
    s.set_id_space(2);
    assert_eq!([draw(&mut s), draw(&mut s), draw(&mut s)], [0, 1, 0]);
}

// ---- namespace ---------------------------------------------------------------

#[test]
fn lowest_free_inode_reused() {
    let mut s = sim(LockKind::Flock);
    let a = s.spawn();
    s.write_file(&p("/a"));
    s.write_file(&p("/b"));
    let ino = |s: &SimFs, path: &str| s.lstat(&p(path)).expect("exists").ino;
    assert_eq!([ino(&s, "/"), ino(&s, "/a"), ino(&s, "/b")], [1, 2, 3]);
    // Unlinked but open: the number stays taken.
    let f = open(&mut s, a, "/a");
    check(&mut s, a, Op::Unlink { path: p("/a") }, Ok(()));
    s.write_file(&p("/c"));
    assert_eq!(ino(&s, "/c"), 4);
    // Last close frees it; the next inode takes the lowest free number.
    check(&mut s, a, Op::Close { fd: f }, Ok(()));
    check(&mut s, a, Op::Mkdir { path: p("/d") }, Ok(()));
    assert_eq!(ino(&s, "/d"), 2);
}

#[test]
fn freeing_the_highest_inode_gives_the_same_state_as_never_creating_it() {
    let mut s = sim(LockKind::Flock);
    let a = s.spawn();
    let fresh = s.clone();
    check(&mut s, a, Op::Mkdir { path: p("/d") }, Ok(()));
    check(&mut s, a, Op::Rmdir { path: p("/d") }, Ok(()));
    assert_eq!(s, fresh);
    assert_eq!(hash(&s), hash(&fresh));
}

#[test]
fn directory_nlink_counts_subdirectories() {
    let mut s = sim(LockKind::Flock);
    s.mkdir_all(&p("/d/x"));
    s.mkdir_all(&p("/d/y"));
    s.write_file(&p("/d/f"));
    assert_eq!(s.lstat(&p("/d")).map(|i| i.nlink), Some(4));
    assert_eq!(s.lstat(&p("/d/f")).map(|i| i.nlink), Some(1));
}

/// Each expected errno was also checked against Linux 6.x (`open(2)` with
/// the flags of each Op, `renameat2` with `RENAME_NOREPLACE`).
#[test]
fn namespace_errors_match_linux() {
    let mut s = sim(LockKind::Flock);
    s.mkdir_all(&p("/d/sub"));
    s.write_file(&p("/f"));
    let a = s.spawn();
    let cases = [
        (Op::Mkdir { path: p("/d") }, Errno::EEXIST),
        (Op::Mkdir { path: p("/f") }, Errno::EEXIST),
        (Op::Mkdir { path: p("/") }, Errno::EEXIST),
        (Op::Mkdir { path: p("/d/.") }, Errno::EEXIST),
        (Op::Rmdir { path: p("/d/sub/.") }, Errno::EINVAL),
        (Op::Rmdir { path: p("/d/sub/..") }, Errno::ENOTEMPTY),
        (Op::Unlink { path: p("/") }, Errno::EISDIR),
        (Op::CreateExcl { path: p("/") }, Errno::EEXIST),
        (Op::OpenCreate { path: p("/") }, Errno::EISDIR),
        (Op::Mkdir { path: p("/none/x") }, Errno::ENOENT),
        (Op::Mkdir { path: p("/f/x") }, Errno::ENOTDIR),
        (Op::Mkdir { path: p("rel") }, Errno::EINVAL),
        (Op::Mkdir { path: p("") }, Errno::ENOENT),
        (Op::Rmdir { path: p("/d") }, Errno::ENOTEMPTY),
        (Op::Rmdir { path: p("/f") }, Errno::ENOTDIR),
        (Op::Rmdir { path: p("/") }, Errno::EBUSY),
        (Op::Rmdir { path: p("/none") }, Errno::ENOENT),
        (Op::Unlink { path: p("/d") }, Errno::EISDIR),
        (Op::Unlink { path: p("/none") }, Errno::ENOENT),
        (Op::Unlink { path: p("/f/") }, Errno::ENOTDIR),
        (Op::Open { path: p("/d") }, Errno::EISDIR),
        (Op::Open { path: p("/none") }, Errno::ENOENT),
        (Op::OpenCreate { path: p("/d") }, Errno::EISDIR),
        (Op::CreateExcl { path: p("/d") }, Errno::EEXIST),
        (Op::CreateExcl { path: p("/f") }, Errno::EEXIST),
        (Op::CreateExcl { path: p("/new/") }, Errno::EISDIR),
        (Op::OpenDir { path: p("/f") }, Errno::ENOTDIR),
        (Op::OpenDir { path: p("/none") }, Errno::ENOENT),
        (Op::PathIdentity { path: p("/none") }, Errno::ENOENT),
        (Op::PathIdentity { path: p("/f/") }, Errno::ENOTDIR),
        (Op::PathIdentity { path: p(&format!("/{}", "n".repeat(256))) }, Errno::ENAMETOOLONG),
    ];
    for (op, errno) in cases {
        check(&mut s, a, op, Err(errno));
    }
    // None of those changed anything.
    assert_eq!(
        s.tree(&p("/")),
        vec![(p("/d"), FileKind::Dir), (p("/d/sub"), FileKind::Dir), (p("/f"), FileKind::File)]
    );
}

#[test]
fn open_create_makes_a_missing_file_and_opens_an_existing_one() {
    let mut s = sim(LockKind::Flock);
    let a = s.spawn();
    let f1 = fd(s.exec(a, &Op::OpenCreate { path: p("/f") }));
    let f2 = fd(s.exec(a, &Op::OpenCreate { path: p("/f") }));
    let i1 = ident(s.exec(a, &Op::FdIdentity { fd: f1 }));
    let i2 = ident(s.exec(a, &Op::FdIdentity { fd: f2 }));
    assert!(i1.same_inode(&i2));
    assert_eq!(i1.kind, FileKind::File);
}

#[test]
fn final_symlink_is_never_followed() {
    let mut s = sim(LockKind::Flock);
    s.write_file(&p("/t"));
    s.mkdir_all(&p("/dir"));
    s.symlink(&p("/s"), &p("/t"));
    s.symlink(&p("/sd"), &p("/dir"));
    let a = s.spawn();
    check(&mut s, a, Op::CreateExcl { path: p("/s") }, Err(Errno::EEXIST));
    check(&mut s, a, Op::Open { path: p("/s") }, Err(Errno::ELOOP));
    check(&mut s, a, Op::OpenCreate { path: p("/s") }, Err(Errno::ELOOP));
    check(&mut s, a, Op::OpenDir { path: p("/sd") }, Err(Errno::ENOTDIR));
    check(&mut s, a, Op::Rmdir { path: p("/sd") }, Err(Errno::ENOTDIR));
    assert_eq!(ident(s.exec(a, &Op::PathIdentity { path: p("/s") })).kind, FileKind::Symlink);
    assert!(!s.last_followed_symlink());
    check(&mut s, a, Op::Unlink { path: p("/sd") }, Ok(()));
    assert_eq!(s.list(&p("/dir")), vec![]);
    assert!(s.exists(&p("/dir")));
    assert!(!s.exists(&p("/sd")));
}

#[test]
fn intermediate_symlink_is_followed_and_reported() {
    let mut s = sim(LockKind::Flock);
    s.mkdir_all(&p("/real"));
    s.write_file(&p("/real/f"));
    s.symlink(&p("/abs"), &p("/real"));
    s.symlink(&p("/real/rel"), &p("../real"));
    let a = s.spawn();
    let direct = ident(s.exec(a, &Op::PathIdentity { path: p("/real/f") }));
    assert!(!s.last_followed_symlink());
    for via in ["/abs/f", "/real/rel/f", "/abs/rel/rel/f"] {
        let seen = ident(s.exec(a, &Op::PathIdentity { path: p(via) }));
        assert!(seen.same_inode(&direct), "{via}");
        assert!(s.last_followed_symlink(), "{via}");
    }
    check(&mut s, a, Op::Mkdir { path: p("/abs/new") }, Ok(()));
    assert!(s.last_followed_symlink());
    assert!(s.exists(&p("/real/new")));
    check(&mut s, a, Op::DrawId, Ok(()));
    assert!(!s.last_followed_symlink());
}

#[test]
fn last_followed_symlink_is_not_part_of_the_state() {
    let mut s = sim(LockKind::Flock);
    s.mkdir_all(&p("/real"));
    s.symlink(&p("/abs"), &p("/real"));
    let a = s.spawn();
    let mut t = s.clone();
    let _ = s.exec(a, &Op::PathIdentity { path: p("/abs/.") });
    let _ = t.exec(a, &Op::PathIdentity { path: p("/real") });
    assert_ne!(s.last_followed_symlink(), t.last_followed_symlink());
    assert_eq!(s, t);
    assert_eq!(hash(&s), hash(&t));
}

#[test]
fn symlink_loop_is_eloop() {
    let mut s = sim(LockKind::Flock);
    s.symlink(&p("/a"), &p("/b"));
    s.symlink(&p("/b"), &p("a"));
    let a = s.spawn();
    check(&mut s, a, Op::PathIdentity { path: p("/a/x") }, Err(Errno::ELOOP));
    check(&mut s, a, Op::Mkdir { path: p("/b/x") }, Err(Errno::ELOOP));
}

#[test]
fn dot_dot_is_physical() {
    let mut s = sim(LockKind::Flock);
    s.mkdir_all(&p("/x/y"));
    s.mkdir_all(&p("/z"));
    s.symlink(&p("/z/link"), &p("/x/y"));
    let a = s.spawn();
    // /z/link/.. is /x (the parent of what the link points at), not /z.
    let parent = ident(s.exec(a, &Op::PathIdentity { path: p("/z/link/..") }));
    assert_eq!(Some(parent), s.lstat(&p("/x")));
    assert_eq!(s.lstat(&p("/..")), s.lstat(&p("/")));
}

// ---- rename -----------------------------------------------------------------

#[test]
fn rename_is_noreplace_and_moves_whole_subtrees() {
    let mut s = sim(LockKind::Flock);
    s.mkdir_all(&p("/a/sub"));
    s.write_file(&p("/a/sub/f"));
    s.mkdir_all(&p("/b"));
    s.write_file(&p("/taken"));
    let a = s.spawn();
    let before = s.lstat(&p("/a/sub/f"));
    let r = |from: &str, to: &str| Op::Rename { from: p(from), to: p(to) };
    check(&mut s, a, r("/a", "/taken"), Err(Errno::EEXIST));
    check(&mut s, a, r("/a", "/b"), Err(Errno::EEXIST));
    check(&mut s, a, r("/none", "/x"), Err(Errno::ENOENT));
    check(&mut s, a, r("/a", "/a/sub/a"), Err(Errno::EINVAL));
    check(&mut s, a, r("/a", "/a/a"), Err(Errno::EINVAL));
    check(&mut s, a, r("/taken", "/x/"), Err(Errno::ENOTDIR));
    check(&mut s, a, r("/", "/x"), Err(Errno::EBUSY));
    check(&mut s, a, r("/a/sub/..", "/x"), Err(Errno::EBUSY));
    check(&mut s, a, r("/taken", "/"), Err(Errno::EEXIST));
    check(&mut s, a, r("/taken", "/taken"), Err(Errno::EEXIST));
    check(&mut s, a, r("/a", "/b/a"), Ok(()));
    assert!(!s.exists(&p("/a")));
    assert_eq!(s.lstat(&p("/b/a/sub/f")), before);
    // The moved directory's `..` is its new parent.
    assert_eq!(s.lstat(&p("/b/a/..")), s.lstat(&p("/b")));
    assert_eq!(s.lstat(&p("/b")).map(|i| i.nlink), Some(3));
}

#[test]
fn rename_across_mount_is_exdev() {
    let mut s = sim(LockKind::Flock);
    s.mkdir_all(&p("/m"));
    s.mount(&p("/m"));
    s.mkdir_all(&p("/m/in"));
    s.write_file(&p("/out"));
    let a = s.spawn();
    assert_eq!(s.lstat(&p("/m")).map(|i| i.dev), Some(2));
    assert_eq!(s.lstat(&p("/m/in")).map(|i| i.dev), Some(2));
    assert_eq!(s.lstat(&p("/out")).map(|i| i.dev), Some(1));
    let r = |from: &str, to: &str| Op::Rename { from: p(from), to: p(to) };
    check(&mut s, a, r("/out", "/m/out"), Err(Errno::EXDEV));
    check(&mut s, a, r("/m/in", "/in"), Err(Errno::EXDEV));
    check(&mut s, a, r("/none", "/m/x"), Err(Errno::EXDEV));
    assert!(s.exists(&p("/out")));
    check(&mut s, a, r("/m/in", "/m/in2"), Ok(()));
    check(&mut s, a, r("/m/in2", "/m/in2/x"), Err(Errno::EINVAL));
}

#[test]
fn mount_point_cannot_be_removed_or_renamed() {
    let mut s = sim(LockKind::Flock);
    s.mkdir_all(&p("/t/m"));
    s.mount(&p("/t/m"));
    let a = s.spawn();
    check(&mut s, a, Op::Rmdir { path: p("/t/m") }, Err(Errno::EBUSY));
    check(&mut s, a, Op::Unlink { path: p("/t/m") }, Err(Errno::EISDIR));
    check(&mut s, a, Op::Rename { from: p("/t/m"), to: p("/t/n") }, Err(Errno::EBUSY));
    // The tree holding a mount moves with it (same device at the top).
    check(&mut s, a, Op::Rename { from: p("/t"), to: p("/u") }, Ok(()));
    assert_eq!(s.lstat(&p("/u/m")).map(|i| i.dev), Some(2));
    check(&mut s, a, Op::Rmdir { path: p("/u") }, Err(Errno::ENOTEMPTY));
}

// ---- directory streams -----------------------------------------------------

fn read_all(s: &mut SimFs, pid: Pid, fd: Fd) -> Vec<String> {
    std::iter::from_fn(|| entry(s.exec(pid, &Op::ReadDirNext { fd }))).collect()
}

#[test]
fn readdir_sees_entry_created_after_cursor_but_not_before() {
    for (order, first, created, want) in [
        (ReaddirOrder::Name, "b", ["a", "c"], ["b", "c", "d"]),
        (ReaddirOrder::ReverseName, "d", ["e", "c"], ["d", "c", "b"]),
    ] {
        let mut s = SimFs::new(LockKind::Flock, order);
        s.mkdir_all(&p("/d"));
        s.write_file(&p("/d/b"));
        s.write_file(&p("/d/d"));
        let a = s.spawn();
        let d = fd(s.exec(a, &Op::OpenDir { path: p("/d") }));
        assert_eq!(entry(s.exec(a, &Op::ReadDirNext { fd: d })).as_deref(), Some(first));
        for name in created {
            s.write_file(&Path::new("/d").join(name));
        }
        let mut seen = vec![first.to_string()];
        seen.extend(read_all(&mut s, a, d));
        assert_eq!(seen, want, "{order:?}");
        // At the end, the stream stays at the end.
        assert_eq!(entry(s.exec(a, &Op::ReadDirNext { fd: d })), None);
    }
}

#[test]
fn readdir_skips_entry_removed_before_the_cursor_reaches_it() {
    let mut s = sim(LockKind::Flock);
    s.mkdir_all(&p("/d/sub"));
    s.write_file(&p("/d/a"));
    s.write_file(&p("/d/z"));
    s.symlink(&p("/d/l"), &p("/nowhere"));
    let a = s.spawn();
    let d = fd(s.exec(a, &Op::OpenDir { path: p("/d") }));
    assert_eq!(
        s.exec(a, &Op::ReadDirNext { fd: d }),
        Ok(Value::Entry(Some(DirEntry { name: "a".into(), kind: FileKind::File })))
    );
    check(&mut s, a, Op::Unlink { path: p("/d/l") }, Ok(()));
    assert_eq!(
        s.exec(a, &Op::ReadDirNext { fd: d }),
        Ok(Value::Entry(Some(DirEntry { name: "sub".into(), kind: FileKind::Dir })))
    );
    assert_eq!(read_all(&mut s, a, d), ["z"]);
}

#[test]
fn symlink_entries_report_symlink_kind() {
    let mut s = sim(LockKind::Flock);
    s.mkdir_all(&p("/d/x"));
    s.symlink(&p("/e"), &p("/d"));
    assert_eq!(
        s.list(&p("/")),
        vec![("d".to_string(), FileKind::Dir), ("e".to_string(), FileKind::Symlink)]
    );
    assert_eq!(s.list(&p("/e")), vec![]);
    let a = s.spawn();
    let d = fd(s.exec(a, &Op::OpenDir { path: p("/") }));
    assert_eq!(read_all(&mut s, a, d), ["d", "e"]);
}

#[test]
fn stream_on_removed_directory_ends() {
    let mut s = sim(LockKind::Flock);
    s.mkdir_all(&p("/d"));
    let a = s.spawn();
    let d = fd(s.exec(a, &Op::OpenDir { path: p("/d") }));
    check(&mut s, a, Op::Rmdir { path: p("/d") }, Ok(()));
    assert_eq!(entry(s.exec(a, &Op::ReadDirNext { fd: d })), None);
    let gone = ident(s.exec(a, &Op::FdIdentity { fd: d }));
    assert_eq!((gone.nlink, gone.kind), (0, FileKind::Dir));
    check(&mut s, a, Op::Fsync { fd: d }, Ok(()));
    check(&mut s, a, Op::Close { fd: d }, Ok(()));
    s.write_file(&p("/f"));
    assert_eq!(s.lstat(&p("/f")).map(|i| i.ino), Some(gone.ino));
}

#[test]
fn readdir_on_a_file_descriptor_is_enotdir() {
    let mut s = sim(LockKind::Flock);
    s.write_file(&p("/f"));
    let a = s.spawn();
    let f = open(&mut s, a, "/f");
    check(&mut s, a, Op::ReadDirNext { fd: f }, Err(Errno::ENOTDIR));
}

// ---- determinism -------------------------------------------------------------

#[test]
fn same_calls_give_equal_states() {
    let run = || {
        let mut s = sim(LockKind::Ofd);
        s.mkdir_all(&p("/r"));
        let a = s.spawn();
        let f = fd(s.exec(a, &Op::CreateExcl { path: p("/r/l") }));
        let _ = s.exec(a, &Op::TryLock { fd: f });
        let _ = s.exec(a, &Op::Mkdir { path: p("/r/d") });
        s
    };
    let (x, y) = (run(), run());
    assert_eq!(x, y);
    assert_eq!(hash(&x), hash(&y));
    assert_eq!(format!("{x:?}"), format!("{y:?}"));
    let mut z = x.clone();
    let _ = z.exec(1, &Op::Unlock { fd: 3 });
    assert_ne!(x, z);
}

/// A tiny deterministic generator (xorshift), so the test needs no crate.
struct Gen(u64);

impl Gen {
    fn pick(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// Many states reached by random steps of two processes (and crashes).
fn random_states(kind: LockKind, seed: u64, steps: usize) -> Vec<SimFs> {
    const PATHS: [&str; 5] = ["/a", "/b", "/a/x", "/b/y", "/l"];
    let mut g = Gen(seed);
    let mut s = sim(kind);
    s.symlink(&p("/l"), &p("/a"));
    let _ = (s.spawn(), s.spawn());
    s.set_id_space(3);
    let mut out = vec![s.clone()];
    for _ in 0..steps {
        let pid = 1 + g.pick(2) as Pid;
        if !s.is_alive(pid) {
            continue;
        }
        let path = p(PATHS[g.pick(PATHS.len())]);
        let fd = 3 + g.pick(3) as Fd;
        let op = match g.pick(14) {
            0 => Op::CreateExcl { path },
            1 => Op::Open { path },
            2 => Op::OpenDir { path },
            3 => Op::Mkdir { path },
            4 => Op::Unlink { path },
            5 => Op::Rmdir { path },
            6 => Op::Rename { from: path, to: p(PATHS[g.pick(PATHS.len())]) },
            7 => Op::TryLock { fd },
            8 => Op::Unlock { fd },
            9 => Op::ReadDirNext { fd },
            10 => Op::Close { fd },
            11 => Op::DrawId,
            12 => Op::Reserve { id: g.pick(2) as u128 },
            _ => Op::Release { id: g.pick(2) as u128 },
        };
        let _ = s.exec(pid, &op);
        if g.pick(60) == 0 {
            s.crash(pid);
        }
        out.push(s.clone());
    }
    out
}

#[test]
fn hash_agrees_with_eq_on_many_states() {
    let mut states = Vec::new();
    for (i, kind) in KINDS.into_iter().enumerate() {
        for seed in 1..=4 {
            states.extend(random_states(kind, seed * 7919 + i as u64, 150));
        }
    }
    let hashes: Vec<u64> = states.iter().map(hash).collect();
    let (mut equal_pairs, mut distinct) = (0, std::collections::HashSet::new());
    for (i, a) in states.iter().enumerate() {
        for (j, b) in states.iter().enumerate().skip(i + 1) {
            // Equal states hash equally; distinct ones (here) never collide.
            assert_eq!(a == b, hashes[i] == hashes[j], "states {i} and {j}");
            equal_pairs += usize::from(a == b);
        }
        distinct.insert(hashes[i]);
    }
    // The sample really has both repeated and many different states.
    assert!(equal_pairs > 0);
    assert!(distinct.len() > 200, "{} of {}", distinct.len(), states.len());
}

#[test]
fn hash_tells_apart_states_that_differ_in_one_field() {
    // Each case: one base state and two different steps from it, which
    // change exactly one field (cursor, lock owner, registry, id counter...).
    let base = |kind| {
        let mut s = sim(kind);
        s.write_file(&p("/a"));
        s.write_file(&p("/b"));
        let (a, _) = (s.spawn(), s.spawn());
        let (_, _) = (open(&mut s, a, "/a"), open(&mut s, a, "/b"));
        let _ = fd(s.exec(a, &Op::OpenDir { path: p("/") }));
        s
    };
    let cases: [(LockKind, Op, Op); 7] = [
        (LockKind::Flock, Op::Open { path: p("/a") }, Op::Open { path: p("/b") }),
        (LockKind::Flock, Op::ReadDirNext { fd: 5 }, Op::DrawId),
        (LockKind::Posix, Op::TryLock { fd: 3 }, Op::TryLock { fd: 4 }),
        (LockKind::Ofd, Op::TryLock { fd: 3 }, Op::TryLock { fd: 4 }),
        (LockKind::Flock, Op::Reserve { id: 1 }, Op::Reserve { id: 2 }),
        (LockKind::Flock, Op::DrawId, Op::Fsync { fd: 3 }),
        (LockKind::Flock, Op::Close { fd: 3 }, Op::Close { fd: 4 }),
    ];
    for (kind, x, y) in cases {
        let (mut s, mut t) = (base(kind), base(kind));
        s.exec(1, &x).expect("x");
        t.exec(1, &y).expect("y");
        assert_ne!(s, t, "{x} / {y}");
        assert_ne!(hash(&s), hash(&t), "{x} / {y}");
    }
    // The cursor alone: one more entry read.
    let mut s = base(LockKind::Flock);
    let _ = s.exec(1, &Op::ReadDirNext { fd: 5 });
    let mut t = s.clone();
    let _ = t.exec(1, &Op::ReadDirNext { fd: 5 });
    assert_ne!(hash(&s), hash(&t));
    // Namespace fields, each the only difference between two states.
    type Setup = fn(&mut SimFs);
    let pairs: [(Setup, Setup); 6] = [
        // Same names, inode numbers swapped.
        (
            |s| (s.write_file(&p("/a")), s.write_file(&p("/b"))).1,
            |s| (s.write_file(&p("/b")), s.write_file(&p("/a"))).1,
        ),
        // Same inode, in another directory.
        (
            |s| (s.mkdir_all(&p("/a")), s.mkdir_all(&p("/b")), s.write_file(&p("/a/x"))).2,
            |s| (s.mkdir_all(&p("/a")), s.mkdir_all(&p("/b")), s.write_file(&p("/b/x"))).2,
        ),
        (|s| s.symlink(&p("/s"), &p("/a")), |s| s.symlink(&p("/s"), &p("/b"))),
        // Mount order: only the device numbers differ.
        (
            |s| {
                (s.mkdir_all(&p("/m")), s.mkdir_all(&p("/n")), s.mount(&p("/m")), s.mount(&p("/n")))
                    .3
            },
            |s| {
                (s.mkdir_all(&p("/m")), s.mkdir_all(&p("/n")), s.mount(&p("/n")), s.mount(&p("/m")))
                    .3
            },
        ),
        // A removed directory kept open: only its old parent differs.
        (
            |s| {
                s.mkdir_all(&p("/a"));
                s.mkdir_all(&p("/b"));
                s.mkdir_all(&p("/a/d"));
                let _ = s.exec(1, &Op::OpenDir { path: p("/a/d") });
                let _ = s.exec(1, &Op::Rmdir { path: p("/a/d") });
            },
            |s| {
                s.mkdir_all(&p("/a"));
                s.mkdir_all(&p("/b"));
                s.mkdir_all(&p("/b/d"));
                let _ = s.exec(1, &Op::OpenDir { path: p("/b/d") });
                let _ = s.exec(1, &Op::Rmdir { path: p("/b/d") });
            },
        ),
        (|s| s.set_id_space(2), |s| s.set_id_space(3)),
    ];
    for (i, (x, y)) in pairs.into_iter().enumerate() {
        let (mut s, mut t) = (sim(LockKind::Flock), sim(LockKind::Flock));
        s.spawn();
        t.spawn();
        x(&mut s);
        y(&mut t);
        assert_ne!(s, t, "pair {i}");
        assert_ne!(hash(&s), hash(&t), "pair {i}");
    }
    // Alive or dead, with nothing else different.
    let (mut s, mut t) = (sim(LockKind::Flock), sim(LockKind::Flock));
    s.spawn();
    t.spawn();
    s.crash(1);
    assert_ne!(hash(&s), hash(&t));
}

// ---- the protocol on the simulation ----------------------------------------------

mod protocol_runs {
    use super::*;
    use crate::protocol::cleanup::Cleanup;
    use crate::protocol::create::{Create, Held};
    use crate::protocol::recover::{Recover, Report};
    use crate::protocol::stage::Stage;
    use crate::protocol::{run, Config, Error, Machine};

    fn world(kind: LockKind) -> SimFs {
        let mut s = sim(kind);
        s.mkdir_all(&p("/store/staging"));
        s.mkdir_all(&p("/store/layers/l1/etc"));
        s.write_file(&p("/store/layers/l1/etc/passwd"));
        s.symlink(&p("/store/layers/l1/escape"), &p("/store/layers"));
        s
    }

    fn create(s: &mut SimFs, pid: Pid) -> Held {
        run(Create::new(p("/store/staging"), Config::reference()), &mut SimProcess { sim: s, pid })
            .expect("create")
    }

    fn stage(s: &mut SimFs, pid: Pid, held: &mut Held, item: &str) -> Result<PathBuf, Error> {
        let r = run(Stage::new(held, &p(item)), &mut SimProcess { sim: s, pid });
        if r.is_ok() {
            held.staged += 1;
        }
        r
    }

    fn recover(s: &mut SimFs, pid: Pid) -> Report {
        run(Recover::new(p("/store/staging"), Config::reference()), &mut SimProcess { sim: s, pid })
            .expect("recover")
    }

    #[test]
    fn create_stage_cleanup_leaves_nothing_behind() {
        for kind in KINDS {
            let mut s = world(kind);
            let a = s.spawn();
            let mut held = create(&mut s, a);
            let lock = crate::protocol::layout::lock_path(&p("/store/staging"), held.id);
            assert_eq!(s.lock_holders(&lock), vec![a], "{kind:?}");
            let to = stage(&mut s, a, &mut held, "/store/layers/l1").expect("stage");
            assert!(s.exists(&to.join("etc/passwd")));
            assert!(!s.exists(&p("/store/layers/l1")));
            assert_eq!(s.tree(&p("/store/staging")).len(), 6, "{kind:?}");
            run(Cleanup::new(held, Config::reference()), &mut SimProcess { sim: &mut s, pid: a })
                .expect("cleanup");
            assert_eq!(s.tree(&p("/store/staging")), vec![], "{kind:?}");
            // The symlink was removed, not followed: its target survives.
            assert_eq!(
                s.tree(&p("/store")),
                vec![(p("/store/layers"), FileKind::Dir), (p("/store/staging"), FileKind::Dir),]
            );
            assert_eq!(s.open_fds(a), 0);
            // Every inode of the instance and the staged tree was freed: the
            // namespace is exactly one that never held them.
            let mut empty = sim(kind);
            empty.mkdir_all(&p("/store/staging"));
            empty.mkdir_all(&p("/store/layers"));
            assert_eq!(s.ns, empty.ns, "{kind:?}");
            assert_eq!(*s.procs[0], procs::Proc::new(), "{kind:?}");
        }
    }

    #[test]
    fn recovery_reclaims_after_the_owner_crashes_mid_cleanup() {
        for kind in KINDS {
            let mut s = world(kind);
            let (a, b) = (s.spawn(), s.spawn());
            let mut held = create(&mut s, a);
            let id = held.id;
            stage(&mut s, a, &mut held, "/store/layers/l1").expect("stage");
            // Cleanup gets three steps in (lstat, opendir, readdir), then dies.
            let mut m = Cleanup::new(held, Config::reference());
            for _ in 0..3 {
                let op = m.op().expect("cleanup step");
                let r = s.exec(a, &op);
                m.feed(r);
            }
            s.crash(a);
            let report = recover(&mut s, b);
            assert_eq!(report.reclaimed, vec![id], "{kind:?}");
            assert!(report.errors.is_empty(), "{kind:?}: {:?}", report.errors);
            assert_eq!(s.tree(&p("/store/staging")), vec![], "{kind:?}");
            assert_eq!(s.open_fds(b), 0);
            // Recovery never walked through the symlink it removed.
            assert!(s.exists(&p("/store/layers")));
        }
    }

    #[test]
    fn recovery_skips_a_live_owner() {
        for kind in KINDS {
            let mut s = world(kind);
            let (a, b) = (s.spawn(), s.spawn());
            let mut held = create(&mut s, a);
            stage(&mut s, a, &mut held, "/store/layers/l1").expect("stage");
            let before = s.tree(&p("/store/staging"));
            let report = recover(&mut s, b);
            assert_eq!(report.live, vec![held.id], "{kind:?}");
            assert_eq!(report.reclaimed, Vec::<u128>::new());
            assert_eq!(s.tree(&p("/store/staging")), before, "{kind:?}");
        }
    }

    #[test]
    fn a_thread_of_the_owner_skips_it_under_posix_locks() {
        // Same pid = same process: only the registry keeps recovery off.
        let mut s = world(LockKind::Posix);
        let a = s.spawn();
        let held = create(&mut s, a);
        let report = recover(&mut s, a);
        assert_eq!(report.live, vec![held.id]);
        assert!(s.exists(&crate::protocol::layout::data_path(&p("/store/staging"), held.id)));
    }

    #[test]
    fn staging_across_a_mount_is_exdev_and_leaves_the_item() {
        let mut s = world(LockKind::Flock);
        s.mkdir_all(&p("/other"));
        s.mount(&p("/other"));
        s.write_file(&p("/other/item"));
        let a = s.spawn();
        let mut held = create(&mut s, a);
        let err = stage(&mut s, a, &mut held, "/other/item").expect_err("EXDEV");
        assert_eq!(err.errno(), Errno::EXDEV);
        assert!(s.exists(&p("/other/item")));
        assert_eq!(held.staged, 0);
    }

    #[test]
    fn cleanup_of_a_tree_with_a_mount_keeps_the_lock() {
        let mut s = world(LockKind::Ofd);
        s.mkdir_all(&p("/store/layers/l1/proc"));
        s.mount(&p("/store/layers/l1/proc"));
        let a = s.spawn();
        let mut held = create(&mut s, a);
        let lock = crate::protocol::layout::lock_path(&p("/store/staging"), held.id);
        stage(&mut s, a, &mut held, "/store/layers/l1").expect("a tree holding a mount moves");
        let r =
            run(Cleanup::new(held, Config::reference()), &mut SimProcess { sim: &mut s, pid: a });
        let (held, err) = r.expect_err("EBUSY");
        assert_eq!(err.errno(), Errno::EBUSY);
        assert_eq!(s.lock_holders(&lock), vec![a]);
        assert!(s.exists(
            &crate::protocol::layout::data_path(&p("/store/staging"), held.id).join("0-l1/proc")
        ));
    }
}

#[test]
fn crash_with_two_descriptions_of_one_unlinked_inode_frees_it_once() {
    let mut s = sim(LockKind::Flock);
    let a = s.spawn();
    s.mkdir_all(&p("/r"));
    check(&mut s, a, Op::CreateExcl { path: p("/r/l") }, Ok(()));
    check(&mut s, a, Op::Open { path: p("/r/l") }, Ok(()));
    check(&mut s, a, Op::Unlink { path: p("/r/l") }, Ok(()));
    let empty = { let mut e = sim(LockKind::Flock); e.spawn(); e.mkdir_all(&p("/r")); e.crash(a); e };
    s.crash(a);
    assert_eq!(s.list(&p("/r")), vec![]);
    assert_eq!(s, empty, "the unlinked inode is freed with its last description");
}

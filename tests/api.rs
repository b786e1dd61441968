//! The public API on the real filesystem, one property a test.

use std::fs;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use stagedir::fs::{id_hex, Errno, Fs, Op, OpResult, Value};
use stagedir::protocol::{self, Config};
use stagedir::{Error, Liveness, Options, RealFs, StagingRoot};

/// A scratch directory with `root` (the staging root, not yet created) and
/// `src` (where items to stage live), both on the same filesystem.
struct Scratch {
    _dir: tempfile::TempDir,
    root: PathBuf,
    src: PathBuf,
}

fn scratch() -> Scratch {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let src = dir.path().join("src");
    fs::create_dir(&src).unwrap();
    Scratch { root, src, _dir: dir }
}

/// Names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

/// Whether someone holds the flock on `path`, seen through a new open file
/// description (std's `try_lock` is flock(2) on Linux).
#[track_caller]
fn is_locked(path: &Path) -> bool {
    let f = File::options().read(true).write(true).open(path).unwrap();
    match f.try_lock() {
        Ok(()) => false,
        Err(fs::TryLockError::WouldBlock) => true,
        Err(e) => panic!("try_lock {}: {e:?}", path.display()),
    }
}

fn write_tree(at: &Path) {
    fs::create_dir_all(at.join("sub/deeper")).unwrap();
    fs::write(at.join("a.txt"), b"alpha").unwrap();
    fs::write(at.join("sub/b.txt"), b"beta").unwrap();
    fs::write(at.join("sub/deeper/c.txt"), b"gamma").unwrap();
}

fn open_count(root: &StagingRoot) -> usize {
    root.with_backend(|fs| fs.open_count())
}

fn no_registry() -> Options {
    Options { create_root: true, config: Config { use_registry: false, ..Config::reference() } }
}

// ---------------------------------------------------------------- open

#[test]
fn open_creates_missing_root_with_mode_0700() {
    let s = scratch();
    let root = StagingRoot::open(&s.root).unwrap();
    let meta = fs::symlink_metadata(&s.root).unwrap();
    assert!(meta.is_dir());
    assert_eq!(meta.permissions().mode() & 0o7777, 0o700);
    assert_eq!(root.path(), s.root);
}

#[test]
fn open_keeps_an_existing_root_and_its_contents() {
    let s = scratch();
    fs::create_dir(&s.root).unwrap();
    fs::set_permissions(&s.root, fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(s.root.join("keep"), b"x").unwrap();
    StagingRoot::open(&s.root).unwrap();
    assert_eq!(names(&s.root), ["keep"]);
    assert_eq!(fs::metadata(&s.root).unwrap().permissions().mode() & 0o7777, 0o755);
}

#[test]
fn open_refuses_symlink_root() {
    let s = scratch();
    let target = s.src.join("elsewhere");
    fs::create_dir(&target).unwrap();
    std::os::unix::fs::symlink(&target, &s.root).unwrap();
    let err = StagingRoot::open(&s.root).unwrap_err();
    assert_eq!(err.errno(), Errno::ELOOP);
    let msg = err.to_string();
    assert!(msg.contains(&s.root.display().to_string()), "{msg}");
    assert!(msg.contains("symbolic link"), "{msg}");
    assert!(fs::symlink_metadata(&s.root).unwrap().file_type().is_symlink());
}

#[test]
fn open_refuses_regular_file_root() {
    let s = scratch();
    fs::write(&s.root, b"not a dir").unwrap();
    let err = StagingRoot::open(&s.root).unwrap_err();
    assert_eq!(err.errno(), Errno::ENOTDIR);
    assert!(err.to_string().contains(&s.root.display().to_string()));
    assert_eq!(fs::read(&s.root).unwrap(), b"not a dir");
}

#[test]
fn open_with_missing_parent_is_enoent_naming_root() {
    let s = scratch();
    let root = s.root.join("missing-parent/root");
    let err = StagingRoot::open(&root).unwrap_err();
    assert_eq!(err.errno(), Errno::ENOENT);
    assert!(err.to_string().contains(&root.display().to_string()), "{err}");
}

#[test]
fn open_existing_refuses_missing_root_without_creating_it() {
    let s = scratch();
    let err = StagingRoot::open_existing(&s.root).unwrap_err();
    assert_eq!(err.errno(), Errno::ENOENT);
    assert!(!s.root.exists());
}

// ---------------------------------------------------------------- create

#[test]
fn create_instance_holds_a_verified_lock_before_data_exists() {
    let s = scratch();
    let root = StagingRoot::open(&s.root).unwrap();
    let inst = root.create_instance().unwrap();
    let hex = id_hex(inst.id());
    assert_eq!(names(&s.root), [format!("{hex}.data"), format!("{hex}.lock")]);
    assert!(fs::symlink_metadata(inst.lock_file()).unwrap().is_file());
    let data = fs::symlink_metadata(inst.data_dir()).unwrap();
    assert!(data.is_dir());
    assert_eq!(data.permissions().mode() & 0o7777, 0o700);
    assert!(is_locked(&inst.lock_file()));
    assert!(stagedir::RealFs::is_reserved(inst.id()));
    assert_eq!(open_count(&root), 1);
}

#[test]
fn create_instance_gives_each_instance_its_own_id() {
    let s = scratch();
    let root = StagingRoot::open(&s.root).unwrap();
    let a = root.create_instance().unwrap();
    let b = root.create_instance().unwrap();
    assert_ne!(a.id(), b.id());
    assert_eq!(names(&s.root).len(), 4);
    assert_eq!(open_count(&root), 2);
}

#[test]
fn create_fails_with_enoent_when_root_was_removed() {
    let s = scratch();
    let root = StagingRoot::open(&s.root).unwrap();
    fs::remove_dir(&s.root).unwrap();
    let err = root.create_instance().unwrap_err();
    assert_eq!(err.errno(), Errno::ENOENT);
    assert!(err.to_string().contains(&s.root.display().to_string()), "{err}");
    assert_eq!(open_count(&root), 0);
}

/// A backend whose id source always draws the same id.
struct FixedId(RealFs, u128);

impl Fs for FixedId {
    fn execute(&mut self, op: &Op) -> OpResult {
        match op {
            Op::DrawId => Ok(Value::Id(self.1)),
            _ => self.0.execute(op),
        }
    }
}

#[test]
fn create_gives_up_after_attempts_max_taken_ids() {
    let s = scratch();
    let id = 0xfeed_u128;
    let root = StagingRoot::open_with(&s.root, FixedId(RealFs::new(), id), Options::default()).unwrap();
    fs::write(s.root.join(format!("{}.lock", id_hex(id))), b"").unwrap();
    let err = root.create_instance().unwrap_err();
    match &err {
        Error::Protocol(protocol::Error::AttemptsExhausted { attempts, .. }) => {
            assert_eq!(*attempts, Config::ATTEMPTS_MAX_DEFAULT)
        }
        e => panic!("{e:?}"),
    }
    assert_eq!(err.errno(), Errno::EEXIST);
    assert!(!stagedir::RealFs::is_reserved(id), "each failed attempt releases its reservation");
    assert_eq!(names(&s.root), [format!("{}.lock", id_hex(id))]);
}

#[test]
fn create_never_adopts_an_existing_data_directory() {
    let s = scratch();
    let id = 0xda7a_u128;
    let root = StagingRoot::open_with(&s.root, FixedId(RealFs::new(), id), Options::default()).unwrap();
    let orphan = s.root.join(format!("{}.data", id_hex(id)));
    fs::create_dir(&orphan).unwrap();
    fs::write(orphan.join("theirs"), b"x").unwrap();
    let err = root.create_instance().unwrap_err();
    assert!(matches!(err, Error::Protocol(protocol::Error::AttemptsExhausted { .. })), "{err}");
    // Every attempt made the lock, found the data, and unlinked the lock
    // again while holding it: only the orphan is left, untouched.
    assert_eq!(names(&s.root), [format!("{}.data", id_hex(id))]);
    assert_eq!(fs::read(orphan.join("theirs")).unwrap(), b"x");
}

// ---------------------------------------------------------------- stage

#[test]
fn stage_renames_items_to_numbered_names_in_the_data_dir() {
    let s = scratch();
    let root = StagingRoot::open(&s.root).unwrap();
    let mut inst = root.create_instance().unwrap();
    fs::write(s.src.join("a"), b"first").unwrap();
    write_tree(&s.src.join("tree"));
    let ino = fs::metadata(s.src.join("tree")).unwrap().ino();
    let a = inst.stage(s.src.join("a")).unwrap();
    let t = inst.stage(s.src.join("tree")).unwrap();
    assert_eq!(a, inst.data_dir().join("0-a"));
    assert_eq!(t, inst.data_dir().join("1-tree"));
    assert_eq!(inst.staged(), 2);
    assert!(names(&s.src).is_empty());
    assert_eq!(fs::read(&a).unwrap(), b"first");
    assert_eq!(fs::read(t.join("sub/deeper/c.txt")).unwrap(), b"gamma");
    assert_eq!(fs::metadata(&t).unwrap().ino(), ino, "moved, not copied");
}

#[test]
fn stage_moves_a_symlink_not_its_target() {
    let s = scratch();
    let root = StagingRoot::open(&s.root).unwrap();
    let mut inst = root.create_instance().unwrap();
    let target = s.src.join("target");
    write_tree(&target);
    std::os::unix::fs::symlink(&target, s.src.join("link")).unwrap();
    let staged = inst.stage(s.src.join("link")).unwrap();
    assert!(fs::symlink_metadata(&staged).unwrap().file_type().is_symlink());
    assert_eq!(names(&s.src), ["target"]);
    inst.cleanup().unwrap();
    assert_eq!(fs::read(target.join("a.txt")).unwrap(), b"alpha");
}

#[test]
fn stage_of_a_missing_path_is_enoent() {
    let s = scratch();
    let root = StagingRoot::open(&s.root).unwrap();
    let mut inst = root.create_instance().unwrap();
    let err = inst.stage(s.src.join("nope")).unwrap_err();
    assert_eq!(err.errno(), Errno::ENOENT);
    assert!(err.to_string().contains("nope"), "{err}");
    assert_eq!(inst.staged(), 0);
    assert!(names(&inst.data_dir()).is_empty());
}

/// A directory on another filesystem than the scratch area (tmpfs
/// /dev/shm when /tmp is not tmpfs, and the other way round).
fn other_filesystem(than: &Path) -> Option<tempfile::TempDir> {
    let dev = fs::metadata(than).ok()?.dev();
    for cand in ["/dev/shm", "/tmp", "/var/tmp", "/run"] {
        if let Ok(d) = tempfile::tempdir_in(cand) {
            if fs::metadata(d.path()).map(|m| m.dev()).ok() != Some(dev) {
                return Some(d);
            }
        }
    }
    None
}

#[test]
fn stage_across_filesystems_is_exdev_and_leaves_source() {
    let s = scratch();
    let Some(other) = other_filesystem(s.src.parent().unwrap()) else {
        println!("SKIPPED stage_across_filesystems_is_exdev_and_leaves_source: no second filesystem");
        return;
    };
    let root = StagingRoot::open(&s.root).unwrap();
    let mut inst = root.create_instance().unwrap();
    let item = other.path().join("item");
    write_tree(&item);
    let ino = fs::metadata(&item).unwrap().ino();
    let err = inst.stage(&item).unwrap_err();
    assert_eq!(err.errno(), Errno::EXDEV);
    let msg = err.to_string();
    assert!(msg.contains(&item.display().to_string()), "{msg}");
    assert!(msg.contains(&inst.data_dir().display().to_string()), "{msg}");
    assert!(matches!(err, Error::CrossDevice { .. }));
    assert_eq!(fs::metadata(&item).unwrap().ino(), ino);
    assert_eq!(fs::read(item.join("sub/deeper/c.txt")).unwrap(), b"gamma");
    assert!(names(&inst.data_dir()).is_empty(), "no copy fallback");
}

#[test]
fn stage_of_a_path_without_file_name_is_einval() {
    let s = scratch();
    let root = StagingRoot::open(&s.root).unwrap();
    let mut inst = root.create_instance().unwrap();
    let err = inst.stage(s.src.join("..")).unwrap_err();
    assert_eq!(err.errno(), Errno::EINVAL);
    assert!(matches!(err, Error::Protocol(protocol::Error::NoFileName { .. })));
    assert!(s.src.exists());
}

#[test]
fn stage_with_a_basename_too_long_for_the_numbered_name_is_enametoolong_and_leaves_source() {
    let s = scratch();
    let root = StagingRoot::open(&s.root).unwrap();
    let mut inst = root.create_instance().unwrap();
    // 254 bytes is a legal name; "0-" + 254 bytes is not (NAME_MAX 255).
    let item = s.src.join("x".repeat(254));
    fs::write(&item, b"keep me").unwrap();
    let err = inst.stage(&item).unwrap_err();
    assert_eq!(err.errno(), Errno::ENAMETOOLONG);
    assert_eq!(fs::read(&item).unwrap(), b"keep me");
}

#[test]
fn stage_of_an_ancestor_of_the_root_is_einval_and_leaves_it() {
    let s = scratch();
    let root = StagingRoot::open(&s.root).unwrap();
    let mut inst = root.create_instance().unwrap();
    let parent = s.root.parent().unwrap();
    let err = inst.stage(parent).unwrap_err();
    assert_eq!(err.errno(), Errno::EINVAL, "rename(2): a directory into its own subdirectory");
    assert!(inst.data_dir().is_dir());
}

#[test]
fn stage_after_cleanup_is_refused_and_leaves_source() {
    let s = scratch();
    let root = StagingRoot::open(&s.root).unwrap();
    let mut inst = root.create_instance().unwrap();
    inst.cleanup().unwrap();
    fs::write(s.src.join("late"), b"x").unwrap();
    let err = inst.stage(s.src.join("late")).unwrap_err();
    assert!(matches!(err, Error::CleanedUp { .. }), "{err}");
    assert_eq!(err.errno(), Errno::EINVAL);
    assert!(s.src.join("late").exists());
}

// ---------------------------------------------------------------- cleanup

#[test]
fn cleanup_removes_data_then_lock_file_and_closes() {
    let s = scratch();
    let root = StagingRoot::open(&s.root).unwrap();
    let mut inst = root.create_instance().unwrap();
    write_tree(&s.src.join("t"));
    inst.stage(s.src.join("t")).unwrap();
    let id = inst.id();
    inst.cleanup().unwrap();
    assert!(names(&s.root).is_empty());
    assert!(inst.is_cleaned_up());
    assert_eq!(open_count(&root), 0);
    assert!(!stagedir::RealFs::is_reserved(id));
}

#[test]
fn cleanup_is_idempotent() {
    let s = scratch();
    let root = StagingRoot::open(&s.root).unwrap();
    let mut inst = root.create_instance().unwrap();
    let other = root.create_instance().unwrap();
    inst.cleanup().unwrap();
    inst.cleanup().unwrap();
    inst.cleanup().unwrap();
    // A second call must not close someone else's descriptor.
    assert_eq!(open_count(&root), 1);
    assert!(is_locked(&other.lock_file()));
    assert_eq!(names(&s.root).len(), 2);
}

#[test]
fn cleanup_does_not_follow_symlinks() {
    let s = scratch();
    let outside = s.src.join("outside");
    write_tree(&outside);
    let root = StagingRoot::open(&s.root).unwrap();
    let mut inst = root.create_instance().unwrap();
    let item = s.src.join("item");
    fs::create_dir(&item).unwrap();
    std::os::unix::fs::symlink(&outside, item.join("dir-link")).unwrap();
    std::os::unix::fs::symlink(outside.join("a.txt"), item.join("file-link")).unwrap();
    std::os::unix::fs::symlink("/nonexistent", item.join("dangling")).unwrap();
    inst.stage(&item).unwrap();
    inst.cleanup().unwrap();
    assert!(names(&s.root).is_empty());
    assert_eq!(fs::read(outside.join("sub/deeper/c.txt")).unwrap(), b"gamma");
    assert_eq!(fs::read(outside.join("a.txt")).unwrap(), b"alpha");
}

#[test]
fn cleanup_removes_entries_whose_names_are_not_utf8() {
    let s = scratch();
    let root = StagingRoot::open(&s.root).unwrap();
    let mut inst = root.create_instance().unwrap();
    let item = s.src.join("item");
    let odd = item.join(std::ffi::OsStr::from_bytes(b"caf\xe9"));
    fs::create_dir_all(&odd).unwrap();
    fs::write(odd.join(std::ffi::OsStr::from_bytes(b"\xff\xfe")), b"x").unwrap();
    inst.stage(&item).unwrap();
    inst.cleanup().unwrap();
    assert!(names(&s.root).is_empty());
}

#[test]
fn cleanup_treats_already_removed_data_as_done() {
    let s = scratch();
    let root = StagingRoot::open(&s.root).unwrap();
    let mut inst = root.create_instance().unwrap();
    write_tree(&inst.data_dir().join("0-x"));
    fs::remove_dir_all(inst.data_dir()).unwrap();
    inst.cleanup().unwrap();
    assert!(names(&s.root).is_empty());
}

/// Makes a chain of directories under `at` whose full path exceeds
/// PATH_MAX (4096), through directory descriptors (the path itself is too
/// long for one syscall). Returns the names from `at` down.
fn make_too_deep_for_path_max(at: &Path) -> Vec<String> {
    use rustix::fs::{mkdirat, openat, Mode, OFlags};
    let mut names = Vec::new();
    let mut dir = rustix::fs::open(at, OFlags::DIRECTORY | OFlags::RDONLY, Mode::empty()).unwrap();
    for level in 0..22 {
        let name = format!("{level:02}{}", "d".repeat(198));
        mkdirat(&dir, name.as_str(), Mode::from_raw_mode(0o700)).unwrap();
        dir = openat(&dir, name.as_str(), OFlags::DIRECTORY | OFlags::RDONLY, Mode::empty()).unwrap();
        names.push(name);
    }
    rustix::fs::openat(&dir, "leaf", OFlags::CREATE | OFlags::WRONLY, Mode::from_raw_mode(0o600)).unwrap();
    names
}

#[test]
fn cleanup_failure_keeps_lock_and_retry_succeeds() {
    // As root no permission stops an unlink, so the failure is a path
    // beyond PATH_MAX: RemoveTree names entries by full path (ENAMETOOLONG).
    let s = scratch();
    let root = StagingRoot::open(&s.root).unwrap();
    let mut inst = root.create_instance().unwrap();
    let item = s.src.join("deep");
    fs::create_dir(&item).unwrap();
    let chain = make_too_deep_for_path_max(&item);
    let staged = inst.stage(&item).unwrap();
    let err = inst.cleanup().unwrap_err();
    assert_eq!(err.errno(), Errno::ENAMETOOLONG, "{err}");
    assert!(!inst.is_cleaned_up());
    assert!(is_locked(&inst.lock_file()), "the lock is kept while data is left");
    assert!(inst.lock_file().exists());
    let status = root.status().unwrap();
    assert_eq!(status.instances.len(), 1);
    assert_eq!(status.instances[0].state, Liveness::Live);
    assert_eq!(open_count(&root), 1, "the failed removal closed its directory streams");
    // Make it shallow enough: move the lower half of the chain up.
    let mid: PathBuf = chain[..11].iter().collect();
    fs::rename(staged.join(&mid), inst.data_dir().join("lower-half")).unwrap();
    inst.cleanup().unwrap();
    assert!(names(&s.root).is_empty());
}

#[test]
fn cleanup_of_a_tree_deeper_than_depth_max_is_eloop_and_keeps_lock() {
    let s = scratch();
    let root = StagingRoot::open(&s.root).unwrap();
    let mut inst = root.create_instance().unwrap();
    let levels = protocol::remove_tree::DEPTH_MAX + 10;
    let deep: PathBuf = std::iter::repeat_n("d", levels).collect();
    fs::create_dir_all(s.src.join("item").join(&deep)).unwrap();
    let staged = inst.stage(s.src.join("item")).unwrap();
    let err = inst.cleanup().unwrap_err();
    assert_eq!(err.errno(), Errno::ELOOP, "{err}");
    assert!(is_locked(&inst.lock_file()));
    let half: PathBuf = std::iter::repeat_n("d", levels / 2).collect();
    fs::rename(staged.join(&half), inst.data_dir().join("half")).unwrap();
    inst.cleanup().unwrap();
    assert!(names(&s.root).is_empty());
}

#[test]
fn cleanup_reports_a_lock_unlink_failure_and_keeps_the_instance() {
    let s = scratch();
    let root = StagingRoot::open(&s.root).unwrap();
    let mut inst = root.create_instance().unwrap();
    // Replace the lock file's name with a directory: unlink(2) says EISDIR.
    fs::remove_file(inst.lock_file()).unwrap();
    fs::create_dir(inst.lock_file()).unwrap();
    let err = inst.cleanup().unwrap_err();
    assert_eq!(err.errno(), Errno::EISDIR);
    assert!(err.to_string().contains(&inst.lock_file().display().to_string()));
    assert!(!inst.is_cleaned_up());
    assert!(!inst.data_dir().exists(), "data went first");
    fs::remove_dir(inst.lock_file()).unwrap();
    inst.cleanup().unwrap();
    assert!(names(&s.root).is_empty());
    assert_eq!(open_count(&root), 0);
}

// ---------------------------------------------------------------- drop

#[test]
fn drop_without_cleanup_releases_lock_and_keeps_files() {
    let s = scratch();
    let root = StagingRoot::open(&s.root).unwrap();
    let mut inst = root.create_instance().unwrap();
    fs::write(s.src.join("f"), b"x").unwrap();
    let staged = inst.stage(s.src.join("f")).unwrap();
    let (lock, id) = (inst.lock_file(), inst.id());
    drop(inst);
    assert!(!is_locked(&lock));
    assert_eq!(fs::read(&staged).unwrap(), b"x");
    assert_eq!(open_count(&root), 0);
    assert!(!stagedir::RealFs::is_reserved(id));
}

// ---------------------------------------------------------------- recover

#[test]
fn recover_in_same_process_sees_live_instance_as_busy() {
    // Without the in-process registry, so that only the lock decides:
    // flock belongs to the open file description, not the process.
    let s = scratch();
    let owner = StagingRoot::open_with(&s.root, RealFs::new(), no_registry()).unwrap();
    let recoverer = StagingRoot::open_with(&s.root, RealFs::new(), no_registry()).unwrap();
    let mut inst = owner.create_instance().unwrap();
    fs::write(s.src.join("f"), b"x").unwrap();
    let staged = inst.stage(s.src.join("f")).unwrap();
    let report = recoverer.recover().unwrap();
    assert_eq!(report.live, [inst.id()]);
    assert!(report.reclaimed.is_empty());
    assert_eq!(fs::read(&staged).unwrap(), b"x");
    assert!(is_locked(&inst.lock_file()));
    assert_eq!(open_count(&recoverer), 0);
}

#[test]
fn recover_skips_an_instance_reserved_by_this_process() {
    let s = scratch();
    let root = StagingRoot::open(&s.root).unwrap();
    let inst = root.create_instance().unwrap();
    let report = root.recover().unwrap();
    assert_eq!(report.live, [inst.id()]);
    assert!(inst.data_dir().is_dir());
}

#[test]
fn recover_reclaims_stale_instance_after_drop_without_cleanup() {
    let s = scratch();
    let root = StagingRoot::open(&s.root).unwrap();
    let mut inst = root.create_instance().unwrap();
    write_tree(&s.src.join("t"));
    inst.stage(s.src.join("t")).unwrap();
    let id = inst.id();
    drop(inst); // closes the descriptor: what a crash does
    let report = root.recover().unwrap();
    assert_eq!(report.reclaimed, [id]);
    assert!(report.errors.is_empty());
    assert!(names(&s.root).is_empty());
    assert_eq!(open_count(&root), 0);
}

#[test]
fn recover_reports_foreign_names_and_leaves_them() {
    let s = scratch();
    let root = StagingRoot::open(&s.root).unwrap();
    fs::write(s.root.join("README"), b"x").unwrap();
    fs::create_dir(s.root.join("0123456789ABCDEF0123456789ABCDEF.data")).unwrap();
    fs::write(s.root.join("0123.lock"), b"").unwrap();
    let mut report = root.recover().unwrap();
    report.foreign.sort();
    assert_eq!(report.foreign, ["0123.lock", "0123456789ABCDEF0123456789ABCDEF.data", "README"]);
    assert!(report.reclaimed.is_empty());
    assert_eq!(names(&s.root).len(), 3);
}

#[test]
fn recover_skips_symlink_lock() {
    let s = scratch();
    let root = StagingRoot::open(&s.root).unwrap();
    let id = 0x5eed_u128;
    let target = s.src.join("precious");
    fs::write(&target, b"keep").unwrap();
    let lock = s.root.join(format!("{}.lock", id_hex(id)));
    std::os::unix::fs::symlink(&target, &lock).unwrap();
    let data = s.root.join(format!("{}.data", id_hex(id)));
    fs::create_dir(&data).unwrap();
    fs::write(data.join("f"), b"x").unwrap();
    let report = root.recover().unwrap();
    assert!(report.reclaimed.is_empty());
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].0, id);
    assert_eq!(report.errors[0].1.errno, Errno::ELOOP, "O_NOFOLLOW");
    assert!(fs::symlink_metadata(&lock).unwrap().file_type().is_symlink());
    assert_eq!(fs::read(&target).unwrap(), b"keep");
    assert_eq!(fs::read(data.join("f")).unwrap(), b"x");
}

#[test]
fn recover_reclaims_data_without_lock_file_by_creating_the_lock_exclusively() {
    let s = scratch();
    let root = StagingRoot::open(&s.root).unwrap();
    let id = 0x0dd_u128;
    let data = s.root.join(format!("{}.data", id_hex(id)));
    write_tree(&data.join("0-t"));
    let report = root.recover().unwrap();
    assert_eq!(report.reclaimed, [id]);
    assert!(names(&s.root).is_empty());
}

#[test]
fn recover_reclaims_lock_file_without_data() {
    let s = scratch();
    let root = StagingRoot::open(&s.root).unwrap();
    let id = 0x10c_u128;
    fs::write(s.root.join(format!("{}.lock", id_hex(id))), b"").unwrap();
    let report = root.recover().unwrap();
    assert_eq!(report.reclaimed, [id]);
    assert!(names(&s.root).is_empty());
}

#[test]
fn recover_records_a_failing_id_and_goes_on_with_the_others() {
    let s = scratch();
    let root = StagingRoot::open(&s.root).unwrap();
    let mut bad = root.create_instance().unwrap();
    let item = s.src.join("deep");
    fs::create_dir(&item).unwrap();
    make_too_deep_for_path_max(&item);
    bad.stage(&item).unwrap();
    let good = root.create_instance().unwrap();
    let (bad_id, good_id, bad_lock) = (bad.id(), good.id(), bad.lock_file());
    drop(bad);
    drop(good);
    let report = root.recover().unwrap();
    assert_eq!(report.reclaimed, [good_id]);
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].0, bad_id);
    assert_eq!(report.errors[0].1.errno, Errno::ENAMETOOLONG);
    assert!(bad_lock.exists(), "the next pass retries it");
    assert!(!is_locked(&bad_lock));
    assert_eq!(open_count(&root), 0);
}

#[test]
fn recover_fails_when_root_cannot_be_listed() {
    let s = scratch();
    let root = StagingRoot::open(&s.root).unwrap();
    fs::remove_dir(&s.root).unwrap();
    let err = root.recover().unwrap_err();
    assert_eq!(err.errno(), Errno::ENOENT);
    assert!(err.to_string().contains(&s.root.display().to_string()));
}

// ---------------------------------------------------------------- status

/// Path, inode, size, mode, mtime, ctime.
type Stamp = (PathBuf, u64, u64, u32, i64, i64, i64, i64);

/// Everything about a tree that status could change: names, kinds,
/// inodes, sizes, modes, mtimes and ctimes, recursively.
fn snapshot(dir: &Path) -> Vec<Stamp> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = fs::symlink_metadata(&p).unwrap();
            out.push((p.clone(), m.ino(), m.size(), m.mode(), m.mtime(), m.mtime_nsec(), m.ctime(), m.ctime_nsec()));
            if m.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn status_changes_nothing() {
    let s = scratch();
    let root = StagingRoot::open(&s.root).unwrap();
    let mut live = root.create_instance().unwrap();
    write_tree(&s.src.join("t"));
    live.stage(s.src.join("t")).unwrap();
    let stale = root.create_instance().unwrap();
    drop(stale);
    fs::create_dir(s.root.join(format!("{}.data", id_hex(7)))).unwrap();
    fs::write(s.root.join("foreign"), b"x").unwrap();
    let before = snapshot(&s.root);
    let report = root.status().unwrap();
    assert_eq!(snapshot(&s.root), before);
    assert_eq!(report.instances.len(), 3);
    assert_eq!(report.foreign, ["foreign"]);
    assert!(is_locked(&live.lock_file()));
    assert_eq!(open_count(&root), 1);
}

#[test]
fn status_reports_live_stale_and_orphan_data() {
    let s = scratch();
    let root = StagingRoot::open_with(&s.root, RealFs::new(), no_registry()).unwrap();
    let other = StagingRoot::open_with(&s.root, RealFs::new(), no_registry()).unwrap();
    let live = root.create_instance().unwrap();
    let stale = root.create_instance().unwrap();
    let stale_id = stale.id();
    drop(stale);
    fs::create_dir(s.root.join(format!("{}.data", id_hex(7)))).unwrap();
    let report = other.status().unwrap();
    let find = |id| report.instances.iter().find(|i| i.id == id).unwrap();
    assert_eq!(find(live.id()).state, Liveness::Live);
    assert_eq!(find(stale_id).state, Liveness::Stale);
    assert!(find(stale_id).lock_file && find(stale_id).data);
    assert_eq!(find(7).state, Liveness::Stale);
    assert!(!find(7).lock_file && find(7).data);
    // Status let go of the stale lock it tried: recovery can take it.
    assert!(!is_locked(&s.root.join(format!("{}.lock", id_hex(stale_id)))));
}

// ---------------------------------------------------------------- threads

#[test]
fn threads_sharing_a_root_never_reclaim_each_others_live_instances() {
    let s = scratch();
    let root = StagingRoot::open(&s.root).unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let recoverer = scope.spawn(|| {
            let mut passes = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let r = root.recover().unwrap();
                assert!(r.reclaimed.is_empty(), "reclaimed a live instance: {r:?}");
                assert!(r.errors.is_empty(), "{r:?}");
                passes += 1;
            }
            passes
        });
        let workers: Vec<_> = (0..4)
            .map(|t| {
                let (root, src) = (root.clone(), s.src.join(format!("w{t}")));
                scope.spawn(move || {
                    for round in 0..50 {
                        let item = src.join(format!("r{round}"));
                        write_tree(&item);
                        let mut inst = root.create_instance().unwrap();
                        let staged = inst.stage(&item).unwrap();
                        assert_eq!(fs::read(staged.join("sub/deeper/c.txt")).unwrap(), b"gamma");
                        inst.cleanup().unwrap();
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(recoverer.join().unwrap() > 0);
    });
    assert!(names(&s.root).is_empty());
    assert_eq!(open_count(&root), 0);
}


/// Unmounts on drop (lazily), so a failing assertion leaves no mount behind.
struct Mounted(PathBuf);

impl Mounted {
    /// A fresh tmpfs on `at`, or `None` where this process may not mount.
    fn tmpfs(at: &Path) -> Option<Mounted> {
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "stagedir-test"])
            .arg(at)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Mounted(at.to_path_buf()))
    }

    fn unmount(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        self.unmount();
    }
}

#[test]
fn cleanup_stops_at_a_mount_in_the_tree_with_ebusy_and_touches_nothing_on_it() {
    // RemoveTree lstats each subdirectory and refuses to descend into one on
    // another device: nothing on the mounted filesystem is removed, the
    // removal fails with EBUSY and the lock is kept.
    let s = scratch();
    let root = StagingRoot::open(&s.root).unwrap();
    let mut inst = root.create_instance().unwrap();
    let item = s.src.join("item");
    fs::create_dir_all(item.join("mnt")).unwrap();
    let Some(mut mount) = Mounted::tmpfs(&item.join("mnt")) else {
        println!("SKIPPED cleanup_stops_at_a_mount_in_the_tree...: cannot mount tmpfs here");
        return;
    };
    fs::write(item.join("mnt/inside"), b"on another filesystem").unwrap();
    let staged = inst.stage(&item).unwrap();
    mount.0 = staged.join("mnt"); // the mount moved with its parent
    let err = inst.cleanup().unwrap_err();
    assert_eq!(err.errno(), Errno::EBUSY, "{err}");
    assert!(staged.join("mnt/inside").exists(), "removal crossed into the mounted filesystem");
    assert!(is_locked(&inst.lock_file()), "the lock is kept while data is left");
    mount.unmount();
    inst.cleanup().unwrap();
    assert!(names(&s.root).is_empty());
}

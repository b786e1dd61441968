//! Each invariant of the oracle, fed a hand-made broken history, is named.

use std::path::{Path, PathBuf};

use stagedir::check::oracle::{self, Invariant};
use stagedir::check::scenario::Scenario;
use stagedir::check::world::{Action, Life, Proc, Record, Task, World};
use stagedir::fs::{Errno, Op, Value};
use stagedir::protocol::layout::{data_path, lock_path};
use stagedir::variants::script::{Script, ScriptStep};
use stagedir::variants::{Program, Variant};

fn scenario() -> Scenario {
    Scenario::new(Variant::Reference, 0, 0, 2)
}

fn root() -> PathBuf {
    PathBuf::from("/r")
}

fn step(op: Op, owns_after: Option<u128>) -> ScriptStep {
    ScriptStep { op, owns_after }
}

/// A world of scripted processes (the bool: is a recoverer).
fn world(scn: &Scenario, scripts: Vec<(Vec<ScriptStep>, bool)>) -> World {
    let mut fs = scn.initial_fs();
    fs.mkdir_all(Path::new("/s"));
    fs.write_file(Path::new("/s/item"));
    let procs = scripts
        .into_iter()
        .map(|(steps, rec)| Proc { pid: fs.spawn(), program: std::sync::Arc::new(Task::new(Program::Script(Script::new(steps, rec)))), life: Life::Running })
        .collect();
    World { fs, procs, faults_left: 0 }
}

/// Runs the schedule; the first invariant broken, if any.
#[track_caller]
fn check(scn: &Scenario, w: &mut World, schedule: &[u8]) -> Option<Invariant> {
    for &p in schedule {
        let (_, v) = w.apply(scn, Action::Step(p));
        if let Some(v) = v {
            return Some(v.invariant);
        }
    }
    None
}

#[test]
fn two_live_owners_of_one_id_break_inv1() {
    let scn = scenario();
    let lock = lock_path(&root(), 1);
    let mut w = world(
        &scn,
        vec![
            (vec![step(Op::CreateExcl { path: lock.clone() }, Some(1)), step(Op::Fsync { fd: 3 }, Some(1))], false),
            (vec![step(Op::Open { path: lock }, Some(1)), step(Op::Fsync { fd: 3 }, Some(1))], true),
        ],
    );
    assert_eq!(check(&scn, &mut w, &[0]), None, "one owner is fine");
    assert_eq!(check(&scn, &mut w, &[1]), Some(Invariant::OneOwner));
}

#[test]
fn removing_a_live_owners_item_breaks_inv2() {
    let scn = scenario();
    let data = data_path(&root(), 1);
    let staged = data.join("0-item");
    let owner = vec![
        step(Op::CreateExcl { path: lock_path(&root(), 1) }, Some(1)),
        step(Op::Mkdir { path: data.clone() }, Some(1)),
        step(Op::Rename { from: "/s/item".into(), to: staged.clone() }, Some(1)),
        step(Op::Fsync { fd: 3 }, Some(1)),
    ];
    let mut w = world(&scn, vec![(owner, false), (vec![step(Op::Unlink { path: staged }, None)], false)]);
    assert_eq!(check(&scn, &mut w, &[0, 0, 0]), None);
    assert_eq!(check(&scn, &mut w, &[1]), Some(Invariant::OwnerDataUntouched));
}

#[test]
fn the_owner_removing_its_own_item_keeps_inv2() {
    let scn = scenario();
    let data = data_path(&root(), 1);
    let staged = data.join("0-item");
    let owner = vec![
        step(Op::CreateExcl { path: lock_path(&root(), 1) }, Some(1)),
        step(Op::Mkdir { path: data }, Some(1)),
        step(Op::Rename { from: "/s/item".into(), to: staged.clone() }, Some(1)),
        step(Op::Unlink { path: staged }, Some(1)),
    ];
    let mut w = world(&scn, vec![(owner, false)]);
    assert_eq!(check(&scn, &mut w, &[0, 0, 0, 0]), None);
}

#[test]
fn stage_ok_with_source_still_there_breaks_inv3() {
    let scn = scenario();
    let w = world(&scn, vec![(vec![step(Op::Fsync { fd: 3 }, None)], false)]);
    let rec = Record {
        pid: w.procs[0].pid,
        action: Action::Step(0),
        op: Some(Op::Rename { from: "/s/item".into(), to: "/r/x".into() }),
        result: Some(Ok(Value::Unit)),
        exited: false,
        created: false,
    };
    let v = oracle::after_step(&scn, &w, &rec, &[]).expect("violation");
    assert_eq!(v.invariant, Invariant::StageAtomic);
}

#[test]
fn stage_err_with_source_gone_breaks_inv3() {
    let scn = scenario();
    let w = world(&scn, vec![(vec![step(Op::Fsync { fd: 3 }, None)], false)]);
    let rec = Record {
        pid: w.procs[0].pid,
        action: Action::Step(0),
        op: Some(Op::Rename { from: "/s/missing".into(), to: "/r/x".into() }),
        result: Some(Err(Errno::EIO)),
        exited: false,
        created: false,
    };
    let v = oracle::after_step(&scn, &w, &rec, &[]).expect("violation");
    assert_eq!(v.invariant, Invariant::StageAtomic);
}

#[test]
fn data_without_lock_file_breaks_inv4() {
    let scn = scenario();
    let mut w = world(&scn, vec![(vec![step(Op::Mkdir { path: data_path(&root(), 1) }, None)], false)]);
    assert_eq!(check(&scn, &mut w, &[0]), Some(Invariant::DataUnderLock));
}

/// A stale instance `id`: its lock file, and data holding `mnt`, the root of
/// another device, with a file `f` on it.
fn mounted_instance(w: &mut World, id: u128) {
    let data = data_path(&root(), id);
    w.fs.write_file(&lock_path(&root(), id));
    w.fs.mkdir_all(&data.join("mnt"));
    w.fs.mount(&data.join("mnt"));
    w.fs.write_file(&data.join("mnt/f"));
}

/// Removal stops at the mount point with `EBUSY` (R5a) and must: the
/// instance stays, lock file and data, and INV-5 does not count it.
#[test]
fn a_mount_inside_stale_data_stops_recovery_and_is_not_a_leak() {
    let scn = scenario();
    let data = data_path(&root(), 1);
    let mut w = world(&scn, vec![]);
    mounted_instance(&mut w, 1);
    let (records, v) = w.final_check(&scn);
    let stat = records.iter().find(|r| r.op == Some(Op::PathIdentity { path: data.join("mnt") }));
    assert!(stat.is_some(), "removal looks at the mount point before descending");
    assert!(!records.iter().any(|r| r.op == Some(Op::Unlink { path: data.join("mnt/f") })), "nothing on the mount is touched");
    assert!(w.fs.exists(&data.join("mnt/f")), "final_check works on a copy");
    assert_eq!(v, None);
}

/// An instance whose data holds a mount point is left out of INV-5; a
/// stale name beside it still counts.
#[test]
fn a_leak_beside_a_mounted_instance_breaks_inv5() {
    let scn = scenario();
    let mut w = world(&scn, vec![]);
    mounted_instance(&mut w, 1);
    assert_eq!(oracle::final_state(&scn, &w), None);
    w.fs.write_file(&lock_path(&root(), 2));
    let v = oracle::final_state(&scn, &w).expect("leak");
    assert_eq!(v.invariant, Invariant::NothingLeaks);
    assert!(v.detail.contains(&lock_path(&root(), 2).display().to_string()), "{}", v.detail);
    assert!(!v.detail.contains(&lock_path(&root(), 1).display().to_string()), "{}", v.detail);
}

#[test]
fn a_clean_root_keeps_inv5() {
    let scn = scenario();
    let mut w = world(&scn, vec![]);
    w.fs.write_file(&lock_path(&root(), 1));
    w.fs.mkdir_all(&data_path(&root(), 1).join("d"));
    w.fs.write_file(&data_path(&root(), 1).join("d/f"));
    w.fs.write_file(&root().join("foreign"));
    let (_, v) = w.final_check(&scn);
    assert_eq!(v, None);
    assert_eq!(w.fs.list(&root()).len(), 3, "final_check works on a copy");
}

#[test]
fn recovery_removing_a_foreign_name_breaks_inv6() {
    let scn = scenario();
    let mut w = world(&scn, vec![(vec![step(Op::Unlink { path: "/s/item".into() }, None)], true)]);
    assert_eq!(check(&scn, &mut w, &[0]), Some(Invariant::RecoveryConfined));
}

/// A recoverer thread that shares its pid with a creator is judged as the
/// recoverer it is: the oracle names the acting thread by its slot, not by
/// its pid (whose first thread is the creator).
#[test]
fn recoverer_thread_in_a_creators_process_removing_a_foreign_name_breaks_inv6() {
    let scn = scenario();
    let creator = vec![step(Op::Fsync { fd: 3 }, None), step(Op::Fsync { fd: 3 }, None)];
    let recoverer = vec![step(Op::Unlink { path: "/s/item".into() }, None)];
    let mut w = world(&scn, vec![(creator, false), (recoverer, true)]);
    w.procs[1].pid = w.procs[0].pid;
    assert_eq!(check(&scn, &mut w, &[1]), Some(Invariant::RecoveryConfined));
}

#[test]
fn recovery_following_a_symlink_breaks_inv6() {
    let scn = scenario();
    let mut w = world(&scn, vec![(vec![step(Op::PathIdentity { path: "/r/link/keep".into() }, None)], true)]);
    w.fs.symlink(Path::new("/r/link"), Path::new("/o"));
    assert_eq!(check(&scn, &mut w, &[0]), Some(Invariant::RecoveryConfined));
}


/// A filesystem mounted inside a staged tree is not garbage: removing a file
/// on it breaks INV-6 even when the instance's own live owner does it.
#[test]
fn removing_a_file_on_a_mounted_filesystem_breaks_inv6() {
    let scn = scenario();
    let data = data_path(&root(), 1);
    let owner = vec![
        step(Op::CreateExcl { path: lock_path(&root(), 1) }, Some(1)),
        step(Op::Mkdir { path: data.clone() }, Some(1)),
        step(Op::Unlink { path: data.join("mnt/f") }, Some(1)),
    ];
    let mut w = world(&scn, vec![(owner, false)]);
    assert_eq!(check(&scn, &mut w, &[0, 0]), None);
    w.fs.mkdir_all(&data.join("mnt"));
    w.fs.mount(&data.join("mnt"));
    w.fs.write_file(&data.join("mnt/f"));
    assert_eq!(check(&scn, &mut w, &[0]), Some(Invariant::RecoveryConfined));
}

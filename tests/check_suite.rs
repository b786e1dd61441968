//! `stagedir check`'s default suite: every mutant is killed (and by which
//! invariant), the reference survives, tokens replay to the identical trace,
//! and the swimlane rendering of one fixed trace is golden.

use stagedir::check::oracle::Invariant;
use stagedir::check::suite::{self, Checker, Options, Row, Verdict};
use stagedir::check::{swimlane, token, trace};
use stagedir::protocol::Mutation;
use stagedir::variants::Variant;

fn rows(variant: Variant) -> Vec<Row> {
    let opts = Options { variants: vec![variant], checkers: vec![Checker::Exhaustive], ..Options::default() };
    suite::run(&opts, &mut |_| {})
}

/// The invariants the default exhaustive suite finds broken for `variant`.
fn broken(variant: Variant) -> Vec<Invariant> {
    let mut v: Vec<Invariant> = rows(variant)
        .iter()
        .filter_map(|r| match r.verdict {
            Verdict::Violated(i) => Some(i),
            _ => None,
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

#[track_caller]
fn killed_by(m: Mutation, inv: Invariant) {
    let found = broken(Variant::Mutant(m));
    assert!(found.contains(&inv), "{} broke {found:?}, expected {inv:?}", m.name());
}

#[test]
fn reference_holds_under_the_default_suite() {
    for r in rows(Variant::Reference) {
        assert_eq!(r.verdict, Verdict::Holds, "{}", r.scenario.describe());
        assert!(r.explored > 100, "a real search ran: {}", r.explored);
    }
}

#[test]
fn no_identity_recheck_is_killed_by_data_without_lock() {
    killed_by(Mutation::NoIdentityRecheck, Invariant::DataUnderLock);
}

#[test]
fn unlock_before_unlink_is_killed_by_two_owners() {
    killed_by(Mutation::UnlockBeforeUnlink, Invariant::OneOwner);
}

#[test]
fn unlink_lock_before_data_is_killed_by_data_without_lock() {
    killed_by(Mutation::UnlinkLockBeforeData, Invariant::DataUnderLock);
}

#[test]
fn data_before_lock_is_killed_by_data_without_lock() {
    killed_by(Mutation::DataBeforeLock, Invariant::DataUnderLock);
}

#[test]
fn posix_lock_kind_is_killed_by_two_owners_in_one_process() {
    killed_by(Mutation::PosixLockKind, Invariant::OneOwner);
}

/// An equivalent mutant: under lock-first creation and the identity
/// re-check, a recoverer's `O_CREAT` breaks no safety invariant (SPEC.md
/// explains why). This asserts today's verdict so a change is noticed.
#[test]
fn fixme_recovery_creates_lock_is_an_equivalent_mutant() {
    assert_eq!(broken(Variant::Mutant(Mutation::RecoveryCreatesLock)), vec![]);
}

#[test]
fn a_counterexample_token_replays_to_the_identical_trace() {
    let row = rows(Variant::Mutant(Mutation::UnlockBeforeUnlink))
        .into_iter()
        .find(|r| r.counterexample.is_some())
        .expect("a violation");
    let (actions, violation) = row.counterexample.clone().unwrap();
    let tok = token::encode(&row.scenario, &actions);
    let (scn, decoded) = token::decode(&tok).expect("decode");
    assert_eq!(scn, row.scenario);
    assert_eq!(decoded, actions);
    let first = trace::replay(&row.scenario, &actions).unwrap();
    let again = trace::replay(&scn, &decoded).unwrap();
    assert_eq!(again.violation.as_ref(), Some(&violation));
    assert_eq!(swimlane::render(&first, &actions), swimlane::render(&again, &decoded));
    assert_eq!(again.records, first.records, "same history, step for step");
}

#[test]
fn a_token_from_another_scenario_is_refused_not_misreplayed() {
    let tok = "sd1~v=reference,c=1,r=0,n=1,shape=file,ids=1,lock=flock,order=rev,f=0,x=1,a=2,p=1,cr=1,reg=0,fo=0,xd=0,sp=0~s5";
    let (scn, actions) = token::decode(tok).unwrap();
    let err = trace::replay(&scn, &actions).unwrap_err();
    assert_eq!(err.index, 0);
    assert!(token::decode("sd1~v=nonsense~s0").unwrap_err().0.contains("valid variants"));
}

/// The swimlane of the no-identity-recheck counterexample, compared with
/// `tests/golden/swimlane.txt`. `UPDATE_GOLDEN=1` rewrites the file.
#[test]
fn swimlane_rendering_is_golden() {
    let tok = "sd1~v=no-identity-recheck,c=2,r=1,n=1,shape=file,ids=1,lock=flock,order=rev,f=0,x=1,a=2,p=1,cr=1,reg=0,fo=0,xd=0,sp=0~d0-0.s0.s2.s2.s2.s2.s2.s2.s2.s2.s2.s0.s0";
    let (scn, actions) = token::decode(tok).unwrap();
    let t = trace::replay(&scn, &actions).unwrap();
    let got = swimlane::render(&t, &actions);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/swimlane.txt");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(path, &got).unwrap();
    }
    let want = std::fs::read_to_string(path).expect("golden file");
    assert_eq!(got, want, "swimlane changed; rerun with UPDATE_GOLDEN=1 if intended");
    assert_eq!(t.violation.map(|v| v.invariant), Some(Invariant::DataUnderLock));
}

#[test]
fn create_without_excl_is_killed_by_data_without_lock() {
    killed_by(Mutation::CreateWithoutExcl, Invariant::DataUnderLock);
}

#[test]
fn create_skips_lock_is_killed_by_two_owners() {
    killed_by(Mutation::CreateSkipsLock, Invariant::OneOwner);
}

#[test]
fn undo_unlinks_unverified_lock_is_killed_by_two_owners() {
    killed_by(Mutation::UndoUnlinksUnverified, Invariant::OneOwner);
}

#[test]
fn recovery_unlock_before_unlink_is_killed_by_two_owners() {
    killed_by(Mutation::RecoveryUnlockBeforeUnlink, Invariant::OneOwner);
}

#[test]
fn recovery_no_identity_recheck_is_killed_by_two_owners() {
    killed_by(Mutation::RecoveryNoIdentityRecheck, Invariant::OneOwner);
}

#[test]
fn recovery_ignores_busy_lock_is_killed_by_two_owners() {
    killed_by(Mutation::RecoveryIgnoresBusyLock, Invariant::OneOwner);
}

#[test]
fn recovery_partial_listing_is_killed_by_a_leak() {
    killed_by(Mutation::RecoveryPartialListing, Invariant::NothingLeaks);
}

#[test]
fn reserve_after_lock_is_killed_by_two_owners_in_one_process() {
    killed_by(Mutation::ReserveAfterLock, Invariant::OneOwner);
}

#[test]
fn release_before_unlink_is_killed_by_two_owners_in_one_process() {
    killed_by(Mutation::ReleaseBeforeUnlink, Invariant::OneOwner);
}

#[test]
fn tree_root_stat_is_killed_by_a_leak() {
    killed_by(Mutation::TreeRootStat, Invariant::NothingLeaks);
}

#[test]
fn remove_enoent_is_error_is_killed_by_a_leak() {
    killed_by(Mutation::RemoveEnoentIsError, Invariant::NothingLeaks);
}

/// Equivalent mutants (SPEC.md section 7, C1 and V8-V9): nothing breaks.
/// This pins today's verdict so a change is noticed.
#[test]
fn fixme_create_reuses_id_and_recovery_claim_without_excl_are_equivalent_mutants() {
    assert_eq!(broken(Variant::Mutant(Mutation::CreateReusesId)), vec![]);
    assert_eq!(broken(Variant::Mutant(Mutation::RecoveryClaimWithoutExcl)), vec![]);
}

/// The mutants that fix their environment (POSIX locks with the registry,
/// the planted foreign symlink, a status thread, a symlink ROOT, a mount
/// inside a staged tree) are killed by their change, not by the
/// environment: the reference holds in the same small scenarios.
#[test]
fn reference_holds_in_the_environments_the_mutants_fix() {
    use stagedir::check::bfs::{self, Limits};
    for m in [
        Mutation::ReserveAfterLock,
        Mutation::ReleaseBeforeUnlink,
        Mutation::TreeRootStat,
        Mutation::StatusSkipsReservation,
        Mutation::OpenRootFollowsSymlink,
        Mutation::RemoveCrossesMounts,
    ] {
        let opts = Options { ids: Some(1), ..Options::default() };
        for mut s in suite::exhaustive_scenarios(Variant::Mutant(m), &opts) {
            s.variant = Variant::Reference;
            let (stats, cex) = bfs::explore(&s, Limits::default(), &mut |_| {});
            assert!(cex.is_none(), "reference in {}: {:?}", s.describe(), cex.map(|c| c.violation));
            assert!(stats.complete, "{}", s.describe());
        }
    }
}

/// T4 removed: a status thread inside a live creator's process opens and
/// closes that creator's lock file; under POSIX locks the close (or T6's
/// unlock) drops the creator's lock, and a recoverer in another process
/// claims the live instance.
#[test]
fn status_skips_reservation_is_killed_by_two_owners() {
    killed_by(Mutation::StatusSkipsReservation, Invariant::OneOwner);
}

/// O1/O3 follow a symlink ROOT: creators stage into the directory it points
/// to, where recovery (whose `opendir` does not follow it) never lists
/// them: a crashed creator's instance leaks.
#[test]
fn open_root_follows_symlink_is_killed_by_a_leak() {
    killed_by(Mutation::OpenRootFollowsSymlink, Invariant::NothingLeaks);
}

/// On a symlink ROOT the reference refuses at O1 in every process: nothing
/// is created, under ROOT or where it points.
#[test]
fn reference_refuses_a_symlink_root_and_touches_nothing() {
    use stagedir::check::scenario::{Scenario, OUTSIDE};
    use stagedir::check::world::{Action, World};
    use std::path::Path;
    let mut s = Scenario::new(Variant::Reference, 1, 1, 1);
    s.symlink_root = true;
    let mut w = World::new(&s);
    let mut actions = Vec::new();
    while !w.is_terminal() {
        w.actions(&s, &mut actions);
        let a = *actions.iter().find(|a| matches!(a, Action::Step(_) | Action::Draw(..))).unwrap();
        let (rec, v) = w.apply(&s, a);
        assert!(v.is_none(), "{v:?}");
        assert!(rec.exited, "each process ends at its first step (O1): {:?}", rec.op);
    }
    assert_eq!(w.fs.list(Path::new(OUTSIDE)).len(), 1, "only {OUTSIDE}/keep");
    assert_eq!(w.final_check(&s).1, None);
}

/// T6's unlock and T7's close moved after T8: status holds a stale lock a
/// step longer. A recoverer skips that id meanwhile and a creator cannot
/// take a name whose lock file exists, so no invariant can break (SPEC.md
/// section 7.7). This pins today's verdict so a change is noticed.
#[test]
fn fixme_status_keeps_lock_survives() {
    assert_eq!(broken(Variant::Mutant(Mutation::StatusKeepsLock)), vec![]);
}

/// R5a's `st_dev` comparison removed: removal walks into the filesystem
/// mounted inside the first creator's staged tree and unlinks the file on
/// it, in cleanup or in recovery alike.
#[test]
fn remove_crosses_mounts_is_killed_by_a_removal_on_another_filesystem() {
    killed_by(Mutation::RemoveCrossesMounts, Invariant::RecoveryConfined);
}

/// With a mount inside a staged tree the reference stops at R5a with
/// `EBUSY` wherever it removes: the file on the mounted filesystem stays,
/// and so do the instance's lock file and data (INV-5 does not count an
/// instance whose data holds a mount point).
#[test]
fn reference_keeps_a_mounted_filesystem_and_its_instance() {
    use stagedir::check::scenario::{Scenario, MOUNT_FILE};
    use stagedir::check::world::{Action, World};
    use stagedir::protocol::layout::{data_path, lock_path};
    use std::path::Path;
    let mut s = Scenario::new(Variant::Reference, 1, 1, 1);
    s.mount_in_item = true;
    let mut w = World::new(&s);
    let mut actions = Vec::new();
    while !w.is_terminal() {
        w.actions(&s, &mut actions);
        let a = *actions.iter().find(|a| matches!(a, Action::Step(_) | Action::Draw(..))).unwrap();
        let (_, v) = w.apply(&s, a);
        assert!(v.is_none(), "{v:?}");
    }
    let root = Path::new("/r");
    let data = data_path(root, 0);
    assert!(w.fs.exists(&data.join("0-c0i0").join(MOUNT_FILE)), "the file on the mount stays");
    assert!(w.fs.exists(&lock_path(root, 0)), "the lock file stays while data remains");
    let (records, v) = w.final_check(&s);
    assert_eq!(v, None);
    let mnt = data.join("0-c0i0/mnt");
    assert!(records.iter().any(|r| r.op == Some(stagedir::fs::Op::PathIdentity { path: mnt.clone() })), "recovery looked at the mount point");
    assert!(!records.iter().any(|r| r.op.as_ref().is_some_and(|o| o.to_string().contains(mnt.to_str().unwrap()) && !matches!(o, stagedir::fs::Op::PathIdentity { .. }))), "and did nothing else there");
}

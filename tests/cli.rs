//! The `stagedir` binary: exit codes, text and JSON output, errors naming
//! the path and the errno.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use stagedir::fs::id_hex;

const BIN: &str = env!("CARGO_BIN_EXE_stagedir");

fn run(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut cmd = Command::new(BIN);
    for a in args {
        cmd.arg(a);
    }
    cmd.output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_str(&stdout(o)).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

fn tree(at: &Path, files: usize) {
    fs::create_dir_all(at.join("sub")).unwrap();
    for i in 0..files {
        fs::write(at.join(format!("sub/f{i}")), b"x").unwrap();
    }
}

#[test]
fn delete_removes_every_path_and_leaves_root_empty() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("root");
    tree(&d.path().join("a"), 5);
    fs::write(d.path().join("b"), b"x").unwrap();
    let o = run(&[&"delete", &"--root", &root, &d.path().join("a"), &d.path().join("b")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("staged 2 of 2 path(s)"), "{out}");
    assert!(out.contains("store lock held:"), "{out}");
    assert!(out.contains("8 entries removed"), "a, sub, 5 files, b: {out}");
    assert!(!d.path().join("a").exists() && !d.path().join("b").exists());
    assert_eq!(fs::read_dir(&root).unwrap().count(), 0);
    assert!(d.path().join("root.store-lock").is_file(), "the store lock file lives beside ROOT");
}

#[test]
fn delete_json_reports_timings_and_the_compare_ratio() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("root");
    tree(&d.path().join("a"), 200);
    let o = run(&[&"--json", &"delete", &"--compare", &"--root", &root, &d.path().join("a")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc = json(&o);
    assert_eq!(doc["entries_removed"], 202);
    assert_eq!(doc["compare"]["entries_copied"], 202);
    assert!(doc["store_lock_held_ms"].as_f64().unwrap() > 0.0);
    assert!(doc["compare"]["ratio"].as_f64().unwrap() > 0.0);
    assert_eq!(doc["instance"].as_str().unwrap().len(), 32);
    assert!(!d.path().join("a").exists());
    assert!(!d.path().join("a.stagedir-compare").exists(), "the copy is removed too");
}

#[test]
fn delete_of_a_missing_path_exits_2_naming_it_and_still_deletes_the_rest() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("root");
    fs::write(d.path().join("b"), b"x").unwrap();
    let missing = d.path().join("missing");
    let o = run(&[&"delete", &"--root", &root, &missing, &d.path().join("b")]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains(&missing.display().to_string()) && err.contains("ENOENT"), "{err}");
    assert!(!d.path().join("b").exists());
    assert_eq!(fs::read_dir(&root).unwrap().count(), 0);
}

#[test]
fn delete_with_a_symlink_root_exits_2_naming_root_and_errno() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("root");
    std::os::unix::fs::symlink(d.path(), &root).unwrap();
    fs::write(d.path().join("b"), b"x").unwrap();
    let o = run(&[&"--json", &"delete", &"--root", &root, &d.path().join("b")]);
    assert_eq!(o.status.code(), Some(2));
    let doc = json(&o);
    assert_eq!(doc["errno"], "ELOOP");
    assert_eq!(doc["path"], root.display().to_string());
    assert!(d.path().join("b").exists());
}

#[test]
fn usage_errors_exit_2() {
    let o = run(&[&"delete"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&[&"no-such-command"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn recover_exits_1_when_an_id_fails_and_names_it() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("root");
    fs::create_dir(&root).unwrap();
    let hex = id_hex(0xabc);
    std::os::unix::fs::symlink("/etc/hostname", root.join(format!("{hex}.lock"))).unwrap();
    let o = run(&[&"recover", &root]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(out.contains("errors 1:") && out.contains(&hex) && out.contains("ELOOP"), "{out}");
}

#[test]
fn recover_json_lists_reclaimed_ids_as_hex() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("root");
    fs::create_dir(&root).unwrap();
    let hex = id_hex(0xabc);
    fs::write(root.join(format!("{hex}.lock")), b"").unwrap();
    fs::create_dir(root.join(format!("{hex}.data"))).unwrap();
    fs::write(root.join("stray"), b"").unwrap();
    let o = run(&[&"recover", &root, &"--json"]);
    assert!(o.status.success());
    let doc = json(&o);
    assert_eq!(doc["report"]["reclaimed"], serde_json::json!([hex]));
    assert_eq!(doc["report"]["foreign"], serde_json::json!(["stray"]));
    assert!(root.join("stray").exists());
    assert_eq!(fs::read_dir(&root).unwrap().count(), 1);
}

#[test]
fn status_lists_a_stale_instance_and_changes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("root");
    fs::create_dir(&root).unwrap();
    let hex = id_hex(0xabc);
    fs::write(root.join(format!("{hex}.lock")), b"").unwrap();
    fs::create_dir(root.join(format!("{hex}.data"))).unwrap();
    let o = run(&[&"--json", &"status", &root]);
    assert!(o.status.success());
    let doc = json(&o);
    assert_eq!(doc["status"]["instances"][0]["id"], hex);
    assert_eq!(doc["status"]["instances"][0]["state"], "stale");
    let o = run(&[&"status", &root]);
    assert!(stdout(&o).contains(&format!("{hex}  stale")), "{}", stdout(&o));
    assert_eq!(fs::read_dir(&root).unwrap().count(), 2);
}

#[test]
fn status_of_a_missing_root_exits_2_and_creates_nothing() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("root");
    let o = run(&[&"status", &root]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("ENOENT") && stderr(&o).contains(&root.display().to_string()));
    assert!(!root.exists());
}

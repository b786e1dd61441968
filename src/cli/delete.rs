//! `stagedir delete --root ROOT [--compare] PATH...`: the staging protocol
//! as a store uses it. Takes the store lock (`ROOT.store-lock` beside ROOT,
//! flock(2), standing in for the caller's global lock), stages every PATH
//! into one instance, releases the store lock, then cleans up, and prints
//! how long the store lock was held and the total time.
//!
//! The instance is created before the store lock is taken: creating one
//! touches nothing of the store, so it need not be in the critical section.
//!
//! `--compare` first copies every PATH to a sibling `PATH.stagedir-compare`
//! (not timed; then sync(2) so that writeback of the copy does not run
//! inside either timing), and after the staged run removes the copies
//! plainly (std `remove_dir_all`) under the same store lock, timing how long
//! the lock is held that way.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use stagedir::fs::id_hex;
use stagedir::{Options, RealFs, StagingRoot};

use super::output::{human, ms, Global};
use super::progress::{remove_plain, with_spinner, Counting};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The staging root (created, mode 0700, if missing). Must be on the
    /// same filesystem as the PATHs.
    #[arg(long)]
    root: PathBuf,
    /// Also time plain removal of an identical copy under the store lock.
    #[arg(long)]
    compare: bool,
    /// Files, directories or symlinks to delete (a symlink is deleted, not
    /// followed).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

/// `ROOT.store-lock`, beside ROOT.
fn store_lock_path(root: &Path) -> PathBuf {
    let mut name = root.file_name().unwrap_or_default().to_os_string();
    name.push(".store-lock");
    root.with_file_name(name)
}

/// Takes the store lock (blocking flock(2)); released when the file drops.
fn store_lock(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = File::options().read(true).write(true).create(true).truncate(false).mode(0o600).open(path)?;
    f.lock()?;
    Ok(f)
}

/// Copies a tree without following symlinks; returns how many entries
/// (the top included) it made.
fn copy_tree(from: &Path, to: &Path) -> io::Result<u64> {
    let meta = fs::symlink_metadata(from)?;
    let kind = meta.file_type();
    if kind.is_symlink() {
        std::os::unix::fs::symlink(fs::read_link(from)?, to)?;
        Ok(1)
    } else if kind.is_dir() {
        fs::create_dir(to)?;
        let mut n = 1;
        for entry in fs::read_dir(from)? {
            let entry = entry?;
            n += copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
        fs::set_permissions(to, meta.permissions())?;
        Ok(n)
    } else if kind.is_file() {
        fs::copy(from, to)?;
        Ok(1)
    } else {
        Err(io::Error::other("special file: --compare copies only files, directories and symlinks"))
    }
}

fn compare_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(".stagedir-compare");
    PathBuf::from(s)
}

struct Compare {
    entries: u64,
    held: Duration,
}

impl Args {
    pub fn run(self, g: &Global) -> ExitCode {
        // Copies for --compare, before any timing.
        let mut copies = Vec::new();
        let mut copied = 0;
        if self.compare {
            for p in &self.paths {
                let to = compare_path(p);
                if fs::symlink_metadata(&to).is_ok() {
                    let e = io::Error::from_raw_os_error(stagedir::fs::Errno::EEXIST.0);
                    return g.fail_io("cannot make the --compare copy", &to, &e);
                }
                match copy_tree(p, &to) {
                    Ok(n) => copied += n,
                    Err(e) => return g.fail_io("cannot copy for --compare to", &to, &e),
                }
                copies.push(to);
            }
            rustix::fs::sync();
        }

        let t_total = Instant::now();
        let (fs, removed) = Counting::new(RealFs::new());
        let root = match StagingRoot::open_with(&self.root, fs, Options::default()) {
            Ok(r) => r,
            Err(e) => return g.fail_api(&e),
        };
        let mut inst = match root.create_instance() {
            Ok(i) => i,
            Err(e) => return g.fail_api(&e),
        };
        let lock_path = store_lock_path(root.path());

        // The critical section: one rename per path.
        let lock = match store_lock(&lock_path) {
            Ok(f) => f,
            Err(e) => return g.fail_io("cannot take the store lock", &lock_path, &e),
        };
        let t_lock = Instant::now();
        let staged: Vec<_> = self.paths.iter().map(|p| (p, inst.stage(p))).collect();
        let unlocked = lock.unlock();
        let held = t_lock.elapsed();
        drop(lock);
        if let Err(e) = unlocked {
            return g.fail_io("cannot release the store lock", &lock_path, &e);
        }

        // Outside the lock: the slow part.
        let before = removed.load(Ordering::Relaxed);
        let t_clean = Instant::now();
        let cleaned = with_spinner("removing staged trees", g.json, Some(&removed), || inst.cleanup());
        let clean_time = t_clean.elapsed();
        let total = t_total.elapsed();
        // The data directory's rmdir and the lock file's unlink are not entries.
        let entries = (removed.load(Ordering::Relaxed) - before).saturating_sub(2);

        let compare = if self.compare {
            let lock = match store_lock(&lock_path) {
                Ok(f) => f,
                Err(e) => return g.fail_io("cannot take the store lock", &lock_path, &e),
            };
            let t = Instant::now();
            let result = with_spinner("removing the copy plainly (store lock held)", g.json, None, || {
                copies.iter().try_for_each(|c| remove_plain(c).map_err(|e| (c.clone(), e)))
            });
            let held_plain = t.elapsed();
            drop(lock);
            if let Err((c, e)) = result {
                return g.fail_io("cannot remove the --compare copy", &c, &e);
            }
            Some(Compare { entries: copied, held: held_plain })
        } else {
            None
        };

        let failed: Vec<_> = staged.iter().filter_map(|(p, r)| r.as_ref().err().map(|e| (p, e))).collect();
        let ratio = compare.as_ref().map(|c| c.held.as_secs_f64() / held.as_secs_f64().max(1e-9));
        if g.json {
            let paths: Vec<_> = staged
                .iter()
                .map(|(p, r)| match r {
                    Ok(to) => serde_json::json!({"path": p, "staged_as": to}),
                    Err(e) => serde_json::json!({"path": p, "error": e.to_string(), "errno": e.errno().name()}),
                })
                .collect();
            let doc = serde_json::json!({
                "root": root.path(),
                "instance": id_hex(inst.id()),
                "paths": paths,
                "store_lock": lock_path,
                "store_lock_held_ms": ms(held),
                "entries_removed": entries,
                "cleanup_ms": ms(clean_time),
                "cleanup_error": cleaned.as_ref().err().map(|e| e.to_string()),
                "total_ms": ms(total),
                "compare": compare.as_ref().map(|c| serde_json::json!({
                    "entries_copied": c.entries,
                    "store_lock_held_ms": ms(c.held),
                    "ratio": ratio,
                })),
            });
            println!("{doc}");
        } else {
            let ok = staged.len() - failed.len();
            println!(
                "staged {ok} of {} path(s) into instance {} ({})",
                staged.len(),
                id_hex(inst.id()),
                inst.data_dir().display()
            );
            for (p, e) in &failed {
                eprintln!("stagedir: error: {} not staged (left untouched): {e}", p.display());
            }
            println!("store lock held: {} ({} rename(s); lock file {})", human(held), staged.len(), lock_path.display());
            match &cleaned {
                Ok(()) => println!("cleanup (store lock released): {entries} entries removed in {}", human(clean_time)),
                Err(e) => eprintln!("stagedir: error: cleanup failed, instance left for `stagedir recover`: {e}"),
            }
            println!("total: {}", human(total));
            if let (Some(c), Some(r)) = (&compare, ratio) {
                println!(
                    "compare: plain removal of an identical copy ({} entries) held the store lock {}",
                    c.entries,
                    human(c.held)
                );
                println!("ratio: the store lock was held {r:.0}x shorter with staging");
            }
        }
        if cleaned.is_ok() && failed.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        }
    }
}

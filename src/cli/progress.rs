//! Progress on removals that take over a second: a backend wrapper that
//! counts removed names, and a spinner that appears after one second.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use stagedir::fs::{Fs, Op, OpResult};

/// How long a removal runs before the spinner appears.
pub const QUIET_FOR: Duration = Duration::from_secs(1);

/// Passes every operation to `inner` and counts successful unlink(2) and
/// rmdir(2) calls (the Cleanup machine runs one operation at a time).
pub struct Counting<F> {
    inner: F,
    removed: Arc<AtomicU64>,
}

impl<F> Counting<F> {
    pub fn new(inner: F) -> (Self, Arc<AtomicU64>) {
        let removed = Arc::new(AtomicU64::new(0));
        (Counting { inner, removed: Arc::clone(&removed) }, removed)
    }
}

impl<F: Fs> Fs for Counting<F> {
    fn execute(&mut self, op: &Op) -> OpResult {
        let r = self.inner.execute(op);
        if r.is_ok() && matches!(op, Op::Unlink { .. } | Op::Rmdir { .. }) {
            self.removed.fetch_add(1, Ordering::Relaxed);
        }
        r
    }
}

/// Runs `work`; if it is still running after [`QUIET_FOR`], shows a spinner
/// on stderr (unless `quiet`, or stderr is not a terminal) with the count
/// read from `counter` (`None`: elapsed time only).
pub fn with_spinner<R>(label: &str, quiet: bool, counter: Option<&AtomicU64>, work: impl FnOnce() -> R) -> R {
    let (done_tx, done_rx) = mpsc::channel::<()>();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            if quiet || done_rx.recv_timeout(QUIET_FOR) != Err(mpsc::RecvTimeoutError::Timeout) {
                return;
            }
            let template = match counter {
                Some(_) => "{spinner} {msg}: {pos} entries removed ({elapsed})",
                None => "{spinner} {msg} ({elapsed})",
            };
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
                .with_style(ProgressStyle::with_template(template).expect("valid template"))
                .with_message(label.to_owned());
            loop {
                if let Some(c) = counter {
                    bar.set_position(c.load(Ordering::Relaxed));
                }
                bar.tick();
                if done_rx.recv_timeout(Duration::from_millis(100)) != Err(mpsc::RecvTimeoutError::Timeout) {
                    break;
                }
            }
            bar.finish_and_clear();
        });
        let out = work();
        drop(done_tx);
        out
    })
}

/// Plain removal of `path` without following symlinks (std's
/// `remove_dir_all` for a directory, `remove_file` otherwise).
pub fn remove_plain(path: &Path) -> std::io::Result<()> {
    if std::fs::symlink_metadata(path)?.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    }
}

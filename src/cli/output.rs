//! Printing results and errors as text or JSON.

use std::fmt::Display;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use stagedir::fs::Errno;

/// Options every subcommand sees.
#[derive(Debug, Clone, Copy)]
pub struct Global {
    /// One JSON document on stdout instead of text.
    pub json: bool,
}

impl Global {
    /// Prints an error naming `path` and `errno` (text on stderr, or a JSON
    /// object on stdout) and returns exit code 2.
    pub fn fail(&self, message: impl Display, errno: Option<Errno>, path: Option<&Path>) -> ExitCode {
        if self.json {
            let doc = serde_json::json!({
                "error": message.to_string(),
                "errno": errno.and_then(Errno::name),
                "path": path.map(|p| p.display().to_string()),
            });
            println!("{doc}");
        } else {
            eprintln!("stagedir: error: {message}");
        }
        ExitCode::from(2)
    }

    /// [`Global::fail`] for an API error.
    pub fn fail_api(&self, err: &stagedir::Error) -> ExitCode {
        self.fail(err, Some(err.errno()), err.path())
    }

    /// [`Global::fail`] for an `io::Error` about `path`.
    pub fn fail_io(&self, what: &str, path: &Path, err: &std::io::Error) -> ExitCode {
        let errno = Errno::from_io(err);
        self.fail(format_args!("{what} {}: {errno}", path.display()), Some(errno), Some(path))
    }
}

/// A duration for people: µs below 1 ms, ms below 1 s, else s.
pub fn human(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1e-3 {
        format!("{:.1} µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.3} ms", s * 1e3)
    } else {
        format!("{s:.3} s")
    }
}

/// A duration for scripts: milliseconds as a float.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

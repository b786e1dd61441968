//! `stagedir recover ROOT`: one recovery pass; prints the report. Exit 1 if
//! any id failed (its lock file stays; the next pass retries it).

use std::path::PathBuf;
use std::process::ExitCode;

use stagedir::fs::id_hex;
use stagedir::StagingRoot;

use super::output::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The staging root (must exist).
    root: PathBuf,
}

impl Args {
    pub fn run(self, g: &Global) -> ExitCode {
        let root = match StagingRoot::open_existing(&self.root) {
            Ok(r) => r,
            Err(e) => return g.fail_api(&e),
        };
        let report = match root.recover() {
            Ok(r) => r,
            Err(e) => return g.fail_api(&e),
        };
        if g.json {
            let doc = serde_json::json!({ "root": root.path(), "report": report });
            println!("{doc}");
        } else {
            let ids = |v: &[u128]| v.iter().map(|id| format!("  {}\n", id_hex(*id))).collect::<String>();
            print!("reclaimed {}:\n{}", report.reclaimed.len(), ids(&report.reclaimed));
            print!("live {}:\n{}", report.live.len(), ids(&report.live));
            print!("raced {}:\n{}", report.raced.len(), ids(&report.raced));
            println!("foreign {}:", report.foreign.len());
            for name in &report.foreign {
                println!("  {}", name.escape_debug());
            }
            println!("errors {}:", report.errors.len());
            for (id, e) in &report.errors {
                println!("  {}: {e}", id_hex(*id));
            }
        }
        if report.errors.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }
    }
}

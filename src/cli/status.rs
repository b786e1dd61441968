//! `stagedir status ROOT`: lists instances as live or stale, changing
//! nothing (see `stagedir::protocol::status`). Exit 1 if some id could not
//! be read.

use std::path::PathBuf;
use std::process::ExitCode;

use stagedir::fs::id_hex;
use stagedir::{Liveness, StagingRoot};

use super::output::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The staging root (must exist; never created).
    root: PathBuf,
}

impl Args {
    pub fn run(self, g: &Global) -> ExitCode {
        let root = match StagingRoot::open_existing(&self.root) {
            Ok(r) => r,
            Err(e) => return g.fail_api(&e),
        };
        let report = match root.status() {
            Ok(r) => r,
            Err(e) => return g.fail_api(&e),
        };
        if g.json {
            let doc = serde_json::json!({ "root": root.path(), "status": report });
            println!("{doc}");
        } else {
            if report.instances.is_empty() {
                println!("no instances");
            }
            for i in &report.instances {
                let state = match i.state {
                    Liveness::Live => "live",
                    Liveness::Stale => "stale",
                };
                let lock = if i.lock_file { "lock" } else { "no lock file" };
                let data = if i.data { "data" } else { "no data" };
                println!("{}  {state:<5}  {lock}, {data}", id_hex(i.id));
            }
            for name in &report.foreign {
                println!("foreign: {}", name.escape_debug());
            }
            for (id, e) in &report.errors {
                println!("error: {}: {e}", id_hex(*id));
            }
        }
        if report.errors.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }
    }
}

//! `stagedir replay TOKEN`: replays a schedule printed by `check` (or any
//! checker) and prints the identical trace.

use std::path::PathBuf;
use std::process::ExitCode;

use stagedir::check::{swimlane, token, trace};

use super::output::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The replay token (`sd1~...`), as printed after a counterexample.
    token: String,
    /// Also write a Mermaid sequence diagram to FILE.
    #[arg(long, value_name = "FILE")]
    mermaid: Option<PathBuf>,
}

impl Args {
    pub fn run(self, g: &Global) -> ExitCode {
        let (scn, actions) = match token::decode(&self.token) {
            Ok(x) => x,
            Err(e) => return g.fail(e, None, None),
        };
        let t = match trace::replay(&scn, &actions) {
            Ok(t) => t,
            Err(e) => return g.fail(e, None, None),
        };
        if let Some(path) = &self.mermaid {
            if let Err(e) = std::fs::write(path, swimlane::mermaid(&t)) {
                return g.fail_io("write", path, &e);
            }
        }
        if g.json {
            let records: Vec<String> =
                t.records.iter().chain(&t.final_records).enumerate().map(|(n, r)| trace::line(n + 1, r)).collect();
            let doc = serde_json::json!({
                "scenario": scn.describe(),
                "variant": scn.variant.name(),
                "steps": records,
                "violation": t.violation.as_ref().map(|v| serde_json::json!({
                    "invariant": v.invariant.code(),
                    "detail": v.detail,
                })),
            });
            println!("{doc}");
        } else {
            print!("{}", swimlane::render(&t, &actions));
        }
        if t.violation.is_some() {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        }
    }
}

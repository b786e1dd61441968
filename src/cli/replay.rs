//! `stagedir replay TOKEN`: replays a schedule printed by `check` (or any
//! checker) and prints the identical trace. `stagedir replay --fuzz FILE`
//! turns a cargo-fuzz finding into a token first (decode, replay, shrink).

use std::path::PathBuf;
use std::process::ExitCode;

use stagedir::check::{fuzz, swimlane, token, trace};

use super::output::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The replay token (`sd1~...`), as printed after a counterexample.
    #[arg(required_unless_present = "fuzz", conflicts_with = "fuzz")]
    token: Option<String>,
    /// A cargo-fuzz input (a finding under `fuzz/artifacts/<target>/`, or a
    /// corpus entry) to decode, shrink and replay instead of a token.
    #[arg(long, value_name = "FILE")]
    fuzz: Option<PathBuf>,
    /// Also write a Mermaid sequence diagram to FILE.
    #[arg(long, value_name = "FILE")]
    mermaid: Option<PathBuf>,
}

impl Args {
    pub fn run(self, g: &Global) -> ExitCode {
        let tok = match (&self.token, &self.fuzz) {
            (Some(t), _) => t.clone(),
            (None, Some(file)) => match fuzz::token_from_fuzz_file(file) {
                Ok(t) => t,
                Err(e) => return g.fail(&e, None, Some(file)),
            },
            (None, None) => unreachable!("clap requires one"),
        };
        let (scn, actions) = match token::decode(&tok) {
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

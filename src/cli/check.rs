//! `stagedir check`: every variant under every checker that applies, a
//! verdict table, and a readable, replayable counterexample for every
//! violation. Exit 0 when `reference` holds everywhere, 1 when it does not.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};
use stagedir::check::suite::{self, Checker, Options, Progress, Row, Verdict};
use stagedir::check::{swimlane, token, trace};
use stagedir::fs::sim::LockKind;
use stagedir::variants::Variant;

use super::output::Global;

/// The lock kind a scenario runs on.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LockKindArg {
    /// flock(2): owned by the open file description.
    Flock,
    /// fcntl F_OFD_SETLK: owned by the open file description.
    Ofd,
    /// fcntl F_SETLK: owned by the process.
    Posix,
}

impl From<LockKindArg> for LockKind {
    fn from(k: LockKindArg) -> LockKind {
        match k {
            LockKindArg::Flock => LockKind::Flock,
            LockKindArg::Ofd => LockKind::Ofd,
            LockKindArg::Posix => LockKind::Posix,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Variants to check (repeat or comma-separate); default: all.
    #[arg(long, value_delimiter = ',', value_parser = Variant::from_name)]
    variant: Vec<Variant>,
    /// Checkers to run (repeat or comma-separate); default: all.
    #[arg(long, value_delimiter = ',', value_parser = Checker::from_name)]
    checker: Vec<Checker>,
    /// Processes (creators + recoverers) in the main scenario.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=8))]
    processes: Option<u8>,
    /// Size of the id space (1 forces every instance to reuse one name).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=16))]
    ids: Option<u8>,
    /// Lock kind for every scenario (a variant that fixes its own keeps it).
    #[arg(long, value_enum)]
    lock_kind: Option<LockKindArg>,
    /// Schedules per random checker.
    #[arg(long)]
    iterations: Option<u64>,
    /// Seed for the random checkers.
    #[arg(long)]
    seed: Option<u64>,
    /// Write a Mermaid sequence diagram of each counterexample to FILE (with
    /// `-<variant>-<checker>` added before the extension when there are
    /// several).
    #[arg(long, value_name = "FILE")]
    mermaid: Option<PathBuf>,
}

impl Args {
    pub fn run(self, g: &Global) -> ExitCode {
        let opts = Options {
            variants: self.variant,
            checkers: self.checker,
            processes: self.processes,
            ids: self.ids,
            lock_kind: self.lock_kind.map(Into::into),
            iterations: self.iterations,
            seed: self.seed,
        };
        let bar = if std::io::stderr().is_terminal() && !g.json {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{elapsed:>4} [{bar:30}] {pos}/{len} {msg}")
                    .expect("template")
                    .progress_chars("=> "),
            );
            Some(bar)
        } else {
            None
        };
        let rows = suite::run(&opts, &mut |p| {
            let Some(bar) = &bar else { return };
            match p {
                Progress::Start { index, total, variant, checker, scenario } => {
                    bar.set_length(total as u64);
                    bar.set_position(index as u64);
                    bar.set_message(format!("{variant} {checker} {}", scenario.describe()));
                }
                Progress::States(n) => bar.set_message(format!("… {n} states")),
            }
        });
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        let reference_holds = rows
            .iter()
            .filter(|r| r.variant == Variant::Reference)
            .all(|r| r.verdict == Verdict::Holds);
        let violations: Vec<&Row> = rows.iter().filter(|r| r.counterexample.is_some()).collect();
        if let Some(file) = &self.mermaid {
            for row in &violations {
                let path = if violations.len() == 1 { file.clone() } else { suffixed(file, row) };
                let (actions, _) = row.counterexample.as_ref().expect("violation");
                let t = trace::replay(&row.scenario, actions).expect("a found schedule replays");
                if let Err(e) = std::fs::write(&path, swimlane::mermaid(&t)) {
                    return g.fail_io("write", &path, &e);
                }
            }
        }
        if g.json {
            println!("{}", json(&rows, reference_holds));
        } else {
            print_text(&rows, &violations);
        }
        if reference_holds {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }
    }
}

fn suffixed(file: &Path, row: &Row) -> PathBuf {
    let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let ext = file.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    file.with_file_name(format!("{stem}-{}-{}{ext}", row.variant, row.checker))
}

fn print_text(rows: &[Row], violations: &[&Row]) {
    print!("{}", suite::table(rows));
    // One trace per variant and invariant: the shortest found.
    let mut shown: Vec<&Row> = Vec::new();
    for row in violations {
        let (actions, violation) = row.counterexample.as_ref().expect("violation");
        let same = shown.iter().position(|r| {
            r.variant == row.variant && r.counterexample.as_ref().expect("violation").1.invariant == violation.invariant
        });
        match same {
            Some(k) if shown[k].counterexample.as_ref().expect("violation").0.len() > actions.len() => shown[k] = row,
            Some(_) => {}
            None => shown.push(row),
        }
    }
    for row in shown {
        let (actions, violation) = row.counterexample.as_ref().expect("violation");
        println!("\n=== {} under {}: {}", row.variant, row.checker, violation.invariant);
        let t = trace::replay(&row.scenario, actions).expect("a found schedule replays");
        print!("{}", swimlane::render(&t, actions));
    }
    println!();
    for v in Variant::all() {
        let mine: Vec<&Row> = rows.iter().filter(|r| r.variant == v).collect();
        if mine.is_empty() {
            continue;
        }
        let broken: Vec<String> = mine
            .iter()
            .filter_map(|r| match &r.verdict {
                Verdict::Violated(i) => Some(format!("{} ({}, {})", i.code(), r.checker, r.scenario.describe())),
                _ => None,
            })
            .collect();
        let summary = if !broken.is_empty() {
            format!("VIOLATED: {}", broken.join("; "))
        } else {
            let bounds: Vec<String> = mine.iter().map(|r| format!("{} {}", r.checker, r.scenario.describe())).collect();
            format!("nothing found under: {}", bounds.join("; "))
        };
        let note = if v.is_mutant() && broken.is_empty() { "  <- mutant SURVIVED" } else { "" };
        let unclaimed = v.layout().unclaimed();
        let claims = if unclaimed.is_empty() {
            String::new()
        } else {
            format!(" (does not claim {}: not checked)", unclaimed.join(", "))
        };
        println!("{v}: {summary}{claims}{note}");
    }
}

fn json(rows: &[Row], reference_holds: bool) -> serde_json::Value {
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let (verdict, invariant) = match &r.verdict {
                Verdict::Holds => ("holds", None),
                Verdict::Incomplete => ("incomplete", None),
                Verdict::Violated(i) => ("violated", Some(i.code())),
            };
            let cex = r.counterexample.as_ref().map(|(actions, v)| {
                serde_json::json!({
                    "detail": v.detail,
                    "steps": actions.len(),
                    "token": token::encode(&r.scenario, actions),
                })
            });
            serde_json::json!({
                "variant": r.variant.name(),
                "checker": r.checker.name(),
                "scenario": r.scenario.describe(),
                "explored": r.explored,
                "seconds": r.seconds,
                "verdict": verdict,
                "invariant": invariant,
                "counterexample": cex,
            })
        })
        .collect();
    serde_json::json!({ "reference_holds": reference_holds, "rows": rows })
}

//! Replaying a schedule into a trace, and printing it one line a step.

use std::fmt::Write;

use super::oracle::Violation;
use super::scenario::Scenario;
use super::world::{Action, Record, World};
use crate::fs::Value;

/// A replayed schedule: every step's record, where it broke, and the final
/// recovery pass when the schedule reached a terminal state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    pub scenario: Scenario,
    pub records: Vec<Record>,
    /// Records of the final fault-free recovery pass (INV-5), if it ran.
    pub final_records: Vec<Record>,
    pub violation: Option<Violation>,
    /// The world after the last record, for showing the breaking state.
    pub end: World,
}

/// Why a schedule could not be replayed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("step {index} of the schedule ({action:?}) is not enabled in that state")]
pub struct ReplayError {
    pub index: usize,
    pub action: Action,
}

/// Replays `actions` from the initial world of `scn`, judging every step.
/// Stops at the first violation. When the schedule ends in a terminal state
/// without one, runs the final recovery pass (INV-5).
///
/// # Errors
/// [`ReplayError`] when an action is not enabled (a schedule from another
/// scenario or version).
pub fn replay(scn: &Scenario, actions: &[Action]) -> Result<Trace, ReplayError> {
    let mut world = World::new(scn);
    let mut records = Vec::with_capacity(actions.len());
    for (index, &action) in actions.iter().enumerate() {
        let (record, violation) = world.try_apply(scn, action).ok_or(ReplayError { index, action })?;
        records.push(record);
        if violation.is_some() {
            return Ok(Trace { scenario: scn.clone(), records, final_records: Vec::new(), violation, end: world });
        }
    }
    let (final_records, violation) =
        if world.is_terminal() { world.final_check(scn) } else { (Vec::new(), None) };
    Ok(Trace { scenario: scn.clone(), records, final_records, violation, end: world })
}

fn result_text(r: &Record) -> String {
    match &r.result {
        None => "CRASH".to_string(),
        Some(Ok(Value::Unit)) => "ok".to_string(),
        Some(Ok(v)) => v.to_string(),
        Some(Err(e)) => e.name().unwrap_or("?").to_string(),
    }
}

/// One line of a trace: `#n pid op -> result`.
pub fn line(n: usize, r: &Record) -> String {
    let op = match &r.op {
        None => "crash".to_string(),
        Some(op) => op.to_string(),
    };
    let fault = if matches!(r.action, Action::Fault(..)) { " [injected]" } else { "" };
    let exit = if r.exited { "  (exit)" } else { "" };
    format!("{n:>4}  p{}  {op} -> {}{fault}{exit}", r.pid, result_text(r))
}

/// The trace as plain lines, the violation last.
pub fn render_lines(t: &Trace) -> String {
    let mut s = String::new();
    for (n, r) in t.records.iter().enumerate() {
        let _ = writeln!(s, "{}", line(n + 1, r));
    }
    if !t.final_records.is_empty() {
        let _ = writeln!(s, "      -- every process has ended; final recovery pass --");
        for (n, r) in t.final_records.iter().enumerate() {
            let _ = writeln!(s, "{}", line(t.records.len() + n + 1, r));
        }
    }
    match &t.violation {
        Some(v) => {
            let _ = writeln!(s, "{v}");
        }
        None => {
            let _ = writeln!(s, "no invariant broken");
        }
    }
    s
}

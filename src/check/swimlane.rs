//! Counterexamples a person can read: swimlanes (one column per process,
//! one row per step) and Mermaid sequence diagrams.

use std::fmt::Write;

use std::path::Path;

use super::scenario::OUTSIDE;
use super::token;
use super::trace::Trace;
use super::world::{Action, Record};
use crate::fs::sim::Pid;
use crate::fs::Value;
use crate::variants::Role;

/// Width of one process column, in characters.
pub const COLUMN_WIDTH: usize = 44;

/// Shortens every 32-hex-digit id in `s` to `#<hex without leading
/// zeros>` (`/r/000…01.lock` becomes `/r/#1.lock`).
pub fn shorten_ids(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        let run = b[i..].iter().take_while(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c)).count();
        if run == 32 {
            let hex = s[i..i + 32].trim_start_matches('0');
            let hex = if hex.is_empty() { "0" } else { hex };
            let hex = if hex.len() > 8 { &hex[..8] } else { hex };
            let _ = write!(out, "#{hex}");
            i += 32;
        } else if run > 0 {
            out.push_str(&s[i..i + run]);
            i += run;
        } else {
            let ch = s[i..].chars().next().expect("char");
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

fn cell(r: &Record) -> String {
    let op = match &r.op {
        None => return "** CRASH **".to_string(),
        Some(op) => shorten_ids(&op.to_string()),
    };
    let res = match &r.result {
        Some(Ok(Value::Unit)) | None => "ok".to_string(),
        Some(Ok(Value::Id(id))) => format!("#{id:x}"),
        Some(Ok(v)) => shorten_ids(&v.to_string()),
        Some(Err(e)) => e.name().unwrap_or("?").to_string(),
    };
    let fault = if matches!(r.action, Action::Fault(..)) { " (injected)" } else { "" };
    let exit = if r.exited { " [exit]" } else { "" };
    format!("{op} → {res}{fault}{exit}")
}

/// Wraps `s` into lines of at most `width` characters.
fn wrap(s: &str, width: usize) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    chars.chunks(width).map(|c| c.iter().collect()).collect()
}

/// The column headers: one per process (pid), named by role.
fn lanes(t: &Trace) -> Vec<(Pid, String)> {
    let mut lanes: Vec<(Pid, String)> = Vec::new();
    let first_status = t.scenario.creators as usize + t.scenario.recoverers as usize;
    for (i, p) in t.end.procs.iter().enumerate() {
        let role = if p.program.is_recoverer() {
            "recoverer"
        } else if t.scenario.statuses > 0 && i >= first_status {
            // Status threads come after the recoverers (`World::new`).
            "status"
        } else {
            "creator"
        };
        match lanes.iter_mut().find(|(pid, _)| *pid == p.pid) {
            Some((_, label)) => label.push_str(&format!("+{role}")),
            None => lanes.push((p.pid, format!("p{} {role}", p.pid))),
        }
    }
    for r in &t.final_records {
        if !lanes.iter().any(|(pid, _)| *pid == r.pid) {
            lanes.push((r.pid, format!("p{} final recovery", r.pid)));
        }
    }
    lanes
}

/// Renders a trace as swimlanes, then the broken invariant, the state of
/// ROOT that shows it, and the replay token.
pub fn render(t: &Trace, actions: &[Action]) -> String {
    let lanes = lanes(t);
    let mut s = String::new();
    let _ = writeln!(s, "scenario: {} {}", t.scenario.variant, t.scenario.describe());
    let _ = write!(s, "{:>5} ", "step");
    for (_, label) in &lanes {
        let _ = write!(s, "| {label:<COLUMN_WIDTH$}");
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "{}", "-".repeat(6 + lanes.len() * (COLUMN_WIDTH + 2)));
    let row = |s: &mut String, n: usize, r: &Record| {
        let col = lanes.iter().position(|(pid, _)| *pid == r.pid).expect("lane");
        for (k, part) in wrap(&cell(r), COLUMN_WIDTH).into_iter().enumerate() {
            if k == 0 {
                let _ = write!(s, "{n:>5} ");
            } else {
                let _ = write!(s, "{:>5} ", "");
            }
            for c in 0..lanes.len() {
                let text = if c == col { part.as_str() } else { "" };
                let _ = write!(s, "| {text:<COLUMN_WIDTH$}");
            }
            let _ = writeln!(s);
        }
    };
    for (n, r) in t.records.iter().enumerate() {
        row(&mut s, n + 1, r);
    }
    if !t.final_records.is_empty() {
        let _ = writeln!(s, "{:>5}   (every process has ended: one fault-free recovery pass runs alone)", "");
        for (n, r) in t.final_records.iter().enumerate() {
            row(&mut s, t.records.len() + n + 1, r);
        }
    }
    match &t.violation {
        Some(v) => {
            let _ = writeln!(s, "\nBROKEN: {}\n  {}", v.invariant, shorten_ids(&v.detail));
        }
        None => {
            let _ = writeln!(s, "\nno invariant broken");
        }
    }
    // A symlink ROOT (`Scenario::symlink_root`): show where it points.
    let shown = if t.scenario.symlink_root { Path::new(OUTSIDE) } else { t.scenario.root() };
    if t.scenario.symlink_root {
        let _ = writeln!(s, "state of {} -> {} after the last step:", t.scenario.root().display(), shown.display());
    } else {
        let _ = writeln!(s, "state of {} after the last step:", shown.display());
    }
    let tree = t.end.fs.tree(shown);
    if tree.is_empty() {
        let _ = writeln!(s, "  (empty)");
    }
    for (path, kind) in tree {
        let holders = t.end.fs.lock_holders(&path);
        let held = if holders.is_empty() {
            String::new()
        } else {
            let pids: Vec<String> = holders.iter().map(|p| format!("p{p}")).collect();
            format!("  locked by {}", pids.join(","))
        };
        let _ = writeln!(s, "  {} ({kind:?}){held}", shorten_ids(&path.display().to_string()));
    }
    let owners = super::oracle::owners(&t.end);
    if !owners.is_empty() {
        let o: Vec<String> = owners.iter().map(|(_, p, id)| format!("p{p} owns #{id:x}")).collect();
        let _ = writeln!(s, "owners: {}", o.join(", "));
    }
    let _ = writeln!(s, "replay: stagedir replay '{}'", token::encode(&t.scenario, actions));
    // No trailing blanks from padded empty columns.
    s.lines().map(|l| format!("{}\n", l.trim_end())).collect()
}

/// Renders a trace as a Mermaid sequence diagram.
pub fn mermaid(t: &Trace) -> String {
    let mut s = String::from("sequenceDiagram\n");
    for (pid, label) in lanes(t) {
        let _ = writeln!(s, "    participant p{pid} as {label}");
    }
    let _ = writeln!(s, "    participant FS as filesystem");
    for r in t.records.iter().chain(&t.final_records) {
        match &r.op {
            None => {
                let _ = writeln!(s, "    Note over p{}: CRASH", r.pid);
            }
            Some(op) => {
                let _ = writeln!(s, "    p{}->>FS: {}", r.pid, shorten_ids(&op.to_string()).replace(';', ","));
                let res = match &r.result {
                    Some(Ok(v)) => shorten_ids(&v.to_string()),
                    Some(Err(e)) => e.name().unwrap_or("?").to_string(),
                    None => String::new(),
                };
                let _ = writeln!(s, "    FS-->>p{}: {res}", r.pid);
            }
        }
    }
    if let Some(v) = &t.violation {
        let _ = writeln!(s, "    Note over FS: {} violated", v.invariant.code());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortens_ids_in_paths() {
        assert_eq!(shorten_ids("/r/00000000000000000000000000000001.lock"), "/r/#1.lock");
        assert_eq!(shorten_ids("/r/00000000000000000000000000000000.data/0-x"), "/r/#0.data/0-x");
        assert_eq!(shorten_ids("fd3 abc"), "fd3 abc");
    }
}

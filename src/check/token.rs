//! Replay tokens: a scenario and a schedule in one string a person can
//! paste into `stagedir replay TOKEN`.
//!
//! Format: `sd1~<key>=<value>,...~<action>.<action>...` where an action is
//! `s<p>` (step), `d<p>-<id>` (step drawing an id), `f<p>-<ERRNO>` (injected
//! error) or `c<p>` (crash), `<p>` being the process index.

use crate::fs::sim::{LockKind, ReaddirOrder};
use crate::fs::Errno;
use crate::variants::Variant;

use super::oracle::Invariant;
use super::scenario::{ItemShape, Scenario};
use super::world::Action;

const MAGIC: &str = "sd1";

/// Encodes a scenario and a schedule.
pub fn encode(scn: &Scenario, actions: &[Action]) -> String {
    let lock = match scn.lock_kind {
        LockKind::Flock => "flock",
        LockKind::Ofd => "ofd",
        LockKind::Posix => "posix",
    };
    let order = match scn.order {
        ReaddirOrder::Name => "name",
        ReaddirOrder::ReverseName => "rev",
    };
    let shape = match scn.item_shape {
        ItemShape::File => "file",
        ItemShape::Tree => "tree",
    };
    let head = format!(
        "v={},c={},r={},n={},shape={},ids={},lock={},order={},f={},x={},a={},p={},cr={},reg={},fo={},xd={},sp={}{}{}{}{}",
        scn.variant.name(),
        scn.creators,
        scn.recoverers,
        scn.items,
        shape,
        scn.ids,
        lock,
        order,
        scn.faults,
        scn.crashes as u8,
        scn.attempts_max,
        scn.recover_passes,
        scn.cleanup_retries,
        scn.use_registry as u8,
        scn.foreign as u8,
        scn.cross_device_item as u8,
        scn.shared_process as u8,
        // Written only when set, so tokens of scenarios without them stay
        // as they were.
        if scn.statuses > 0 { format!(",st={}", scn.statuses) } else { String::new() },
        if scn.symlink_root { ",sr=1" } else { "" },
        if scn.mount_in_item { ",mi=1" } else { "" },
        if scn.past.is_empty() {
            String::new()
        } else {
            format!(",past={}", scn.past.iter().map(|i| i.code()).collect::<Vec<_>>().join("+"))
        },
    );
    let acts: Vec<String> = actions
        .iter()
        .map(|a| match *a {
            Action::Step(p) => format!("s{p}"),
            Action::Draw(p, k) => format!("d{p}-{k}"),
            Action::Fault(p, e) => format!("f{p}-{}", e.name().unwrap_or("EIO")),
            Action::Crash(p) => format!("c{p}"),
        })
        .collect();
    format!("{MAGIC}~{head}~{}", acts.join("."))
}

/// Why a token could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("bad replay token: {0}")]
pub struct TokenError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, TokenError> {
    Err(TokenError(msg.into()))
}

/// Decodes a token made by [`encode`].
///
/// # Errors
/// [`TokenError`] naming the part that is malformed.
pub fn decode(token: &str) -> Result<(Scenario, Vec<Action>), TokenError> {
    let mut parts = token.trim().splitn(3, '~');
    if parts.next() != Some(MAGIC) {
        return err(format!("does not start with `{MAGIC}~`"));
    }
    let head = parts.next().ok_or_else(|| TokenError("no scenario part".into()))?;
    let acts = parts.next().ok_or_else(|| TokenError("no schedule part".into()))?;
    let mut scn = Scenario::new(Variant::Reference, 0, 0, 1);
    for kv in head.split(',') {
        let (k, v) = kv.split_once('=').ok_or_else(|| TokenError(format!("`{kv}` is not key=value")))?;
        let num = |v: &str| v.parse::<u32>().map_err(|_| TokenError(format!("`{k}={v}`: not a number")));
        match k {
            "v" => scn.variant = Variant::from_name(v).map_err(TokenError)?,
            "c" => scn.creators = num(v)? as u8,
            "r" => scn.recoverers = num(v)? as u8,
            "n" => scn.items = num(v)? as u8,
            "shape" => {
                scn.item_shape = match v {
                    "file" => ItemShape::File,
                    "tree" => ItemShape::Tree,
                    _ => return err(format!("shape `{v}`")),
                }
            }
            "ids" => scn.ids = num(v)? as u8,
            "lock" => {
                scn.lock_kind = match v {
                    "flock" => LockKind::Flock,
                    "ofd" => LockKind::Ofd,
                    "posix" => LockKind::Posix,
                    _ => return err(format!("lock kind `{v}`")),
                }
            }
            "order" => {
                scn.order = match v {
                    "name" => ReaddirOrder::Name,
                    "rev" => ReaddirOrder::ReverseName,
                    _ => return err(format!("order `{v}`")),
                }
            }
            "f" => scn.faults = num(v)? as u8,
            "x" => scn.crashes = num(v)? != 0,
            "a" => scn.attempts_max = num(v)?,
            "p" => scn.recover_passes = num(v)? as u8,
            "cr" => scn.cleanup_retries = num(v)? as u8,
            "reg" => scn.use_registry = num(v)? != 0,
            "fo" => scn.foreign = num(v)? != 0,
            "xd" => scn.cross_device_item = num(v)? != 0,
            "sp" => scn.shared_process = num(v)? != 0,
            "st" => scn.statuses = num(v)? as u8,
            "sr" => scn.symlink_root = num(v)? != 0,
            "mi" => scn.mount_in_item = num(v)? != 0,
            "past" => {
                scn.past = v
                    .split('+')
                    .filter(|c| !c.is_empty())
                    .map(|c| {
                        Invariant::ALL
                            .into_iter()
                            .find(|i| i.code() == c)
                            .ok_or_else(|| TokenError(format!("past: unknown invariant `{c}`")))
                    })
                    .collect::<Result<_, _>>()?
            }
            _ => return err(format!("unknown key `{k}`")),
        }
    }
    if scn.statuses > 0 && scn.variant.status(scn.root(), &scn.role_params()).is_none() {
        return err(format!("st={}: {} has no status model (only the reference and its mutants do)", scn.statuses, scn.variant));
    }
    let mut actions = Vec::new();
    for a in acts.split('.').filter(|a| !a.is_empty()) {
        let (kind, rest) = a.split_at(1);
        let (p, arg) = match rest.split_once('-') {
            Some((p, arg)) => (p, Some(arg)),
            None => (rest, None),
        };
        let p: u8 = p.parse().map_err(|_| TokenError(format!("action `{a}`: bad process")))?;
        actions.push(match (kind, arg) {
            ("s", None) => Action::Step(p),
            ("c", None) => Action::Crash(p),
            ("d", Some(k)) => Action::Draw(p, k.parse().map_err(|_| TokenError(format!("action `{a}`: bad id")))?),
            ("f", Some(e)) => Action::Fault(p, Errno::from_name(e).ok_or_else(|| TokenError(format!("action `{a}`: bad errno")))?),
            _ => return err(format!("action `{a}`")),
        });
    }
    Ok((scn, actions))
}

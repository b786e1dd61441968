//! Exhaustive breadth-first search over whole-world states.
//!
//! Our own explorer rather than stateright: the world is already plain data
//! with a cheap `Hash`, and what the search needs is small (a queue, a
//! fingerprint set, parent links for the counterexample). Keeping it here
//! lets states be stored as 128-bit fingerprints (xxh3) instead of whole
//! worlds, and lets the oracle run inside the successor function with the
//! step's record at hand. BFS gives the shortest counterexample by
//! construction: states are expanded in order of depth.
//!
//! Two reductions, both on by default and both exact (`tests/reductions.rs`
//! checks them against the plain search): states are fingerprinted up to
//! exchanged recoverers and inode numbering ([`symmetry`]), and a process
//! whose next step is local has that step expanded alone ([`local`]). The
//! frontier keeps the worlds actually reached, not canonical copies, so the
//! parent links replay action by action from the initial state.

use std::collections::HashMap;
use std::time::Instant;

use super::oracle::Violation;
use super::scenario::Scenario;
use crate::variants::Role;

use super::local;
use super::symmetry::{self, Symmetry};
use super::world::{Action, World};

/// A 128-bit fingerprint of a world (xxh3-128 over its `Hash`).
pub type Fingerprint = u128;

/// The fingerprint of `w` with every process told apart (no symmetry).
pub fn fingerprint(w: &World) -> Fingerprint {
    symmetry::fingerprint(w, &Symmetry::none())
}

/// A `Hasher` that only collects the bytes it is given: the derived `Hash`
/// of a world makes hundreds of tiny writes, each cheap to append and
/// costly to feed one by one into a streaming hash. One xxh3-128 over the
/// collected bytes follows.
pub(crate) struct ByteSink<'a>(pub(crate) &'a mut Vec<u8>);

impl std::hash::Hasher for ByteSink<'_> {
    fn finish(&self) -> u64 {
        unreachable!("ByteSink collects bytes; xxh3 hashes them")
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.0.push(i);
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.0.extend_from_slice(&i.to_le_bytes());
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0.extend_from_slice(&i.to_le_bytes());
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.0.extend_from_slice(&(i as u64).to_le_bytes());
    }
    #[inline]
    fn write_isize(&mut self, i: isize) {
        self.0.extend_from_slice(&(i as u64).to_le_bytes());
    }
}

/// Hashes a fingerprint key by folding it: fingerprints are already
/// uniformly distributed, so a second hash would only cost time.
#[derive(Default, Clone, Copy)]
pub struct FoldHasher(u64);

impl std::hash::Hasher for FoldHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ *b as u64;
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = (v as u64) ^ ((v >> 64) as u64);
    }
}

/// A map keyed by fingerprints.
pub type FpMap<V> = HashMap<Fingerprint, V, std::hash::BuildHasherDefault<FoldHasher>>;

/// Bounds on one search.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Stop (verdict: incomplete) after this many unique states.
    /// Default 50,000,000 (`STAGEDIR_STATES_MAX`).
    pub states_max: u64,
    /// Worker threads expanding each level. Default: the machine's
    /// available parallelism (`STAGEDIR_THREADS`).
    pub threads: usize,
    /// Merge worlds that differ only by exchanging two creators or two
    /// recoverers, or only in inode numbers ([`symmetry`]). Default on;
    /// `STAGEDIR_SYMMETRY=0` (or `false`, `off`, `no`) turns both off.
    /// Counterexamples stay shortest.
    pub symmetry: bool,
    /// Expand a process's local step alone when it has one ([`local`]).
    /// Default on; `STAGEDIR_POR=0` (or `false`, `off`, `no`) turns it off.
    /// On a violation the
    /// search runs again without it, so the counterexample is shortest.
    pub local_steps: bool,
}

impl Default for Limits {
    fn default() -> Self {
        let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        Limits {
            states_max: env("STAGEDIR_STATES_MAX").unwrap_or(50_000_000),
            threads: env("STAGEDIR_THREADS").map(|t| t as usize).unwrap_or(cores),
            symmetry: switch("STAGEDIR_SYMMETRY"),
            local_steps: switch("STAGEDIR_POR"),
        }
    }
}

/// A default-on switch from the environment: `0`, `false`, `off` or `no`
/// (any case) turns it off.
///
/// # Panics
/// On any other value, so that a typo does not leave a reduction on
/// silently.
fn switch(name: &str) -> bool {
    match std::env::var(name) {
        Err(_) => true,
        Ok(v) => match v.to_ascii_lowercase().as_str() {
            "0" | "false" | "off" | "no" => false,
            "1" | "true" | "on" | "yes" => true,
            _ => panic!("{name}={v}: expected 0/false/off/no or 1/true/on/yes"),
        },
    }
}

/// What a search explored.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Stats {
    /// Transitions taken (successor states generated, duplicates included).
    pub transitions: u64,
    /// Distinct states reached.
    pub unique: u64,
    /// Terminal states (every process ended) checked with a final recovery.
    pub terminal: u64,
    /// The deepest level expanded (actions from the initial state).
    pub depth: u32,
    pub seconds: f64,
    /// False when `states_max` stopped the search early.
    pub complete: bool,
}

/// A violation with the shortest schedule that reaches it.
#[derive(Clone, Debug)]
pub struct Counterexample {
    pub scenario: Scenario,
    pub actions: Vec<Action>,
    /// True when the violation showed in the final recovery pass after the
    /// schedule (INV-5, or another invariant broken by that pass).
    pub in_final_recovery: bool,
    pub violation: Violation,
}

/// A successor met while expanding a level, not seen in earlier levels.
struct Candidate {
    /// Its place in the order a one-thread search would meet it: the
    /// parent's index in the frontier, then the successor's index among
    /// that parent's. Of the candidates with one fingerprint the smallest
    /// key is kept, so the next frontier, its order and every parent link
    /// are the same whatever the number of workers and whichever finished
    /// first.
    key: u64,
    parent: Fingerprint,
    action: Action,
    world: World,
}

/// The next level's states, sharded by fingerprint so that workers add
/// theirs (and drop the duplicates) concurrently, each shard under its own
/// mutex. A shard's map gives each fingerprint its key and the slot of its
/// candidate, so that ordering the level moves 16-byte keys, not worlds.
struct NextLevel {
    shards: Vec<std::sync::Mutex<Shard>>,
}

#[derive(Default)]
struct Shard {
    index: FpMap<(u64, u32)>,
    candidates: Vec<Option<(Fingerprint, Candidate)>>,
}

impl NextLevel {
    const SHARDS: usize = 64;

    /// Room for about `expected` states.
    fn new(expected: usize) -> NextLevel {
        let per = expected / Self::SHARDS;
        let shard = || Shard { index: FpMap::with_capacity_and_hasher(per, Default::default()), candidates: Vec::with_capacity(per) };
        NextLevel { shards: (0..Self::SHARDS).map(|_| std::sync::Mutex::new(shard())).collect() }
    }

    /// Keeps `c` unless a candidate with a smaller key has `fp` already.
    fn offer(&self, fp: Fingerprint, c: Candidate) {
        // The high half picks the shard; the map folds both halves.
        let shard = ((fp >> 64) as usize) % Self::SHARDS;
        let mut guard = self.shards[shard].lock().expect("shard lock");
        let Shard { index, candidates } = &mut *guard;
        match index.entry(fp) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert((c.key, u32::try_from(candidates.len()).expect("slot fits u32")));
                candidates.push(Some((fp, c)));
            }
            std::collections::hash_map::Entry::Occupied(mut e) => {
                let (key, slot) = e.get_mut();
                if c.key < *key {
                    *key = c.key;
                    candidates[*slot as usize] = Some((fp, c));
                }
            }
        }
    }

    /// The kept candidates in key order.
    fn into_sorted(self) -> Vec<(Fingerprint, Candidate)> {
        let mut shards: Vec<Shard> = self.shards.into_iter().map(|m| m.into_inner().expect("shard lock")).collect();
        let mut order: Vec<(u64, u16, u32)> = Vec::new();
        for (k, shard) in shards.iter().enumerate() {
            order.extend(shard.index.values().map(|&(key, slot)| (key, k as u16, slot)));
        }
        order.sort_unstable();
        order
            .into_iter()
            .map(|(_, k, slot)| shards[k as usize].candidates[slot as usize].take().expect("each slot is taken once"))
            .collect()
    }
}

/// The key of the `k`-th successor of the frontier's state at `pos`.
fn key(pos: usize, k: usize) -> u64 {
    assert!(k < 1 << 16 && pos < 1 << 47, "state {pos}, successor {k}: key out of range");
    ((pos as u64) << 16) | k as u64
}

/// What one worker saw in one piece of a level (its new states went to the
/// [`NextLevel`]).
struct Expanded {
    transitions: u64,
    terminal: u64,
    /// The terminal worlds met, when the caller keeps them.
    terminals: Vec<World>,
    /// The first violation in frontier order: (parent, the action that broke
    /// it or `None` for the final recovery of a terminal state, violation).
    violation: Option<(Fingerprint, Option<Action>, Violation)>,
}

/// The frontier's states `chunk`, the first at index `base`.
struct Piece<'a> {
    base: usize,
    chunk: &'a [(World, Fingerprint)],
}

/// What every worker of one level reads.
struct Ctx<'a> {
    scn: &'a Scenario,
    sym: &'a Symmetry,
    por: bool,
    keep_terminals: bool,
    seen: &'a FpMap<(Fingerprint, Action)>,
    next: &'a NextLevel,
}

fn expand(cx: &Ctx<'_>, piece: Piece<'_>) -> Expanded {
    let scn = cx.scn;
    let mut out = Expanded { transitions: 0, terminal: 0, terminals: Vec::new(), violation: None };
    let mut actions = Vec::new();
    for (i, (world, fp)) in piece.chunk.iter().enumerate() {
        let pos = piece.base + i;
        if world.is_terminal() {
            out.terminal += 1;
            if cx.keep_terminals {
                out.terminals.push(world.clone());
            }
            if let (_, Some(v)) = world.final_check(scn) {
                out.violation = Some((*fp, None, v));
                return out;
            }
            continue;
        }
        world.actions(scn, &mut actions);
        if cx.por {
            if let Some(p) = local::local_process(world, scn) {
                if expand_local(cx, world, *fp, pos, p, &actions, &mut out) {
                    continue;
                }
            }
        }
        for (k, &action) in actions.iter().enumerate() {
            let mut next = world.clone();
            let (_, violation) = next.apply(scn, action);
            out.transitions += 1;
            if let Some(v) = violation {
                out.violation = Some((*fp, Some(action), v));
                return out;
            }
            let next_fp = symmetry::fingerprint(&next, cx.sym);
            if !cx.seen.contains_key(&next_fp) {
                cx.next.offer(next_fp, Candidate { key: key(pos, k), parent: *fp, action, world: next });
            }
        }
    }
    out
}

/// Expands `frontier` on `workers` threads. The level is cut into pieces
/// (several per worker, so that a worker that finishes early takes another
/// instead of waiting); each worker owns the pieces it takes and drops
/// their worlds itself. Results come back in piece order, so the first
/// violation, like the next level ([`Candidate::key`]), does not depend on
/// which worker ran which piece.
fn expand_parallel(cx: &Ctx<'_>, mut frontier: Vec<(World, Fingerprint)>, workers: usize) -> Vec<Expanded> {
    const PIECES_PER_WORKER: usize = 8;
    let size = frontier.len().div_ceil(workers * PIECES_PER_WORKER).max(1);
    // Cut from the back, so that each cut copies only its own piece.
    let mut pieces = Vec::new();
    while !frontier.is_empty() {
        let base = (frontier.len() - 1) / size * size;
        let chunk = frontier.split_off(base);
        pieces.push(std::sync::Mutex::new(Some((base, chunk))));
    }
    pieces.reverse();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<Expanded>>> = pieces.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(piece) = pieces.get(k) else { break };
                let (base, chunk) = piece.lock().expect("piece lock").take().expect("each piece is taken once");
                let out = expand(cx, Piece { base, chunk: &chunk });
                drop(chunk);
                *results[k].lock().expect("result lock") = Some(out);
            });
        }
    });
    results.into_iter().map(|r| r.into_inner().expect("result lock").expect("every piece expanded")).collect()
}

/// Expands only process `p`'s local step (each id it may draw; not its
/// crash, which the step leaves equivalent). Returns false, having added
/// nothing, when a successor breaks one of [`local`]'s conditions: the
/// caller then expands every action.
fn expand_local(
    cx: &Ctx<'_>,
    world: &World,
    fp: Fingerprint,
    pos: usize,
    p: usize,
    actions: &[Action],
    out: &mut Expanded,
) -> bool {
    let owned = world.procs[p].program.owned();
    let mut succs = Vec::new();
    for &action in actions.iter().filter(|a| a.proc() == p && !matches!(a, Action::Crash(_) | Action::Fault(..))) {
        let mut next = world.clone();
        let (record, violation) = next.apply(cx.scn, action);
        if violation.is_some() || record.exited || next.procs[p].program.owned() != owned {
            return false;
        }
        let next_fp = symmetry::fingerprint(&next, cx.sym);
        assert_ne!(next_fp, fp, "a local step must change its process's state");
        succs.push((action, next, next_fp));
    }
    assert!(!succs.is_empty(), "a local step is enabled");
    out.transitions += succs.len() as u64;
    for (k, (action, next, next_fp)) in succs.into_iter().enumerate() {
        if !cx.seen.contains_key(&next_fp) {
            cx.next.offer(next_fp, Candidate { key: key(pos, k), parent: fp, action, world: next });
        }
    }
    true
}

/// Explores every schedule of `scn`, breadth first, level by level: the
/// states of one depth are expanded by [`Limits::threads`] workers, then
/// merged in a fixed order, so the result (and the counterexample) does not
/// depend on the number of threads. `progress` is called after each level
/// with the running figures.
///
/// With [`Limits::local_steps`] a violation makes it search again without
/// that reduction, and the second search's figures and counterexample are
/// returned: the shortest schedule may skip a local step the reduced
/// search had to take.
pub fn explore(
    scn: &Scenario,
    limits: Limits,
    progress: &mut dyn FnMut(&Stats),
) -> (Stats, Option<Counterexample>) {
    let (stats, cex) = explore_once(scn, limits, progress, None);
    if cex.is_some() && limits.local_steps {
        return explore_once(scn, Limits { local_steps: false, ..limits }, progress, None);
    }
    (stats, cex)
}

/// Explores `scn` like [`explore`] and returns every terminal world it
/// reached (one per state it kept) with the figures. For the tests that
/// check that the reductions ([`Limits::symmetry`], [`Limits::local_steps`])
/// lose no outcome; a violation ends the search early (see `complete`).
pub fn terminal_worlds(scn: &Scenario, limits: Limits) -> (Stats, Vec<World>) {
    let mut worlds = Vec::new();
    let (stats, _) = explore_once(scn, limits, &mut |_| {}, Some(&mut worlds));
    (stats, worlds)
}

fn explore_once(
    scn: &Scenario,
    limits: Limits,
    progress: &mut dyn FnMut(&Stats),
    mut terminals: Option<&mut Vec<World>>,
) -> (Stats, Option<Counterexample>) {
    let keep = terminals.is_some();
    let start = Instant::now();
    let threads = limits.threads.max(1);
    let sym = if limits.symmetry { Symmetry::of(scn) } else { Symmetry::none() };
    let sym = &sym;
    let por = limits.local_steps;
    let init = World::new(scn);
    let init_fp = symmetry::fingerprint(&init, sym);
    // Parent links: fingerprint -> (parent fingerprint, action). The root
    // links to itself.
    let mut parents: FpMap<(Fingerprint, Action)> = FpMap::default();
    parents.insert(init_fp, (init_fp, Action::Step(0)));
    let mut frontier: Vec<(World, Fingerprint)> = vec![(init, init_fp)];
    let mut stats = Stats { unique: 1, ..Stats::default() };
    let path_to = |parents: &FpMap<(Fingerprint, Action)>, mut fp: Fingerprint| {
        let mut path = Vec::new();
        while fp != init_fp {
            let (parent, action) = parents[&fp];
            path.push(action);
            fp = parent;
        }
        path.reverse();
        path
    };
    let mut depth = 0;
    while !frontier.is_empty() {
        stats.depth = depth;
        // Small levels are not worth a thread.
        let workers = if frontier.len() < 256 { 1 } else { threads };
        let level = NextLevel::new(frontier.len() * 2);
        let cx = Ctx { scn, sym, por, keep_terminals: keep, seen: &parents, next: &level };
        let mut results: Vec<Expanded> = if workers == 1 {
            vec![expand(&cx, Piece { base: 0, chunk: &frontier })]
        } else {
            expand_parallel(&cx, std::mem::take(&mut frontier), workers)
        };
        frontier = Vec::new();
        for r in &mut results {
            stats.transitions += r.transitions;
            stats.terminal += r.terminal;
            if let Some(t) = terminals.as_deref_mut() {
                t.append(&mut r.terminals);
            }
        }
        // The first violation in frontier order: the same whatever the
        // number of workers, and at the smallest depth.
        if let Some((fp, action, violation)) = results.iter().find_map(|r| r.violation.clone()) {
            stats.seconds = start.elapsed().as_secs_f64();
            let mut actions = path_to(&parents, fp);
            actions.extend(action);
            let in_final_recovery = action.is_none();
            return (stats, Some(Counterexample { scenario: scn.clone(), actions, in_final_recovery, violation }));
        }
        let new = level.into_sorted();
        frontier.reserve(new.len());
        for (fp, c) in new {
            let fresh = parents.insert(fp, (c.parent, c.action)).is_none();
            assert!(fresh, "a state of an earlier level came back as new");
            frontier.push((c.world, fp));
        }
        stats.unique = parents.len() as u64;
        stats.seconds = start.elapsed().as_secs_f64();
        progress(&stats);
        if stats.unique >= limits.states_max {
            return (stats, None);
        }
        depth += 1;
    }
    stats.complete = true;
    stats.seconds = start.elapsed().as_secs_f64();
    (stats, None)
}

//! Runs one exhaustive search and prints its figures (a profiling aid).
//! `cargo run --release --example bfs_one -- 2 1 2`: creators, recoverers, ids.
use stagedir::check::bfs::{explore, Limits};
use stagedir::check::scenario::Scenario;
use stagedir::variants::Variant;

fn main() {
    let a: Vec<u8> = std::env::args().skip(1).map(|s| s.parse().expect("number")).collect();
    let (c, r, ids) = (a.first().copied().unwrap_or(2), a.get(1).copied().unwrap_or(1), a.get(2).copied().unwrap_or(2));
    let scn = Scenario::new(Variant::Reference, c, r, ids);
    let (stats, cex) = explore(&scn, Limits::default(), &mut |s| eprintln!("{} states, {:.1}s", s.unique, s.seconds));
    println!("{stats:?} violation={:?}", cex.map(|c| c.violation));
}

/// The allocator the `stagedir` binary uses (see `src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

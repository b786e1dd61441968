//! Micro-measure: cost of cloning and fingerprinting a mid-run world, and
//! of its SimFs alone (a profiling aid for the exhaustive search).
use stagedir::check::bfs::fingerprint;
use stagedir::check::scenario::Scenario;
use stagedir::check::world::World;
use stagedir::variants::Variant;
use std::hash::{Hash, Hasher};
use std::time::Instant;

fn main() {
    let scn = Scenario::new(Variant::Reference, 2, 2, 2);
    let mut w = World::new(&scn);
    let mut acts = Vec::new();
    for k in 0..30 {
        w.actions(&scn, &mut acts);
        let a = acts.iter().copied().filter(|a| !matches!(a, stagedir::check::world::Action::Crash(_))).nth(k % 3).unwrap_or(acts[0]);
        w.apply(&scn, a);
    }
    let n = 1_000_000;
    let t = Instant::now();
    for _ in 0..n { std::hint::black_box(w.clone()); }
    println!("world clone   {:>6.0} ns", t.elapsed().as_nanos() as f64 / n as f64);
    let t = Instant::now();
    for _ in 0..n { std::hint::black_box(w.fs.clone()); }
    println!("simfs clone   {:>6.0} ns", t.elapsed().as_nanos() as f64 / n as f64);
    let t = Instant::now();
    for _ in 0..n { std::hint::black_box(fingerprint(std::hint::black_box(&w))); }
    println!("world fp      {:>6.0} ns", t.elapsed().as_nanos() as f64 / n as f64);
    let t = Instant::now();
    for _ in 0..n { let mut h = xxhash_rust::xxh3::Xxh3Default::new(); w.fs.hash(&mut h); std::hint::black_box(h.finish()); }
    println!("simfs hash    {:>6.0} ns", t.elapsed().as_nanos() as f64 / n as f64);
    let t = Instant::now();
    for k in 0..n / 10 {
        w.actions(&scn, &mut acts);
        let mut c = w.clone();
        c.apply(&scn, acts[k % acts.len()]);
        std::hint::black_box(c);
    }
    println!("clone+apply   {:>6.0} ns", t.elapsed().as_nanos() as f64 / (n / 10) as f64);
}

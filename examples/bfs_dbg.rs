use stagedir::check::scenario::Scenario;
use stagedir::check::world::World;
use stagedir::check::token;
use stagedir::variants::Variant;
use std::collections::VecDeque;
fn main() {
    let mut scn = Scenario::new(Variant::Reference, 1, 1, 1);
    scn.shared_process = true;
    std::panic::set_hook(Box::new(|_| {}));
    let mut q = VecDeque::new();
    q.push_back((World::new(&scn), vec![]));
    let mut acts = vec![];
    while let Some((w, path)) = q.pop_front() {
        if w.is_terminal() { continue; }
        w.actions(&scn, &mut acts);
        for &a in &acts.clone() {
            let mut n = w.clone();
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| { n.apply(&scn, a); n }));
            let mut p: Vec<_> = path.clone(); p.push(a);
            match r { Ok(n) => q.push_back((n, p)), Err(_) => { println!("{}", token::encode(&scn, &p)); return; } }
        }
    }
}

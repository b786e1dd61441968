//! The `stagedir` command-line tool; everything lives in `cli/`.

mod cli;

/// mimalloc: the exhaustive search frees and allocates millions of small
/// states a level; glibc's allocator spends a third of the search in
/// `malloc_consolidate` and `unlink_chunk` on the large configurations.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}

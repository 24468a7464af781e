//! The `scholia` binary: parse the command line and hand over to [`scholia::cli`].

/// mimalloc rather than glibc's allocator: under write load glibc malloc took about 12% of the
/// server's CPU (frees across tokio and SQLite worker threads), see BENCHMARKS.md.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    scholia::cli::main()
}

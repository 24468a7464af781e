//! The `scholia-bench` binary: parse the command line and hand over to [`scholia_bench::main`].

use clap::Parser;

/// mimalloc, as in the server: the workers were measured with it when they ran inside the
/// `scholia` binary, and keep the same allocator now that they run in their own.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    scholia_bench::main(scholia_bench::BenchArgs::parse())
}

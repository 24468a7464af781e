//! The `scholia` binary: parse the command line and hand over to [`scholia::cli`].

fn main() -> std::process::ExitCode {
    scholia::cli::main()
}

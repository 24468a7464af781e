//! `scholia bench ...`: an alias for the load generator, which is its own binary
//! (`scholia-bench`, the workspace member `crates/scholia-bench`) so that the server does not
//! link what only the benchmark needs. It runs the `scholia-bench` beside this executable with
//! the same arguments and exits with its status.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Args;

#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct BenchArgs {
    /// Everything after `bench`, passed on unread (`scholia bench --help` shows the real help).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    args: Vec<OsString>,
}

pub fn run(args: BenchArgs) -> ExitCode {
    let bench = match std::env::current_exe() {
        Ok(exe) => exe.with_file_name(format!("scholia-bench{}", std::env::consts::EXE_SUFFIX)),
        Err(e) => {
            eprintln!("error: cannot locate this executable: {e}");
            return ExitCode::FAILURE;
        }
    };
    if !bench.is_file() {
        eprintln!(
            "error: the load generator is its own binary and there is none at {}: build it with \
             `cargo build --release` at the repository root (it builds both), then run \
             target/release/scholia-bench",
            bench.display()
        );
        return ExitCode::FAILURE;
    }
    match std::process::Command::new(&bench).args(&args.args).status() {
        // A status without a code (killed by a signal) is a failure all the same.
        Ok(status) => match status.code() {
            Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
            None => ExitCode::FAILURE,
        },
        Err(e) => {
            eprintln!("error: cannot start {}: {e}", bench.display());
            ExitCode::FAILURE
        }
    }
}

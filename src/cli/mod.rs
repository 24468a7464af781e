//! The command line: `scholia serve` and the admin commands. Admin commands open the same
//! database as the server (SQLite in WAL mode lets them run beside it) and write through the
//! same store, so their changes reach a running server through the change log. Each prints its
//! result as its last line of output, for scripts.

mod admin;
mod backup;
mod bench;
mod checks;
mod migrate;
mod serve;
mod webhook;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{Config, Overrides};

/// A self-hostable annotation server compatible with Hypothesis.
#[derive(Parser, Debug)]
#[command(name = "scholia", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts (they may come before or after the subcommand).
#[derive(Args, Debug, Clone, Default)]
pub struct CommonArgs {
    /// Configuration file (default: ./scholia.toml if it exists).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory for the default SQLite database.
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://...
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Say which database the command acts on (on standard error, so that a command's result
    /// stays its last line of output).
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server.
    Serve(serve::ServeArgs),
    /// Manage users.
    #[command(subcommand)]
    User(admin::UserCommand),
    /// Manage developer API tokens.
    #[command(subcommand)]
    Token(admin::TokenCommand),
    /// Manage groups and their members.
    #[command(subcommand)]
    Group(admin::GroupCommand),
    /// Manage OAuth clients (for the JWT grant).
    #[command(subcommand)]
    Authclient(admin::AuthclientCommand),
    /// Manage webhooks: annotation events POSTed to a URL, signed (Standard Webhooks).
    #[command(subcommand)]
    Webhook(webhook::WebhookCommand),
    /// Copy the SQLite database, consistently, while the server runs (PostgreSQL: pg_dump).
    Backup(backup::BackupArgs),
    /// Apply the database migrations this binary has (`serve` does too, at start); says the
    /// schema version before and after.
    Migrate,
    /// Load-test a server: runs the `scholia-bench` binary beside this one (see BENCHMARKS.md).
    Bench(bench::BenchArgs),
}

impl CommonArgs {
    fn overrides(&self) -> Overrides {
        Overrides {
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            ..Overrides::default()
        }
    }
}

/// Runs the command line; the binary's whole `main`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Bench(args) = cli.command {
        return bench::run(args);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    let mut overrides = cli.common.overrides();
    if let Command::Serve(args) = &cli.command {
        overrides.listen = args.listen.clone();
        overrides.public_url = args.public_url.clone();
        overrides.authority = args.authority.clone();
        overrides.client_assets = args.client_assets.clone();
        overrides.demo = args.demo.then_some(true);
        overrides.bench_endpoints = args.bench_endpoints.then_some(true);
        overrides.echo_endpoint = args.echo_endpoint.then_some(true);
        overrides.bus = args.bus.clone();
        overrides.webhook_allow_private = args.webhook_allow_private.then_some(true);
        overrides.open_signup = args.open_signup.then_some(true);
        overrides.trusted_proxy =
            (!args.trusted_proxy.is_empty()).then(|| args.trusted_proxy.clone());
        overrides.metrics_listen = args.metrics_listen.clone();
    }
    if let Command::Webhook(webhook::WebhookCommand::Add(a)) = &cli.command {
        overrides.webhook_allow_private = a.allow_private.then_some(true);
    }
    let config = Config::load(cli.common.config.as_deref(), &overrides)?;
    if cli.common.verbose {
        let location = crate::store::location::Location::of(&config.database_url());
        eprintln!("database: {}", location.describe());
    }
    // (The server logs its warnings itself.)
    if !matches!(cli.command, Command::Serve(_)) {
        for warning in checks::env_warnings() {
            eprintln!("warning: {warning}");
        }
    }
    // A backup reads a database; it has no reason to create a folder.
    if !matches!(cli.command, Command::Backup(_)) {
        checks::data_dir(&config)?;
    }
    match cli.command {
        Command::Serve(_) => serve::serve(config).await,
        Command::User(c) => admin::user(&config, c).await,
        Command::Token(c) => admin::token(&config, c).await,
        Command::Group(c) => admin::group(&config, c).await,
        Command::Authclient(c) => admin::authclient(&config, c).await,
        Command::Webhook(c) => webhook::run(&config, c).await,
        Command::Backup(a) => backup::run(&config, a).await,
        Command::Migrate => migrate::run(&config).await,
        Command::Bench(_) => unreachable!("handled before the runtime starts"),
    }
}

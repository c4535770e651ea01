//! The linkerd binary: `linkerd CONFIG.yaml` runs a proxy; `linkerd dtab ...` debugs dtabs.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use l5d_core::binding::ConfiguredNamers;

#[derive(Parser)]
#[command(
    name = "linkerd",
    version,
    about = "A multi-protocol routing proxy, compatible with Linkerd 1"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    /// The config file (Linkerd 1's linkerd.yaml); `-` reads it from standard input.
    config: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Debug dtabs offline, with the system namers (or the namers of --config).
    #[command(subcommand)]
    Dtab(DtabCommand),
}

#[derive(Subcommand)]
enum DtabCommand {
    /// Print a dtab in Finagle's canonical form.
    Show {
        /// The dtab text.
        dtab: String,
    },
    /// Bind a path and print the bound tree on one line.
    Bind {
        /// A dtab; repeat to append more, later entries taking precedence.
        #[arg(long = "dtab")]
        dtabs: Vec<String>,
        /// Use the namers this linkerd config file configures.
        #[arg(long)]
        config: Option<String>,
        /// The path to bind, after `--`.
        #[arg(last = true, required = true)]
        path: String,
    },
    /// Explain how a path delegates, step by step.
    Delegate {
        /// Print Linkerd 1's /delegator.json JSON instead of a tree.
        #[arg(long)]
        json: bool,
        /// A dtab; repeat to append more, later entries taking precedence.
        #[arg(long = "dtab")]
        dtabs: Vec<String>,
        /// Use the namers this linkerd config file configures.
        #[arg(long)]
        config: Option<String>,
        /// The path to delegate, after `--`.
        #[arg(last = true, required = true)]
        path: String,
    },
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(1)
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match (cli.command, cli.config) {
        (Some(Command::Dtab(cmd)), _) => run_dtab(cmd),
        (None, Some(config)) => linkerd::run::main(&config),
        (None, None) => {
            fail("a config file is required: linkerd CONFIG.yaml (or `linkerd dtab --help`)")
        }
    }
}

fn run_dtab(cmd: DtabCommand) -> ExitCode {
    use linkerd::dtab;
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(format!("cannot start the runtime: {e}")),
    };
    let result = runtime.block_on(async move {
        match cmd {
            DtabCommand::Show { dtab } => dtab::show(&dtab),
            DtabCommand::Bind {
                dtabs,
                config,
                path,
            } => {
                let (dtab, path) = (dtab::read_dtabs(&dtabs)?, dtab::read_path(&path)?);
                let interp = interpreter(config.as_deref())?;
                dtab::bind(&interp, &dtab, &path).await
            }
            DtabCommand::Delegate {
                json,
                dtabs,
                config,
                path,
            } => {
                let (dtab, path) = (dtab::read_dtabs(&dtabs)?, dtab::read_path(&path)?);
                let interp = interpreter(config.as_deref())?;
                dtab::delegate(&interp, &dtab, &path, json).await
            }
        }
    });
    match result {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

fn interpreter(config: Option<&str>) -> Result<ConfiguredNamers, linkerd::dtab::CliError> {
    match config {
        None => Ok(ConfiguredNamers::system_only()),
        Some(path) => linkerd::run::namers_from_config(path),
    }
}

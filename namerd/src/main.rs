//! The namerd binary: `namerd CONFIG.yaml` serves dtabs and name resolution to linkerds.

use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "namerd",
    version,
    about = "linkerd's control plane, compatible with Linkerd 1's namerd"
)]
struct Cli {
    /// The config file (Linkerd 1's namerd.yaml); `-` reads it from standard input.
    config: String,
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
    namerd::run::main(&cli.config)
}

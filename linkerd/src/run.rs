//! Loading a config and starting what it names.

use std::process::ExitCode;

use l5d_core::binding::ConfiguredNamers;

use crate::dtab::CliError;

/// Builds the interpreter over the namers a config file configures.
pub fn namers_from_config(path: &str) -> Result<ConfiguredNamers, CliError> {
    Err(CliError(format!(
        "{path}: loading namers from a config is not wired yet"
    )))
}

/// Runs linkerd with the config at `path`.
pub fn main(path: &str) -> ExitCode {
    eprintln!("error: {path}: running a config is not wired yet");
    ExitCode::from(1)
}

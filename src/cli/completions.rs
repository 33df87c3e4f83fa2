//! `sscard completions bash|zsh|fish|elvish|powershell`: shell completions generated
//! from the clap definition, so they can never disagree with the real options.
//!
//! Installed by `scripts/install-docs` (see the README); printed here so packagers can
//! put them wherever their distribution wants.

use super::{Cli, CmdResult};
use crate::error::{Error, ExitCode};
use clap::CommandFactory;
use std::io::Write;

/// Arguments of `sscard completions`.
#[derive(clap::Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to generate completions for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// The completion script for `shell`.
pub fn script(shell: clap_complete::Shell) -> Vec<u8> {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "sscard", &mut buf);
    buf
}

/// Runs `sscard completions`.
pub fn run(args: &CompletionsArgs) -> CmdResult {
    let mut out = std::io::stdout().lock();
    out.write_all(&script(args.shell))
        .and_then(|()| out.flush())
        .map_err(|e| Error::Io {
            path: "stdout".into(),
            source: e,
        })?;
    Ok(ExitCode::Ok)
}

//! `sscard serve`: the loopback card service for browser-based desk systems
//! ([`crate::serve`]). This file reads the flags and the desk configuration.

use super::CmdResult;
use crate::error::{Error, ExitCode};
use crate::national::Settings;
use crate::serve::{self, parse_listen, ServeConfig};
use std::path::PathBuf;

/// `sscard serve` flags.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Loopback address and port to listen on (default: `[serve] listen`, else
    /// 127.0.0.1:8990). A non-loopback address is refused.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// The desk configuration (default: $SSCARD_CONFIG, else /etc/sscard/sscard.toml).
    #[arg(long, env = "SSCARD_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
}

/// Serves until stopped (SIGINT/SIGTERM).
///
/// # Errors
/// Usage (2) for a non-loopback or malformed listen address or a bad `[serve]` table;
/// the configuration's own errors; I/O (14) when the address cannot be bound.
pub fn run(args: &ServeArgs) -> CmdResult {
    let loaded = crate::config::load(args.config.as_deref())?;
    let cfg = loaded.map(|l| l.config);
    let settings = Settings::from_config(cfg.as_ref(), |k| std::env::var(k).ok()).map_err(|f| {
        Error::Other {
            message: f.detail,
            code: ExitCode::Usage,
        }
    })?;
    let config: ServeConfig = cfg.and_then(|c| c.serve).unwrap_or_default();
    let text = args
        .listen
        .clone()
        .or_else(|| config.listen.clone())
        .unwrap_or_else(|| serve::DEFAULT_LISTEN.to_string());
    let listen = parse_listen(&text).map_err(|e| Error::Other {
        message: e.to_string(),
        code: ExitCode::Usage,
    })?;
    serve::run(serve::Options {
        listen,
        config,
        settings,
    })?;
    Ok(ExitCode::Ok)
}

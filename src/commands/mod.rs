//! The commands: each file is one command's glue between the command line, the engine, the
//! fix plan and the emitters. This module only dispatches; what commands share is in `shared`.

mod branch;
mod bulk;
mod check;
mod explain;
mod fix;
mod shared;

pub use shared::{AppError, EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS};

use crate::cli::{Cli, ColorChoice, Command};
use crate::emit::Paint;
use std::io::{self, IsTerminal, Write};

pub fn run(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, AppError> {
    let paint_out = paint(cli.color, io::stdout().is_terminal());
    let paint_err = paint(cli.color, io::stderr().is_terminal());
    // --offline and the network limits, from the command line and the environment only.
    let offline = match &cli.command {
        Command::Check(args) => Some(args.common.offline),
        Command::Fix(args) => Some(args.common.offline),
        Command::Bulk(args) => Some(args.offline),
        _ => None,
    };
    if let Some(warning) = offline.and_then(crate::resolve::git::configure_network) {
        writeln!(err, "{}: {warning}", paint_err.wrap("33", "warning"))?;
    }
    match cli.command {
        Command::Check(args) => check::check(args, out, err, paint_out, paint_err),
        Command::Fix(args) if args.branch.is_some() => {
            branch::fix_on_branch(args, out, err, paint_err)
        }
        Command::Fix(args) => fix::fix(args, out, err, paint_out, paint_err),
        Command::Bulk(args) => bulk::run(args, out, err, paint_err),
        Command::Recipes { name } => explain::recipes(name.as_deref(), out),
        Command::Rules => explain::rules(out),
        Command::Explain { rule } => explain::explain(&rule, out),
    }
}

fn paint(choice: ColorChoice, terminal: bool) -> Paint {
    let on = match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    };
    Paint { on }
}

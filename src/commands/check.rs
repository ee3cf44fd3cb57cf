//! `manifix check`: the run's findings in the chosen format.

use super::shared::{
    options, placeholder_targets, report_side_notes, AppError, EXIT_CLEAN, EXIT_ERROR,
    EXIT_FINDINGS,
};
use crate::cli::{CheckArgs, Format};
use crate::emit::{self, Paint};
use crate::engine::analyze;
use std::io::Write;

pub(super) fn check(
    args: CheckArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
    paint_out: Paint,
    paint_err: Paint,
) -> Result<u8, AppError> {
    let opts = options(&args.common)?;
    let run = analyze(&opts)?;
    match args.format {
        Format::Sarif => {
            emit::sarif::report(out, &run, &opts.root)?;
            writeln!(out)?;
        }
        Format::Github => emit::github::report(out, &run)?,
        Format::Markdown => emit::markdown::report(out, &run)?,
        Format::Json => {
            emit::json::report(out, &run)?;
            writeln!(out)?;
        }
        Format::Text => {
            let targets = placeholder_targets(&run)?;
            report_side_notes(&run, &targets, err, paint_err)?;
            for f in run.findings() {
                emit::text::finding(out, f, paint_out)?;
            }
            if targets.missing {
                writeln!(err, "note: {}", run.resolved.accounts.missing_target_help())?;
            }
            writeln!(out, "{}", emit::text::run_summary(&run))?;
        }
    }
    Ok(if !run.errors.is_empty() || !run.source_errors.is_empty() {
        EXIT_ERROR
    } else if run.tally().errors > 0 {
        EXIT_FINDINGS
    } else {
        EXIT_CLEAN
    })
}

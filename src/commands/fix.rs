//! `manifix fix`: the fixes as a diff (`--dry-run`) or written in place. (`--branch` is
//! `branch`.)

use super::shared::{
    fix_choice, options, ready_to_fix, AppError, EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS,
};
use crate::cli::FixArgs;
use crate::emit::{self, Paint};
use crate::engine::{analyze, Run};
use crate::fix::write_file_with;
use std::io::{self, Write};

/// How many files `fix` plans before writing them.
const FIX_SLICE: usize = 512;

/// Removes the temporary files an interrupted `manifix fix` left (each file it was writing is
/// whole, old or new: the rename had not happened or had). One that cannot be removed stays
/// listed, and is warned about with the other side notes.
fn remove_leftovers(run: &mut Run, err: &mut dyn Write, paint: Paint) -> io::Result<()> {
    let mut kept = Vec::new();
    for left in std::mem::take(&mut run.leftovers) {
        match std::fs::remove_file(&left.abs) {
            Ok(()) => writeln!(
                err,
                "note: removed {}, a temporary file of a manifix fix that was interrupted (process {})",
                crate::escape::quote_path(&left.path),
                left.pid
            )?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                writeln!(
                    err,
                    "{}: {}: cannot remove this temporary file of an interrupted manifix fix: {e}",
                    crate::escape::quote_path(&left.path),
                    paint.wrap("31", "error")
                )?;
                kept.push(left);
            }
        }
    }
    run.leftovers = kept;
    Ok(())
}

pub(super) fn fix(
    args: FixArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
    paint_out: Paint,
    paint_err: Paint,
) -> Result<u8, AppError> {
    let mut opts = options(&args.common)?;
    opts.require_image = args.require_image;
    let mut run = analyze(&opts)?;
    if !args.dry_run {
        remove_leftovers(&mut run, err, paint_err)?;
    }
    if !ready_to_fix(&run, err, paint_err)? {
        return Ok(EXIT_ERROR);
    }
    // Planned and written a slice of files at a time: new texts never pile up in memory.
    let mut plan = crate::fix::FixPlan::default();
    let mut files_planned = 0;
    let mut fixes_planned = 0;
    let mut write_failures = 0;
    // A file that could not be written fixed nothing: the summary counts what was written.
    let mut unwritten_fixes = 0;
    for part in crate::fix::plan_parts(&run, fix_choice(&args), FIX_SLICE) {
        for refused in &part.refused {
            emit::text::file_error(err, refused, paint_err)?;
        }
        for file in &part.files {
            if args.dry_run {
                let notes: Vec<(usize, String)> = file
                    .fixed
                    .iter()
                    .filter_map(|f| Some((f.line, f.fix.as_ref()?.detail.clone()?)))
                    .collect();
                let diff = emit::diff::unified(&file.path, &file.old, &file.new, paint_out, &notes);
                write!(out, "{diff}")?;
            } else if let Err(e) = write_file_with(file, args.break_hardlinks) {
                writeln!(
                    err,
                    "{}: {}",
                    paint_err.wrap("31", "error"),
                    crate::escape::control(&e.to_string())
                )?;
                write_failures += 1;
                unwritten_fixes += file.fixed.len();
            }
        }
        files_planned += part.files.len();
        fixes_planned += part.fixes();
        plan.held_back += part.held_back;
        plan.unfixable += part.unfixable;
        plan.refused.extend(part.refused);
    }
    let verb = if args.dry_run { "would fix" } else { "fixed" };
    let files_changed = files_planned - write_failures;
    let mut summary = format!(
        "{verb} {} in {}",
        emit::text::plural(fixes_planned - unwritten_fixes, "finding", "findings"),
        emit::text::plural(files_changed, "file", "files")
    );
    if plan.held_back > 0 {
        summary.push_str(&format!(
            "; {} held back (opt-in: --add-missing-overrides, --unsafe-fixes)",
            plan.held_back
        ));
    }
    if plan.unfixable > 0 {
        summary.push_str(&format!("; {} without an automatic fix", plan.unfixable));
    }
    if !plan.refused.is_empty() {
        summary.push_str(&format!(
            "; {} refused",
            emit::text::plural(plan.refused.len(), "file", "files")
        ));
    }
    // The diff is the dry run's output; the summary goes beside errors so a piped diff stays clean.
    if args.dry_run {
        writeln!(err, "{summary}")?;
    } else {
        writeln!(out, "{summary}")?;
    }
    Ok(
        if !run.errors.is_empty()
            || !run.source_errors.is_empty()
            || !plan.refused.is_empty()
            || write_failures > 0
        {
            EXIT_ERROR
        } else if args.exit_code && files_planned > 0 {
            EXIT_FINDINGS
        } else {
            EXIT_CLEAN
        },
    )
}

//! The default text output: `path:line:col: rule-id: message`, then a summary line.

use super::Paint;
use crate::engine::{FileError, SkippedFile, Tally};
use crate::escape::{control, quote_path};
use crate::finding::{Finding, Severity};
use std::io::{self, Write};

pub fn finding(out: &mut dyn Write, f: &Finding, paint: Paint) -> io::Result<()> {
    let code = match f.severity {
        Severity::Error => "31",
        Severity::Warning => "33",
        Severity::Info => "36",
    };
    writeln!(
        out,
        "{}:{}:{}: {}: {}",
        quote_path(&f.path),
        f.line,
        f.column,
        paint.wrap(code, f.rule),
        control(&f.message)
    )
}

pub fn file_error(out: &mut dyn Write, e: &FileError, paint: Paint) -> io::Result<()> {
    writeln!(
        out,
        "{}:{}:{}: {}: {}",
        quote_path(&e.path),
        e.line,
        e.column,
        paint.wrap("31", "error"),
        control(&e.message)
    )
}

pub fn skipped(out: &mut dyn Write, s: &SkippedFile, paint: Paint) -> io::Result<()> {
    let label = if s.warning {
        paint.wrap("33", "warning")
    } else {
        "skipped".to_string()
    };
    writeln!(
        out,
        "{}: {label}: {}",
        quote_path(&s.path),
        control(&s.reason)
    )
}

pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `3 findings (3 errors, 0 warnings, 0 info; 3 fixable) in 12 files; 1 skipped; 0 file errors`
pub fn run_summary(run: &crate::engine::Run) -> String {
    summary(
        run.tally(),
        run.files_checked,
        run.skipped.len(),
        run.errors.len(),
    )
}

fn summary(tally: &Tally, files: usize, skipped: usize, errors: usize) -> String {
    format!(
        "{} ({}, {}, {} info; {} fixable) in {}; {} skipped; {}",
        plural(tally.total, "finding", "findings"),
        plural(tally.errors, "error", "errors"),
        plural(tally.warnings, "warning", "warnings"),
        tally.info,
        tally.fixable,
        plural(files, "file", "files"),
        skipped,
        plural(errors, "file error", "file errors"),
    )
}

//! `--format json`: one object with findings, file errors, skipped files and a summary. The
//! findings, errors and skipped files are made one at a time as they are written
//! (`Streamed`), so a large run's report is never held whole.

use super::Streamed;
use crate::engine::Run;
use crate::finding::Finding;
use serde::Serialize;
use serde_json::{json, Value};
use std::io::{self, Write};

fn finding(f: &Finding) -> Value {
    let mut v = json!({
        "rule": f.rule,
        "severity": f.severity,
        "path": f.path,
        "line": f.line,
        "column": f.column,
        "message": f.message,
    });
    if let Some(fix) = &f.fix {
        v["fix"] = json!({
            "replacement": fix.replacement,
            "title": fix.title,
            "applicability": fix.applicability,
        });
    }
    v
}

/// The report's members, in key order, as a `Value` would print them.
#[derive(Serialize)]
struct Report<'a, E, F, S> {
    errors: E,
    findings: F,
    skipped: S,
    source_errors: &'a [String],
    summary: Value,
}

/// Writes the report (without a line break after it).
pub fn report(out: &mut dyn Write, run: &Run) -> io::Result<()> {
    let tally = run.tally();
    let report = Report {
        errors: Streamed::new(run.errors.iter().map(|e| {
            json!({
                "path": e.path, "line": e.line, "column": e.column, "message": e.message,
            })
        })),
        findings: Streamed::new(run.findings().map(finding)),
        skipped: Streamed::new(
            run.skipped
                .iter()
                .map(|s| json!({ "path": s.path, "reason": s.reason })),
        ),
        source_errors: &run.source_errors,
        summary: json!({
            "findings": tally.total,
            "errors": tally.errors,
            "warnings": tally.warnings,
            "info": tally.info,
            "fixable": tally.fixable,
            "files": run.files_checked,
            "skipped": run.skipped.len(),
            "file_errors": run.errors.len(),
        }),
    };
    serde_json::to_writer_pretty(out, &report).map_err(io::Error::from)
}

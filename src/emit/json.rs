//! `--format json`: one object with findings, file errors, skipped files and a summary. The
//! findings are written one at a time as they are read back (`pretty`), and the errors and
//! skipped files one at a time too, so a large run's report is never held whole.

use super::pretty::{self, Node};
use crate::engine::Run;
use crate::finding::Finding;
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

/// Writes the report (without a line break after it).
pub fn report(out: &mut dyn Write, run: &Run) -> io::Result<()> {
    let tally = run.tally();
    let findings = run.findings().map(|f| Ok(finding(&f?)));
    // In key order, as a `Value` would print them.
    pretty::write(
        out,
        Node::Object(vec![
            (
                "errors",
                Node::Stream(Box::new(run.errors.iter().map(|e| {
                    Ok(json!({
                        "path": e.path, "line": e.line, "column": e.column, "message": e.message,
                    }))
                }))),
            ),
            ("findings", Node::Stream(Box::new(findings))),
            (
                "skipped",
                Node::Stream(Box::new(
                    run.skipped
                        .iter()
                        .map(|s| Ok(json!({ "path": s.path, "reason": s.reason }))),
                )),
            ),
            ("source_errors", Node::Value(json!(run.source_errors))),
            (
                "summary",
                Node::Value(json!({
                    "findings": tally.total,
                    "errors": tally.errors,
                    "warnings": tally.warnings,
                    "info": tally.info,
                    "fixable": tally.fixable,
                    "files": run.files_checked,
                    "skipped": run.skipped.len(),
                    "file_errors": run.errors.len(),
                })),
            ),
        ]),
    )
}

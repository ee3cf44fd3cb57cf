//! `--format json`: one object with findings, file errors, skipped files and a summary.

use crate::engine::Run;
use crate::finding::Severity;
use serde_json::{json, Value};

pub fn report(run: &Run) -> Value {
    let findings: Vec<Value> = run
        .findings
        .iter()
        .map(|f| {
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
        })
        .collect();
    let count = |s: Severity| run.findings.iter().filter(|f| f.severity == s).count();
    json!({
        "findings": findings,
        "errors": run.errors.iter().map(|e| json!({
            "path": e.path, "line": e.line, "column": e.column, "message": e.message,
        })).collect::<Vec<_>>(),
        "source_errors": run.source_errors,
        "skipped": run.skipped.iter().map(|s| json!({
            "path": s.path, "reason": s.reason,
        })).collect::<Vec<_>>(),
        "summary": {
            "findings": run.findings.len(),
            "errors": count(Severity::Error),
            "warnings": count(Severity::Warning),
            "info": count(Severity::Info),
            "fixable": run.findings.iter().filter(|f| f.fix.is_some()).count(),
            "files": run.files_checked,
            "skipped": run.skipped.len(),
            "file_errors": run.errors.len(),
        }
    })
}

//! `--format sarif`: one SARIF 2.1.0 log for GitHub code scanning (and any other SARIF reader).
//! Every registered rule is described in `tool.driver.rules`; each finding is a result with its
//! full region, a fingerprint that survives unrelated edits, and, where the edit is a plain
//! one-line replacement, a SARIF `fix`. File errors are tool execution notifications. Results
//! are made one at a time as they are written (`Streamed`), so a large run's log is never held
//! whole.

use super::Streamed;
use crate::engine::Run;
use crate::finding::{Finding, Severity};
use crate::rules;
use crate::text::LineIndex;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::path::Path;

pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const SRCROOT: &str = "%SRCROOT%";

/// The text of the file the findings being written point into, read again from under the
/// root (the run keeps no texts): findings come a file at a time, so one text is held at a
/// time. A file that cannot be read gives regions without an end.
struct SourceText<'a> {
    root: &'a Path,
    path: String,
    text: Option<String>,
}

impl SourceText<'_> {
    fn of(&mut self, path: &str) -> Option<&str> {
        if self.path != path {
            self.path = path.to_string();
            self.text = std::fs::read_to_string(self.root.join(path)).ok();
        }
        self.text.as_deref()
    }
}

pub fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// `placeholder-account` → `PlaceholderAccount`, the readable name SARIF viewers show.
fn pascal_case(id: &str) -> String {
    id.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// A relative path as a URI reference: unreserved characters and `/` stay, the rest is
/// percent-encoded byte by byte.
pub fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn artifact(path: &str) -> Value {
    json!({ "uri": uri(path), "uriBaseId": SRCROOT })
}

/// The finding's region; the end comes from its byte range when the text is known.
fn region(f: &Finding, text: Option<&str>) -> Value {
    let mut region = json!({
        "startLine": f.line.max(1),
        "startColumn": f.column.max(1),
    });
    if let Some(text) = text {
        let (end_line, end_column) = LineIndex::new(text).line_col(f.range.end);
        let start = (f.line.max(1), f.column.max(1));
        let end = (end_line, end_column).max(start);
        region["endLine"] = json!(end.0);
        region["endColumn"] = json!(end.1);
    }
    region
}

/// 64-bit FNV-1a: small, stable across Rust versions and platforms (unlike `DefaultHasher`).
fn fnv1a(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain(std::iter::once(0)) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// The trimmed text of the finding's line: what identifies it across edits elsewhere.
fn line_text<'a>(f: &Finding, text: Option<&'a str>) -> &'a str {
    text.and_then(|t| t.lines().nth(f.line.saturating_sub(1)))
        .unwrap_or("")
        .trim()
}

/// The replacement as a SARIF fix, when it is certain to be a plain substitution of the
/// finding's span: one line, and a value no YAML quoting style would spell differently.
fn sarif_fix(f: &Finding, text: Option<&str>) -> Option<Value> {
    let fix = f.fix.as_ref()?;
    let old = text?.get(f.range.clone())?;
    let plain = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._:/@".contains(c))
    };
    if !plain(old) || !plain(&fix.replacement) {
        return None;
    }
    Some(json!({
        "description": { "text": fix.title },
        "artifactChanges": [{
            "artifactLocation": artifact(&f.path),
            "replacements": [{
                "deletedRegion": region(f, text),
                "insertedContent": { "text": fix.replacement },
            }],
        }],
    }))
}

fn rule_descriptor(meta: &rules::RuleMeta) -> Value {
    json!({
        "id": meta.id,
        "name": pascal_case(meta.id),
        "shortDescription": { "text": meta.summary },
        "fullDescription": { "text": meta.explanation },
        "help": {
            "text": meta.explanation,
            "markdown": format!("{}\n\n`manifix explain {}` prints this text.", meta.explanation, meta.id),
        },
        "defaultConfiguration": { "level": level(meta.severity) },
        "properties": { "fixable": meta.fixable },
    })
}

/// Writes the log (without a line break after it); `root` is where the findings' files are
/// read again from.
pub fn report(out: &mut dyn Write, run: &Run, root: &Path) -> io::Result<()> {
    let all = rules::all();
    let index: BTreeMap<&str, usize> = all
        .iter()
        .enumerate()
        .map(|(i, r)| (r.meta().id, i))
        .collect();
    // Identical lines flagged by one rule in one file are told apart by their order.
    let mut seen: HashMap<u64, usize> = HashMap::new();
    let mut source = SourceText {
        root,
        path: String::new(),
        text: None,
    };
    let results = run.findings().map(move |f| {
        let text = source.of(&f.path);
        let hash = fnv1a(&[f.rule, &f.path, line_text(f, text)]);
        let occurrence = seen.entry(hash).or_insert(0);
        *occurrence += 1;
        let mut result = json!({
            "ruleId": f.rule,
            "level": level(f.severity),
            "message": { "text": f.message },
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": artifact(&f.path),
                    "region": region(f, text),
                }
            }],
            "partialFingerprints": {
                "manifix/v1": format!("{hash:016x}:{occurrence}"),
            },
        });
        if let Some(i) = index.get(f.rule) {
            result["ruleIndex"] = json!(i);
        }
        if let Some(fix) = sarif_fix(f, text) {
            result["fixes"] = json!([fix]);
        }
        result
    });

    let mut notifications: Vec<Value> = Vec::new();
    for e in &run.errors {
        let mut location = Map::new();
        location.insert("artifactLocation".into(), artifact(&e.path));
        if e.line >= 1 {
            location.insert(
                "region".into(),
                json!({ "startLine": e.line, "startColumn": e.column.max(1) }),
            );
        }
        notifications.push(json!({
            "level": "error",
            "message": { "text": e.message },
            "locations": [{ "physicalLocation": location }],
        }));
    }
    for e in &run.source_errors {
        notifications.push(json!({ "level": "error", "message": { "text": e } }));
    }
    for s in run.skipped.iter().filter(|s| s.warning) {
        notifications.push(json!({
            "level": "warning",
            "message": { "text": format!("skipped: {}", s.reason) },
            "locations": [{ "physicalLocation": { "artifactLocation": artifact(&s.path) } }],
        }));
    }
    let mut invocation = json!({
        "executionSuccessful": run.errors.is_empty() && run.source_errors.is_empty(),
    });
    if !notifications.is_empty() {
        invocation["toolExecutionNotifications"] = Value::Array(notifications);
    }

    let tool = json!({
        "driver": {
            "name": "manifix",
            "version": env!("CARGO_PKG_VERSION"),
            "semanticVersion": env!("CARGO_PKG_VERSION"),
            "rules": all.iter().map(|r| rule_descriptor(r.meta())).collect::<Vec<_>>(),
        }
    });
    let log = Log {
        schema: SCHEMA,
        runs: [SarifRun {
            column_kind: "unicodeCodePoints",
            invocations: [invocation],
            original_uri_base_ids: json!({
                SRCROOT: { "description": { "text": "The root of the checked repository." } }
            }),
            results: Streamed::new(results),
            tool,
        }],
        version: "2.1.0",
    };
    serde_json::to_writer_pretty(out, &log).map_err(io::Error::from)
}

/// The log's members, in key order, as a `Value` would print them.
#[derive(Serialize)]
struct Log<R> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    runs: [SarifRun<R>; 1],
    version: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifRun<R> {
    column_kind: &'static str,
    invocations: [Value; 1],
    original_uri_base_ids: Value,
    results: R,
    tool: Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_uris() {
        assert_eq!(pascal_case("placeholder-account"), "PlaceholderAccount");
        assert_eq!(uri("apps/a b/ü.yaml"), "apps/a%20b/%C3%BC.yaml");
        assert_eq!(fnv1a(&["a"]), fnv1a(&["a"]));
        assert_ne!(fnv1a(&["ab", "c"]), fnv1a(&["a", "bc"]));
    }
}

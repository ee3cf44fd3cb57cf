//! The YAML engine against every case of the official yaml-test-suite.
//!
//! Invalid cases must be rejected (or, for a short reviewed list, accepted) without panics.
//! For valid cases every scalar, keys included, is edited in several ways; whenever `plan`
//! returns text, an independent re-parse must show exactly that scalar changed, to exactly the
//! planned value, with every other scalar, the structure and the comments untouched. `plan`
//! may refuse, but refusals are counted by reason and bounded.

mod common;

use common::shape::shapes;
use manifix::yaml::splice::{plan, EditError, ScalarEdit};
use manifix::yaml::{parse, ParsedFile, Scalar, Style};
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

const SUITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/yaml-test-suite");

/// Invalid cases granit-parser accepts, with why that is acceptable for manifix: none of them
/// can make an edit wrong, because the verifier compares the parser with itself.
const ACCEPTED_INVALID: &[(&str, &str)] = &[
    (
        "9C9N",
        "flow sequence continued at column 0: granit's default, PyYAML-compatible indentation",
    ),
    (
        "DK95/01",
        "tab-indented continuation of a quoted scalar: same lenient indentation mode",
    ),
    (
        "QB6E",
        "quoted scalar continued at column 0: same lenient indentation mode",
    ),
];

struct Case {
    id: String,
    text: String,
    invalid: bool,
    events: Option<String>,
}

fn cases() -> Vec<Case> {
    let data = Path::new(SUITE).join("data");
    let dirs = common::suite::case_dirs(&data);
    dirs.into_iter()
        .map(|dir| {
            let id = dir
                .strip_prefix(&data)
                .expect("case under data/")
                .to_string_lossy()
                .into_owned();
            let bytes = std::fs::read(dir.join("in.yaml")).expect("readable in.yaml");
            Case {
                id,
                text: String::from_utf8(bytes).expect("suite inputs are UTF-8"),
                invalid: dir.join("error").exists(),
                events: std::fs::read_to_string(dir.join("test.event")).ok(),
            }
        })
        .collect()
}

#[test]
fn invalid_cases_are_rejected_without_panics() {
    let mut accepted = Vec::new();
    let mut total = 0;
    for case in cases().iter().filter(|c| c.invalid) {
        total += 1;
        let outcome = catch_unwind(|| parse(&case.text).is_ok());
        match outcome {
            Ok(true) => accepted.push(case.id.clone()),
            Ok(false) => {}
            Err(_) => panic!("parse panicked on invalid case {}", case.id),
        }
    }
    eprintln!(
        "invalid cases: {total}, accepted by the parser: {} {accepted:?}",
        accepted.len()
    );
    let allowed: Vec<&str> = ACCEPTED_INVALID.iter().map(|(id, _)| *id).collect();
    let unexpected: Vec<&String> = accepted
        .iter()
        .filter(|id| !allowed.contains(&id.as_str()))
        .collect();
    assert!(
        unexpected.is_empty(),
        "invalid cases accepted: {unexpected:?}"
    );
    assert!(total > 80, "only {total} invalid cases found");
}

/// Decodes the value of a `=VAL` line of the suite's event notation.
fn unescape_event(raw: &str) -> String {
    let mut out = String::new();
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('b') => out.push('\u{8}'),
            Some('0') => out.push('\0'),
            Some('\\') | None => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    out
}

/// The scalars of the suite's expected event stream, as (style, value).
fn expected_scalars(events: &str) -> Vec<(Style, String)> {
    let mut out = Vec::new();
    for line in events.lines() {
        let Some(rest) = line.strip_prefix("=VAL ") else {
            continue;
        };
        // Properties (`&anchor`, `<tag>`) come before the style indicator.
        let mut rest = rest;
        while rest.starts_with('&') || rest.starts_with('<') {
            let end = if rest.starts_with('<') {
                rest.find("> ").map(|i| i + 2)
            } else {
                rest.find(' ').map(|i| i + 1)
            };
            rest = &rest[end.expect("property followed by value")..];
        }
        let style = match rest.chars().next() {
            Some(':') => Style::Plain,
            Some('\'') => Style::SingleQuoted,
            Some('"') => Style::DoubleQuoted,
            Some('|') => Style::Literal,
            Some('>') => Style::Folded,
            other => panic!("unknown style indicator {other:?} in {line}"),
        };
        out.push((style, unescape_event(&rest[1..])));
    }
    out
}

#[test]
fn valid_cases_parse_to_the_suite_values() {
    let mut checked = 0;
    for case in cases().iter().filter(|c| !c.invalid) {
        let parsed =
            parse(&case.text).unwrap_or_else(|e| panic!("valid case {} rejected: {e}", case.id));
        let Some(events) = &case.events else { continue };
        let want = expected_scalars(events);
        let got: Vec<(Style, String)> = parsed
            .scalars()
            .iter()
            .map(|s| (s.style, s.value.clone()))
            .collect();
        assert_eq!(got, want, "scalars of {}", case.id);
        for s in parsed.scalars() {
            assert!(
                case.text.get(s.span.clone()).is_some(),
                "span {:?} of scalar #{} in {} is not a slice of the text",
                s.span,
                s.ordinal,
                case.id
            );
        }
        checked += 1;
    }
    assert!(checked > 200, "only {checked} valid cases checked");
}

/// The shape of a document without its scalars' contents, to catch structural changes.
/// Checks a planned edit independently of the engine's own verifier.
fn check_output(
    (id, text): (&str, &str),
    before: &ParsedFile,
    target: &Scalar,
    want: &str,
    out: &str,
) {
    let ctx = format!("case {id} scalar #{} {:?}", target.ordinal, target.value);
    let after = parse(out).unwrap_or_else(|e| panic!("{ctx}: output does not parse: {e}\n{out}"));
    assert_eq!(shapes(before), shapes(&after), "{ctx}: structure changed");
    let old = before.scalars();
    let new = after.scalars();
    assert_eq!(old.len(), new.len(), "{ctx}: scalar count changed");
    for (o, n) in old.iter().zip(new.iter()) {
        assert_eq!(o.tagged, n.tagged, "{ctx}: tag changed");
        if o.ordinal == target.ordinal {
            assert_eq!(n.value, want, "{ctx}: wrong new value\n{out}");
            assert!(
                n.style == o.style || n.style == Style::DoubleQuoted,
                "{ctx}: style {:?} became {:?}",
                o.style,
                n.style
            );
        } else {
            assert_eq!(
                (&o.value, o.style),
                (&n.value, n.style),
                "{ctx}: another scalar changed\n{out}"
            );
        }
    }
    // Text outside the scalar is byte-identical: same prefix and suffix around its span.
    let span = &target.span;
    let tail = text.len() - span.end;
    assert!(out.len() >= span.start + tail, "{ctx}: output too short");
    assert_eq!(&out[..span.start], &text[..span.start], "{ctx}: prefix");
    assert_eq!(&out[out.len() - tail..], &text[span.end..], "{ctx}: suffix");
    let texts = |p: &ParsedFile| {
        p.comments
            .iter()
            .map(|c| c.text.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(texts(before), texts(&after), "{ctx}: comments changed");
}

/// A refusal's reason, coarse enough to count.
fn reason(err: &EditError, scalar: &Scalar) -> String {
    let kind = match err {
        EditError::Unmappable { reason, .. } => (*reason).to_string(),
        EditError::Verify(_) => "verify".into(),
        EditError::Reparse(_) => "reparse".into(),
        other => format!("{other}"),
    };
    format!("{:?}: {kind}", scalar.style)
}

/// Replaces every ASCII digit with another, keeping the length.
fn shift_digits(value: &str) -> Option<String> {
    value.contains(|c: char| c.is_ascii_digit()).then(|| {
        value
            .chars()
            .map(|c| match c.to_digit(10) {
                Some(d) => char::from_digit((d + 1) % 10, 10).unwrap_or(c),
                None => c,
            })
            .collect()
    })
}

/// The byte range of the middle third of the value's characters (at least one character).
fn middle(value: &str) -> Option<std::ops::Range<usize>> {
    let bounds: Vec<usize> = value
        .char_indices()
        .map(|(i, _)| i)
        .chain([value.len()])
        .collect();
    let n = bounds.len() - 1;
    (n >= 3).then(|| bounds[n / 3]..bounds[(2 * n / 3).max(n / 3 + 1)])
}

#[test]
fn every_scalar_of_every_valid_case_is_edited_or_refused() {
    let mut attempts = 0usize;
    let mut scalars = 0usize;
    let mut applied = 0usize;
    let mut refusals: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let cases = cases();
    let valid: Vec<&Case> = cases.iter().filter(|c| !c.invalid).collect();
    // Every case as written, and once more with CRLF line endings (as saved on Windows).
    let inputs = valid.iter().flat_map(|case| {
        let crlf = case.text.replace('\n', "\r\n");
        [
            (case.id.clone(), case.text.clone()),
            (format!("{}/crlf", case.id), crlf),
        ]
    });
    for (id, text) in inputs {
        let Ok(parsed) = parse(&text) else {
            assert!(id.ends_with("/crlf"), "valid case {id} rejected");
            continue;
        };
        for target in parsed.scalars() {
            scalars += 1;
            let value = &target.value;
            let mut variants: Vec<(&str, std::ops::Range<usize>, String)> = vec![
                ("word", 0..value.len(), "manifix-edited".into()),
                ("digits", 0..value.len(), "123456789012".into()),
            ];
            if let Some(shifted) = shift_digits(value) {
                variants.push(("shift", 0..value.len(), shifted));
            }
            if let Some(mid) = middle(value) {
                variants.push(("middle", mid.clone(), "Mid".into()));
                variants.push(("insert", mid.start..mid.start, "Ins".into()));
                variants.push(("middle-quote", mid, "a'b\"c".into()));
            }
            // Within the first line only: the edits a block scalar can take in place.
            let first_line = value.split('\n').next().unwrap_or("");
            if first_line.len() < value.len() {
                if let Some(mid) = middle(first_line) {
                    variants.push(("line-middle", mid, "Mid".into()));
                }
            }
            for (label, range, replacement) in variants {
                attempts += 1;
                let mut want = value.clone();
                want.replace_range(range.clone(), &replacement);
                let edit = ScalarEdit {
                    ordinal: target.ordinal,
                    range,
                    replacement,
                    inner: None,
                };
                let outcome = catch_unwind(AssertUnwindSafe(|| {
                    plan(&text, &parsed, std::slice::from_ref(&edit))
                }));
                match outcome {
                    Err(_) => panic!("plan panicked on {id} scalar #{}", target.ordinal),
                    Ok(Ok(planned)) => {
                        applied += 1;
                        check_output((&id, &text), &parsed, target, &want, &planned.text);
                    }
                    Ok(Err(err)) => refusals
                        .entry(format!("{label} / {}", reason(&err, target)))
                        .or_default()
                        .push(format!("{id}#{} {:?}: {err}", target.ordinal, value)),
                }
            }
        }
    }
    let refused: usize = refusals.values().map(Vec::len).sum();
    eprintln!(
        "valid cases: {}, scalars: {scalars}, edits tried: {attempts}, applied: {applied}, refused: {refused}",
        valid.len()
    );
    for (why, list) in &refusals {
        eprintln!("  {:5}  {why}", list.len());
        for example in list.iter().take(3) {
            eprintln!("           e.g. {example}");
        }
    }
    assert!(scalars > 2000, "only {scalars} scalars found");
    assert!(
        refused * 100 <= attempts * 10,
        "{refused} of {attempts} edits refused"
    );
    // The only refusals expected: block scalars asked to change their line structure (that
    // needs a new header or another style), empty nodes, which have no text to edit, and keys
    // edited into the name of a sibling key (`top1` shifted to `top2`): kubectl rejects a
    // mapping with a duplicate key.
    let justified = [
        "Literal: a block scalar edit may only change text within its lines",
        "Folded: a block scalar edit may only change text within its lines",
        "Plain: the scalar is empty and has no source text to edit",
        "Literal: the scalar is empty and has no source text to edit",
        "Folded: the scalar is empty and has no source text to edit",
    ];
    let unjustified: Vec<&String> = refusals
        .iter()
        .filter(|(why, _)| !justified.iter().any(|j| why.ends_with(j)))
        .flat_map(|(_, list)| list)
        .filter(|e| !e.contains("kubectl rejects a mapping with a duplicate key"))
        .collect();
    assert!(
        unjustified.is_empty(),
        "unexpected refusals: {unjustified:#?}"
    );
}

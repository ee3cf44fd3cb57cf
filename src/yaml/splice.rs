//! Turns edits of decoded scalar values into edits of the original bytes, and applies them.
//!
//! An edit names a scalar (by ordinal) and a byte range of its *decoded* value. This module
//! finds which source bytes that range came from, checks the replacement can be written there
//! in the scalar's own style, and falls back to re-quoting the whole scalar only when it must.

use super::model::{ParsedFile, Scalar, Style};
use super::verify::{verify, Expected};
use std::collections::BTreeMap;
use std::ops::Range;

/// A replacement of part of one scalar's decoded value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalarEdit {
    pub ordinal: usize,
    /// Byte range in the decoded value.
    pub range: Range<usize>,
    pub replacement: String,
    /// When the scalar's value is itself YAML (a kustomize inline patch), the edit of the inner
    /// document that this edit carries out; the inner document is verified as well.
    pub inner: Option<Box<ScalarEdit>>,
}

/// A replacement of a byte range of the source text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextEdit {
    pub range: Range<usize>,
    pub replacement: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("two planned edits overlap at byte {0}")]
    Overlap(usize),
    #[error("edit names scalar #{0}, which the file does not have")]
    NoSuchScalar(usize),
    #[error("edit range {range:?} is outside the value of scalar #{ordinal}")]
    OutOfRange { ordinal: usize, range: Range<usize> },
    #[error("cannot map the edit of {value:?} onto its source text ({reason})")]
    Unmappable { value: String, reason: &'static str },
    #[error("the inline YAML in a scalar is not valid: {0}")]
    InnerParse(String),
    #[error("after editing, the file no longer parses: {0}")]
    Reparse(String),
    #[error("verification failed: {0}")]
    Verify(String),
}

/// The outcome of planning: the new text and the byte edits that produce it.
#[derive(Debug, Clone)]
pub struct Planned {
    pub text: String,
    pub edits: Vec<TextEdit>,
}

/// Applies `edits` to `text` (with `parsed` its parse), re-parses the result and checks that
/// exactly the planned scalars changed, to exactly the planned values.
pub fn plan(text: &str, parsed: &ParsedFile, edits: &[ScalarEdit]) -> Result<Planned, EditError> {
    let scalars: BTreeMap<usize, &Scalar> =
        parsed.scalars().into_iter().map(|s| (s.ordinal, s)).collect();
    let mut by_scalar: BTreeMap<usize, Vec<&ScalarEdit>> = BTreeMap::new();
    for edit in edits {
        by_scalar.entry(edit.ordinal).or_default().push(edit);
    }

    let mut text_edits = Vec::new();
    let mut expected = BTreeMap::new();
    for (ordinal, mut group) in by_scalar {
        let scalar = scalars
            .get(&ordinal)
            .copied()
            .ok_or(EditError::NoSuchScalar(ordinal))?;
        group.sort_by_key(|e| e.range.start);
        let new_value = apply_to_value(scalar, &group)?;
        check_inner(scalar, &group, &new_value)?;
        let (edits, style) = source_edits(text, scalar, &group, &new_value)?;
        text_edits.extend(edits);
        expected.insert(
            ordinal,
            Expected {
                value: new_value,
                style,
            },
        );
    }

    let new_text = splice(text, &mut text_edits)?;
    verify(text, &new_text, &expected)?;
    Ok(Planned {
        text: new_text,
        edits: text_edits,
    })
}

/// Applies sorted, non-overlapping text edits. Overlaps are refused rather than guessed at.
pub fn splice(text: &str, edits: &mut [TextEdit]) -> Result<String, EditError> {
    edits.sort_by_key(|e| (e.range.start, e.range.end));
    let mut out = String::with_capacity(text.len());
    let mut cursor = 0;
    for edit in edits.iter() {
        if edit.range.start < cursor {
            return Err(EditError::Overlap(edit.range.start));
        }
        if edit.range.end > text.len()
            || !text.is_char_boundary(edit.range.start)
            || !text.is_char_boundary(edit.range.end)
        {
            return Err(EditError::Overlap(edit.range.start));
        }
        out.push_str(&text[cursor..edit.range.start]);
        out.push_str(&edit.replacement);
        cursor = edit.range.end;
    }
    out.push_str(&text[cursor..]);
    Ok(out)
}

fn apply_to_value(scalar: &Scalar, group: &[&ScalarEdit]) -> Result<String, EditError> {
    let value = &scalar.value;
    let mut out = String::with_capacity(value.len());
    let mut cursor = 0;
    for edit in group {
        let r = &edit.range;
        if r.start < cursor {
            return Err(EditError::Overlap(r.start));
        }
        if r.end > value.len()
            || r.start > r.end
            || !value.is_char_boundary(r.start)
            || !value.is_char_boundary(r.end)
        {
            return Err(EditError::OutOfRange {
                ordinal: scalar.ordinal,
                range: r.clone(),
            });
        }
        out.push_str(&value[cursor..r.start]);
        out.push_str(&edit.replacement);
        cursor = r.end;
    }
    out.push_str(&value[cursor..]);
    Ok(out)
}

/// For edits made inside an inline YAML document, plans and verifies them on that document too.
fn check_inner(scalar: &Scalar, group: &[&ScalarEdit], new_value: &str) -> Result<(), EditError> {
    let inner: Vec<ScalarEdit> = group
        .iter()
        .filter_map(|e| e.inner.as_deref().cloned())
        .collect();
    if inner.is_empty() {
        return Ok(());
    }
    if inner.len() != group.len() {
        return Err(EditError::Unmappable {
            value: scalar.value.clone(),
            reason: "edits inside and outside an inline document mixed",
        });
    }
    let parsed =
        super::parse(&scalar.value).map_err(|e| EditError::InnerParse(e.to_string()))?;
    let planned = plan(&scalar.value, &parsed, &inner)?;
    if planned.text != new_value {
        return Err(EditError::Verify(
            "an inline document edit does not produce the planned text".into(),
        ));
    }
    Ok(())
}

/// Source edits for one scalar, and the style the scalar will have afterwards.
fn source_edits(
    text: &str,
    scalar: &Scalar,
    group: &[&ScalarEdit],
    new_value: &str,
) -> Result<(Vec<TextEdit>, Style), EditError> {
    let plain_type_changes = scalar.style == Style::Plain
        && !scalar.tagged
        && resolves_to_string(&scalar.value)
        && !resolves_to_string(new_value);
    if !plain_type_changes {
        if let Some(edits) = in_place_edits(text, scalar, group) {
            return Ok((edits, scalar.style));
        }
    }
    // Re-quote the whole scalar: needed when a plain value would change type (a pinned tag of
    // only digits would turn into a number) or when the new text cannot stand in its style.
    let raw = &text[scalar.span.clone()];
    let single_line_flow = matches!(
        scalar.style,
        Style::Plain | Style::SingleQuoted | Style::DoubleQuoted
    ) && !raw.contains('\n');
    if !single_line_flow {
        return Err(EditError::Unmappable {
            value: scalar.value.clone(),
            reason: "the replacement cannot be written in this scalar's style",
        });
    }
    Ok((
        vec![TextEdit {
            range: scalar.span.clone(),
            replacement: double_quote(new_value),
        }],
        Style::DoubleQuoted,
    ))
}

fn in_place_edits(text: &str, scalar: &Scalar, group: &[&ScalarEdit]) -> Option<Vec<TextEdit>> {
    let map = align(text, scalar)?;
    let mut out = Vec::new();
    for edit in group {
        if edit.range.is_empty() || !replacement_fits(scalar, edit) {
            return None;
        }
        let first = map.iter().position(|c| c.decoded == edit.range.start)?;
        let mut source_end = map[first].source;
        let mut idx = first;
        // Every decoded byte of the range must come from one contiguous run of source bytes.
        while idx < map.len() && map[idx].decoded < edit.range.end {
            let c = &map[idx];
            if c.source != source_end {
                return None;
            }
            source_end = c.source + c.len;
            idx += 1;
        }
        let end_ok = idx == map.len() || map[idx].decoded == edit.range.end;
        if !end_ok {
            return None;
        }
        out.push(TextEdit {
            range: map[first].source..source_end,
            replacement: edit.replacement.clone(),
        });
    }
    Some(out)
}

/// Whether `replacement` can be written into the scalar's source without escaping.
fn replacement_fits(scalar: &Scalar, edit: &ScalarEdit) -> bool {
    let r = &edit.replacement;
    if r.chars().any(|c| c.is_control() || c == '\u{feff}') {
        return false;
    }
    match scalar.style {
        Style::Plain => {
            let safe = r
                .chars()
                .all(|c| c.is_alphanumeric() || "._-/:@+=~%".contains(c));
            let at_start = edit.range.start == 0;
            let starts_badly = at_start && r.starts_with(|c: char| "-?:%@".contains(c));
            let at_end = edit.range.end == scalar.value.len();
            safe && !starts_badly && !(at_end && r.ends_with(':'))
        }
        Style::SingleQuoted => !r.contains('\''),
        Style::DoubleQuoted => !r.contains('"') && !r.contains('\\'),
        Style::Literal | Style::Folded => true,
    }
}

/// Where one decoded character came from in the source.
struct CharMap {
    decoded: usize,
    source: usize,
    len: usize,
}

/// Aligns the decoded value with its source text, character by character, skipping what a
/// decoder drops (quotes, indentation, line folds, escape introducers). An edit is placed only
/// where its characters come from one contiguous source run, and the verifier catches any
/// alignment that guessed wrong.
fn align(text: &str, scalar: &Scalar) -> Option<Vec<CharMap>> {
    let raw = text.get(scalar.span.clone())?;
    let skip_open = usize::from(matches!(
        scalar.style,
        Style::SingleQuoted | Style::DoubleQuoted
    ));
    let body_start = scalar.span.start + skip_open;
    let body = &raw[skip_open..];
    let mut out = Vec::with_capacity(scalar.value.len());
    let mut source = body.char_indices().peekable();
    for (d, ch) in scalar.value.char_indices() {
        loop {
            let (s, sc) = source.next()?;
            if sc == ch {
                out.push(CharMap {
                    decoded: d,
                    source: body_start + s,
                    len: ch.len_utf8(),
                });
                break;
            }
            if !matches!(sc, ' ' | '\t' | '\r' | '\n' | '\\' | '\'' | '"') {
                // Escapes in double quotes (`\x41`, `\u00e9`) leave source characters that
                // match nothing decoded; elsewhere the texts do not line up simply.
                if matches!(scalar.style, Style::DoubleQuoted) {
                    continue;
                }
                return None;
            }
        }
    }
    Some(out)
}

/// Whether a plain scalar with this text is read as a string (and not a number, bool or null)
/// by YAML 1.2 core schema readers and by YAML 1.1 readers such as kubectl's.
pub fn resolves_to_string(value: &str) -> bool {
    let v = value;
    let null = matches!(v, "" | "~" | "null" | "Null" | "NULL");
    let boolean = matches!(
        v,
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" | "yes" | "Yes" | "YES" | "no"
            | "No" | "NO" | "on" | "On" | "ON" | "off" | "Off" | "OFF" | "y" | "Y" | "n" | "N"
    );
    !(null || boolean || looks_numeric(v))
}

fn looks_numeric(v: &str) -> bool {
    let body = v.strip_prefix(['+', '-']).unwrap_or(v);
    if body.is_empty() {
        return false;
    }
    let lower = body.to_ascii_lowercase();
    if matches!(lower.as_str(), ".inf" | ".nan") {
        return true;
    }
    for prefix in ["0x", "0o", "0b"] {
        if let Some(rest) = lower.strip_prefix(prefix) {
            return !rest.is_empty() && rest.chars().all(|c| c.is_ascii_hexdigit() || c == '_');
        }
    }
    // Decimal integers and floats, with YAML 1.1's digit separators and sexagesimal colons.
    let mut digits = 0;
    let mut seen_e = false;
    let mut prev = ' ';
    for c in lower.chars() {
        match c {
            '0'..='9' => digits += 1,
            '_' | ':' | '.' => {}
            'e' if !seen_e && digits > 0 => seen_e = true,
            '+' | '-' if prev == 'e' => {}
            _ => return false,
        }
        prev = c;
    }
    digits > 0
}

/// Encodes `value` as a YAML double-quoted scalar.
pub fn double_quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

//! Turns edits of decoded scalar values into edits of the original bytes, and applies them.
//!
//! An edit names a scalar (by ordinal) and a byte range of its *decoded* value. This module
//! finds which source bytes that range came from, checks the replacement can be written there
//! in the scalar's own style, and falls back to re-quoting the whole scalar only when it must.

use super::align::align;
use super::model::{ParsedFile, Scalar, Style};
use super::parse::{events, Events, Sig};
use super::quote::{double_quote, encode_fragment, plain_safe, resolves_to_string, single_quote};
use super::verify::{verify_events, Expected};
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
    let before = events(text).map_err(|e| EditError::Reparse(e.to_string()))?;
    let scalars = parsed
        .scalars()
        .into_iter()
        .filter(|s| edits.iter().any(|e| e.ordinal == s.ordinal))
        .map(|s| (s.ordinal, s.clone()))
        .collect();
    plan_scalars(text, &before, &scalars, edits)
}

/// `plan` without a parse of `text` at hand: the edited scalars are taken from its events,
/// which the verification needs anyway (one parse instead of two).
pub fn plan_text(text: &str, edits: &[ScalarEdit]) -> Result<Planned, EditError> {
    let before = events(text).map_err(|e| EditError::Reparse(e.to_string()))?;
    plan_with_events(text, &before, edits)
}

/// `plan_text` with the events of `text` already at hand.
pub fn plan_with_events(
    text: &str,
    before: &Events<'_>,
    edits: &[ScalarEdit],
) -> Result<Planned, EditError> {
    let scalars = scalars_in(before, edits);
    plan_scalars(text, before, &scalars, edits)
}

/// The scalars `edits` name, as the document model has them (`parse::TreeBuilder`).
fn scalars_in(events: &Events<'_>, edits: &[ScalarEdit]) -> BTreeMap<usize, Scalar> {
    let mut out = BTreeMap::new();
    let mut ordinal = 0;
    for (sig, range) in events {
        let Sig::Scalar {
            value, style, tag, ..
        } = sig
        else {
            continue;
        };
        if edits.iter().any(|e| e.ordinal == ordinal) {
            out.insert(
                ordinal,
                Scalar {
                    // The parser reports an empty node (`key:`) as `~`; the model holds what
                    // the source says, an empty plain scalar.
                    value: if *style == Style::Plain && range.is_empty() {
                        String::new()
                    } else {
                        value.to_string()
                    },
                    style: *style,
                    span: range.clone(),
                    ordinal,
                    tagged: tag.is_some(),
                },
            );
        }
        ordinal += 1;
    }
    out
}

fn plan_scalars(
    text: &str,
    before: &Events<'_>,
    scalars: &BTreeMap<usize, Scalar>,
    edits: &[ScalarEdit],
) -> Result<Planned, EditError> {
    let mut by_scalar: BTreeMap<usize, Vec<&ScalarEdit>> = BTreeMap::new();
    for edit in edits {
        by_scalar.entry(edit.ordinal).or_default().push(edit);
    }

    let mut groups = Vec::new();
    for (ordinal, mut group) in by_scalar {
        let scalar = scalars
            .get(&ordinal)
            .ok_or(EditError::NoSuchScalar(ordinal))?;
        group.sort_by_key(|e| (e.range.start, e.range.end));
        let new_value = apply_to_value(scalar, &group)?;
        check_inner(scalar, &group, &new_value)?;
        let ways = candidates(text, scalar, &group, &new_value)?;
        groups.push((scalar, new_value, ways));
    }

    // Every scalar's first way of writing, spliced and verified together: one re-parse of
    // the file instead of one per edited scalar, which made a file with thousands of fixes
    // (10k documents) take many minutes. When that does not verify, each scalar is planned
    // on its own below, exactly as before.
    let mut first = Vec::new();
    let mut expected = BTreeMap::new();
    for (scalar, new_value, ways) in &groups {
        if let Some((edits, style)) = ways.first() {
            first.extend(edits.iter().cloned());
            expected.insert(
                scalar.ordinal,
                Expected {
                    value: new_value.clone(),
                    style: *style,
                },
            );
        }
    }
    if let Ok(new_text) = splice(text, &mut first) {
        if verify_events(before, &new_text, &expected).is_ok() {
            return Ok(Planned {
                text: new_text,
                edits: first,
            });
        }
    }

    let mut text_edits = Vec::new();
    let mut expected = BTreeMap::new();
    for (scalar, new_value, ways) in groups {
        let (edits, style) = choose(text, before, scalar, ways, &new_value)?;
        text_edits.extend(edits);
        expected.insert(
            scalar.ordinal,
            Expected {
                value: new_value,
                style,
            },
        );
    }

    let new_text = splice(text, &mut text_edits)?;
    verify_events(before, &new_text, &expected)?;
    Ok(Planned {
        text: new_text,
        edits: text_edits,
    })
}

/// The first way of writing one scalar's edit that survives verification on its own. Trying
/// the next candidate when one fails keeps the alignment heuristics from ever deciding alone.
fn choose(
    text: &str,
    before: &Events<'_>,
    scalar: &Scalar,
    ways: Vec<(Vec<TextEdit>, Style)>,
    new_value: &str,
) -> Result<(Vec<TextEdit>, Style), EditError> {
    let mut last_err = None;
    for (mut edits, style) in ways {
        let Ok(candidate) = splice(text, &mut edits) else {
            continue;
        };
        let one = BTreeMap::from([(
            scalar.ordinal,
            Expected {
                value: new_value.to_string(),
                style,
            },
        )]);
        match verify_events(before, &candidate, &one) {
            Ok(()) => return Ok((edits, style)),
            Err(err) => last_err = Some(err),
        }
    }
    Err(last_err.unwrap_or(EditError::Unmappable {
        value: scalar.value.clone(),
        reason: "no way of writing the replacement could be placed",
    }))
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
    let before = events(&scalar.value).map_err(|e| EditError::InnerParse(e.to_string()))?;
    let planned = plan_with_events(&scalar.value, &before, &inner)?;
    if planned.text != new_value {
        return Err(EditError::Verify(
            "an inline document edit does not produce the planned text".into(),
        ));
    }
    Ok(())
}

/// Ways of writing one scalar's edit into the source, in order of preference: in place
/// (keeping every other byte of the scalar), then the whole scalar rewritten in its own quoting
/// style, then double-quoted. Each comes with the style the scalar has afterwards.
fn candidates(
    text: &str,
    scalar: &Scalar,
    group: &[&ScalarEdit],
    new_value: &str,
) -> Result<Vec<(Vec<TextEdit>, Style)>, EditError> {
    let refuse = |reason| EditError::Unmappable {
        value: scalar.value.clone(),
        reason,
    };
    if scalar.span.is_empty() {
        // An empty node (`key:`) has no source text, and its span does not reliably mark
        // where a value could be inserted.
        return Err(refuse("the scalar is empty and has no source text to edit"));
    }
    let block = matches!(scalar.style, Style::Literal | Style::Folded);
    if block && group.iter().any(|e| touches_line_break(&scalar.value, e)) {
        // Rewriting line breaks would need a new block header (chomping, indentation) or a
        // change of style, both more than a value edit should do to a block scalar.
        return Err(refuse(
            "a block scalar edit may only change text within its lines",
        ));
    }
    if block && leading_tab(new_value) && !leading_tab(&scalar.value) {
        // YAML 1.1 readers (libyaml, PyYAML) detect a block scalar's indentation from its first
        // line's spaces and reject a tab found among them.
        return Err(refuse(
            "a tab at the start of a block scalar's first line would break YAML 1.1 readers",
        ));
    }
    let plain_type_changes = scalar.style == Style::Plain
        && !scalar.tagged
        && resolves_to_string(&scalar.value)
        && !resolves_to_string(new_value);
    let mut out = Vec::new();
    let plain_ok = scalar.style != Style::Plain || (!plain_type_changes && plain_safe(new_value));
    if plain_ok {
        if let Some(edits) = in_place_edits(text, scalar, group) {
            out.push((edits, scalar.style));
        }
        let whole = TextEdit {
            range: scalar.span.clone(),
            replacement: String::new(),
        };
        let rewritten = match scalar.style {
            Style::Plain => Some(new_value.to_string()),
            Style::SingleQuoted => single_quote(new_value),
            Style::DoubleQuoted => Some(double_quote(new_value)),
            Style::Literal | Style::Folded => None,
        };
        if let Some(replacement) = rewritten {
            out.push((
                vec![TextEdit {
                    replacement,
                    ..whole
                }],
                scalar.style,
            ));
        }
    }
    // Re-quote the whole scalar: needed when a plain value would change type (a pinned tag of
    // only digits would turn into a number) or when the new text cannot stand in its style.
    if !block
        && scalar.style != Style::DoubleQuoted
        && !(scalar.style == Style::Plain && tab_blank_lines_follow(text, scalar.span.end))
    {
        out.push((
            vec![TextEdit {
                range: scalar.span.clone(),
                replacement: double_quote(new_value),
            }],
            Style::DoubleQuoted,
        ));
    }
    if out.is_empty() && block {
        return Err(refuse(
            "a block scalar edit may only change text within its lines",
        ));
    }
    if out.is_empty() {
        return Err(refuse(
            "the replacement cannot be written in this scalar's style",
        ));
    }
    Ok(out)
}

/// Whether `end` ends its line's content and blank (or comment-only) lines with a tab in
/// their leading whitespace follow. A plain scalar swallows those lines; after a quoted one,
/// YAML 1.1 readers (libyaml, PyYAML) take the tab for indentation and reject the file, so a
/// plain scalar there is not re-quoted.
fn tab_blank_lines_follow(text: &str, end: usize) -> bool {
    let Some((same_line, after)) = text[end..].split_once('\n') else {
        return false;
    };
    let same_line = same_line.trim_start_matches([' ', '\t']);
    if !(same_line.trim_end_matches('\r').is_empty() || same_line.starts_with('#')) {
        return false;
    }
    after
        .split('\n')
        .map(|line| {
            let body = line.trim_start_matches([' ', '\t']);
            let blank = body.trim_end_matches('\r').is_empty() || body.starts_with('#');
            (blank, line[..line.len() - body.len()].contains('\t'))
        })
        .take_while(|(blank, _)| *blank)
        .any(|(_, tab)| tab)
}

/// Whether a tab stands in the leading whitespace of a block scalar value's lines up to its
/// first line with text: where a reader still looks for the indentation.
fn leading_tab(value: &str) -> bool {
    for line in value.split('\n') {
        let body = line.trim_start_matches([' ', '\t']);
        if line[..line.len() - body.len()].contains('\t') {
            return true;
        }
        if !body.trim_end_matches('\r').is_empty() {
            return false;
        }
    }
    false
}

/// Whether an edit's range or replacement involves a line break of a block scalar.
fn touches_line_break(value: &str, edit: &ScalarEdit) -> bool {
    let removed = value.get(edit.range.clone()).unwrap_or("");
    removed.contains(['\n', '\r']) || edit.replacement.contains(['\n', '\r'])
}

/// Source edits that change only the bytes behind the edited characters.
fn in_place_edits(text: &str, scalar: &Scalar, group: &[&ScalarEdit]) -> Option<Vec<TextEdit>> {
    let map = align(text, scalar)?;
    let mut out = Vec::new();
    for edit in group {
        let replacement = encode_fragment(scalar.style, &edit.replacement)?;
        let first = map
            .iter()
            .position(|c| c.decoded >= edit.range.start)
            .unwrap_or(map.len());
        if map
            .get(first)
            .map_or(edit.range.start != scalar.value.len(), |c| {
                c.decoded != edit.range.start
            })
        {
            return None;
        }
        let mut end = first;
        while end < map.len() && map[end].decoded < edit.range.end {
            end += 1;
        }
        if end < map.len() && map[end].decoded != edit.range.end {
            return None;
        }
        // An insertion between two characters has no unambiguous position next to a fold.
        let touched = &map[first.saturating_sub(1)..(end + 1).min(map.len())];
        if edit.range.is_empty() && touched.iter().any(|c| c.line_break) {
            return None;
        }
        let covered = &map[first..end];
        if covered.iter().any(|c| c.line_break) {
            return None;
        }
        // Every edited character must come from one contiguous run of source bytes.
        if covered
            .windows(2)
            .any(|w| w[0].source.end != w[1].source.start)
        {
            return None;
        }
        let range = match (covered.first(), covered.last()) {
            (Some(a), Some(b)) => a.source.start..b.source.end,
            _ => {
                let at = match map.get(first) {
                    Some(c) => c.source.start,
                    None => map.last()?.source.end,
                };
                at..at
            }
        };
        out.push(TextEdit { range, replacement });
    }
    Some(out)
}

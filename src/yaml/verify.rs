//! The last gate before a file is written: re-parse the edited text and compare it, event by
//! event, with the original. Only the planned scalars may differ, and only to the planned values.

use super::model::Style;
use super::parse::{events, Events, Sig};
use super::splice::EditError;
use std::collections::BTreeMap;

/// What a planned scalar must look like after the edit.
#[derive(Debug, Clone)]
pub struct Expected {
    pub value: String,
    pub style: Style,
}

/// Compares the events of `edited` with `before`, the original's: only the scalars in
/// `expected` (by ordinal) may differ, and only to their expected value and style.
pub fn verify_events(
    before: &Events<'_>,
    edited: &str,
    expected: &BTreeMap<usize, Expected>,
) -> Result<(), EditError> {
    let after = events(edited).map_err(|e| EditError::Reparse(e.to_string()))?;
    if before.len() != after.len() {
        return Err(EditError::Verify(format!(
            "the document structure changed ({} events before, {} after)",
            before.len(),
            after.len()
        )));
    }
    let mut ordinal = 0;
    let mut matched = 0;
    // Whether an edited scalar is a mapping key or anchored (and so maybe a key through an
    // alias): then the edit may have made a key the same as another one.
    let mut keys = KeyTracker::default();
    let mut edited_key = false;
    for ((old, _), (new, range)) in before.iter().zip(after.iter()) {
        let is_key = keys.step(new);
        match (old, new) {
            (
                Sig::Scalar {
                    value: ov,
                    style: os,
                    anchor: oa,
                    tag: ot,
                },
                Sig::Scalar {
                    value: nv,
                    style: ns,
                    anchor: na,
                    tag: nt,
                },
            ) => {
                let (want_value, want_style) = match expected.get(&ordinal) {
                    Some(exp) => {
                        matched += 1;
                        edited_key |= is_key || *na != 0;
                        (exp.value.as_str(), exp.style)
                    }
                    None => (ov.as_ref(), *os),
                };
                if nv.as_ref() != want_value || *ns != want_style || oa != na || ot != nt {
                    return Err(EditError::Verify(format!(
                        "scalar at byte {} reads {nv:?} ({ns:?}) after the edit, expected {want_value:?} ({want_style:?})",
                        range.start
                    )));
                }
                ordinal += 1;
            }
            (a, b) if a == b => {}
            (a, b) => {
                return Err(EditError::Verify(format!(
                    "document changed at byte {}: {a:?} became {b:?}",
                    range.start
                )))
            }
        }
    }
    if matched != expected.len() {
        return Err(EditError::Verify(
            "a planned scalar was not found after the edit".into(),
        ));
    }
    if edited_key {
        no_duplicate_key(edited)?;
    }
    Ok(())
}

/// Refuses an edited text in which a mapping names a key twice, aliases read as what they
/// stand for: kubectl rejects such a file.
fn no_duplicate_key(edited: &str) -> Result<(), EditError> {
    let parsed = super::parse::parse(edited).map_err(|e| EditError::Reparse(e.to_string()))?;
    let Some((first, dup)) = parsed.duplicate_key() else {
        return Ok(());
    };
    let lines = crate::text::LineIndex::new(edited);
    Err(EditError::Verify(format!(
        "after the edit, key `{}` at line {} would be the same as the key at line {}{}: kubectl rejects a mapping with a duplicate key",
        crate::escape::control(&dup.value),
        lines.line_col(dup.span.start).0,
        lines.line_col(first.span.start).0,
        super::model::alias_note(edited, first, dup),
    )))
}

/// Follows the nesting of a stream of events to tell which nodes are mapping keys.
#[derive(Default)]
struct KeyTracker {
    /// Per open collection: whether it is a mapping, and how many nodes it holds so far.
    open: Vec<(bool, usize)>,
}

impl KeyTracker {
    /// Takes the next event; whether it starts a node that is a mapping key.
    fn step(&mut self, sig: &Sig<'_>) -> bool {
        let starts_node = matches!(
            sig,
            Sig::Scalar { .. }
                | Sig::Alias(_)
                | Sig::UnresolvedAlias(_)
                | Sig::MapStart(..)
                | Sig::SeqStart(..)
        );
        if matches!(sig, Sig::MapEnd | Sig::SeqEnd) {
            self.open.pop();
            return false;
        }
        if !starts_node {
            return false;
        }
        let is_key = match self.open.last_mut() {
            Some((is_map, count)) => {
                let key = *is_map && count.is_multiple_of(2);
                *count += 1;
                key
            }
            None => false,
        };
        match sig {
            Sig::MapStart(..) => self.open.push((true, 0)),
            Sig::SeqStart(..) => self.open.push((false, 0)),
            _ => {}
        }
        is_key
    }
}

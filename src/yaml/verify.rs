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
    for ((old, _), (new, range)) in before.iter().zip(after.iter()) {
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
    Ok(())
}

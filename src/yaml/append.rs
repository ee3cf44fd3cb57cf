//! Appending entries to a block sequence of mappings (a kustomization's `images:`), written in
//! the file's own indentation and line endings, and verified by re-parsing: the old document is
//! unchanged and the sequence ends with exactly the new entries.

use super::model::{Node, ParsedFile};
use super::parse;
use super::quote::{double_quote, plain_safe, resolves_to_string};
use super::splice::EditError;

/// One entry: `(key, value)` pairs in order.
pub type Entry = Vec<(String, String)>;

/// Appends `entries` to the block sequence under top-level `key` of the first document.
pub fn append_to_sequence(
    text: &str,
    parsed: &ParsedFile,
    key: &str,
    entries: &[Entry],
) -> Result<String, EditError> {
    let refuse = |reason: &'static str| EditError::Unmappable {
        value: key.to_string(),
        reason,
    };
    let root = &parsed
        .documents
        .first()
        .ok_or(refuse("the file has no document"))?
        .root;
    let items = root.get(key).map(Node::items).unwrap_or_default();
    let (Some(first), Some(last)) = (items.first(), items.last()) else {
        return Err(refuse("there is no existing entry to follow"));
    };
    let first_key = first
        .entries()
        .first()
        .and_then(|(k, _)| k.as_scalar())
        .ok_or(refuse("entries are not mappings"))?;
    let line_start = text[..first_key.span.start]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let key_col = first_key.span.start - line_start;
    let prefix = &text[line_start..first_key.span.start];
    // Block style only: `  - name:` with the dash two columns before the key.
    if key_col < 2 || !prefix.ends_with("- ") || !prefix[..key_col - 2].chars().all(|c| c == ' ') {
        return Err(refuse("entries are not written as `- key: value` blocks"));
    }
    let end = last_byte(last).ok_or(refuse("the last entry has no text"))?;
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let (insert_at, lead) = match text[end..].find('\n') {
        Some(i) => (end + i + 1, ""),
        None => (text.len(), eol),
    };
    let mut addition = String::from(lead);
    for entry in entries {
        for (i, (k, v)) in entry.iter().enumerate() {
            let pad = if i == 0 {
                format!("{}- ", " ".repeat(key_col - 2))
            } else {
                " ".repeat(key_col)
            };
            let value = if plain_safe(v) && resolves_to_string(v) {
                v.clone()
            } else {
                double_quote(v)
            };
            addition.push_str(&format!("{pad}{k}: {value}{eol}"));
        }
    }
    let mut new = String::with_capacity(text.len() + addition.len());
    new.push_str(&text[..insert_at]);
    new.push_str(&addition);
    new.push_str(&text[insert_at..]);
    verify_append(parsed, &new, key, items.len(), entries)?;
    Ok(new)
}

fn last_byte(node: &Node) -> Option<usize> {
    match node {
        Node::Scalar(s) => Some(s.span.end),
        Node::Mapping(entries) => entries
            .iter()
            .flat_map(|(k, v)| [last_byte(k), last_byte(v)])
            .flatten()
            .max(),
        Node::Sequence(items) => items.iter().filter_map(last_byte).max(),
        Node::Alias => None,
    }
}

/// Every old scalar is still there, in order, with its value and style; the sequence grew by
/// exactly the new entries, holding exactly the planned values.
fn verify_append(
    old: &ParsedFile,
    new_text: &str,
    key: &str,
    old_len: usize,
    entries: &[Entry],
) -> Result<(), EditError> {
    let new = parse(new_text).map_err(|e| EditError::Reparse(e.to_string()))?;
    let root = &new
        .documents
        .first()
        .ok_or_else(|| EditError::Verify("the document disappeared".into()))?
        .root;
    let items = root.get(key).map(Node::items).unwrap_or_default();
    if items.len() != old_len + entries.len() {
        return Err(EditError::Verify(format!(
            "`{key}` has {} entries after the edit, expected {}",
            items.len(),
            old_len + entries.len()
        )));
    }
    for (item, entry) in items[old_len..].iter().zip(entries) {
        let got: Vec<(String, String)> = item
            .entries()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.as_str()?.to_string())))
            .collect();
        if &got != entry {
            return Err(EditError::Verify(format!(
                "an appended entry reads {got:?}, expected {entry:?}"
            )));
        }
    }
    let added: usize = entries.iter().map(|e| e.len() * 2).sum();
    let old_scalars: Vec<_> = old
        .scalars()
        .iter()
        .map(|s| (s.value.clone(), s.style))
        .collect();
    let new_scalars: Vec<_> = new
        .scalars()
        .iter()
        .map(|s| (s.value.clone(), s.style))
        .collect();
    if new_scalars.len() != old_scalars.len() + added {
        return Err(EditError::Verify("other content changed".into()));
    }
    // The new scalars form one contiguous run; everything around it is the old document.
    let start = (0..=old_scalars.len())
        .find(|&i| i == old_scalars.len() || old_scalars[i] != new_scalars[i])
        .unwrap_or(old_scalars.len());
    if old_scalars[start..] != new_scalars[start + added..] {
        return Err(EditError::Verify("other content changed".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, new_name: &str) -> Entry {
        vec![
            ("name".into(), name.into()),
            ("newName".into(), new_name.into()),
        ]
    }

    #[test]
    fn appends_in_the_files_own_indentation() {
        let text = "images:\n    - name: a # first\n      newName: reg/a\n      newTag: \"1\"\n# trailing\nresources:\n  - x\n";
        let parsed = parse(text).expect("yaml");
        let out = append_to_sequence(text, &parsed, "images", &[entry("b", "reg/b")]).expect("ok");
        assert_eq!(
            out,
            "images:\n    - name: a # first\n      newName: reg/a\n      newTag: \"1\"\n    - name: b\n      newName: reg/b\n# trailing\nresources:\n  - x\n"
        );
    }

    #[test]
    fn keeps_crlf_and_handles_a_missing_final_newline() {
        let text = "images:\r\n- name: a\r\n  newName: reg/a";
        let parsed = parse(text).expect("yaml");
        let out = append_to_sequence(text, &parsed, "images", &[entry("b", "true")]).expect("ok");
        assert_eq!(
            out,
            "images:\r\n- name: a\r\n  newName: reg/a\r\n- name: b\r\n  newName: \"true\"\r\n"
        );
    }

    #[test]
    fn refuses_flow_sequences() {
        let text = "images: [{name: a, newName: reg/a}]\n";
        let parsed = parse(text).expect("yaml");
        assert!(append_to_sequence(text, &parsed, "images", &[entry("b", "reg/b")]).is_err());
    }
}

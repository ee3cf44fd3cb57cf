//! Unified diffs of planned fixes (`--- a/PATH` / `+++ b/PATH`, three lines of context). A hunk
//! header carries what its fixes are based on (for a pinned tag: the commit), the way git puts
//! the enclosing function there.

use super::Paint;
use crate::escape::{control, diff_line, quote_with_prefix};
use similar::{ChangeTag, TextDiff};
use std::fmt::Write;

/// `notes` are (1-based line in the old text, note) pairs.
pub fn unified(
    path: &str,
    old: &str,
    new: &str,
    paint: Paint,
    notes: &[(usize, String)],
) -> String {
    let diff = TextDiff::from_lines(old, new);
    let mut out = String::new();
    let mut unified = diff.unified_diff();
    unified.context_radius(3);
    let mut header_done = false;
    for hunk in unified.iter_hunks() {
        if !header_done {
            // Quoted as git quotes them: a name with a line break cannot fake a header.
            let old_name = quote_with_prefix("a/", path);
            let new_name = quote_with_prefix("b/", path);
            let _ = writeln!(out, "{}", paint.wrap("1", &format!("--- {old_name}")));
            let _ = writeln!(out, "{}", paint.wrap("1", &format!("+++ {new_name}")));
            header_done = true;
        }
        let changes: Vec<_> = hunk.iter_changes().collect();
        let mut hunk_notes: Vec<&str> = Vec::new();
        for change in &changes {
            if change.tag() != ChangeTag::Delete {
                continue;
            }
            let Some(index) = change.old_index() else {
                continue;
            };
            for (line, note) in notes {
                if *line == index + 1 && !hunk_notes.contains(&note.as_str()) {
                    hunk_notes.push(note);
                }
            }
        }
        let mut header = hunk.header().to_string();
        if !hunk_notes.is_empty() {
            header.push(' ');
            header.push_str(&control(&hunk_notes.join("; ")));
        }
        let _ = writeln!(out, "{}", paint.wrap("36", &header));
        for change in changes {
            let (sign, code) = match change.tag() {
                ChangeTag::Delete => ('-', "31"),
                ChangeTag::Insert => ('+', "32"),
                ChangeTag::Equal => (' ', ""),
            };
            let value = change.value();
            let body = value.strip_suffix('\n').unwrap_or(value);
            // The file's bytes as they are, but no control character reaches the terminal.
            let line = format!("{sign}{}", diff_line(body));
            if code.is_empty() {
                out.push_str(&line);
            } else {
                out.push_str(&paint.wrap(code, &line));
            }
            out.push('\n');
            if !value.ends_with('\n') {
                out.push_str("\\ No newline at end of file\n");
            }
        }
    }
    out
}

//! What an untrusted repository puts in its file names, values and git history reaches people
//! through the terminal and through Markdown: every human-readable output goes through these.
//! File names are quoted as git quotes them; control characters in values and messages are
//! shown as escapes, so no text can move the cursor, clear the screen or start a fake line;
//! text bound for Markdown cannot open HTML, links or code spans it does not close.

use std::borrow::Cow;
use std::fmt::Write;

/// A control character as an escape: `\n`, `\t`, `\r`, `\x1b`, `\u{9b}`.
fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x80 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// `text` with every control character (C0, DEL, C1; tab included) shown as an escape: for a
/// value or message that must stay on its line and cannot drive the terminal.
pub fn control(text: &str) -> Cow<'_, str> {
    escape_where(text, char::is_control)
}

/// `text` with its control characters escaped but for tabs and line breaks: for text of
/// several lines, each of which is shown as it is (a remote's own words).
pub fn control_but_lines(text: &str) -> Cow<'_, str> {
    escape_where(text, |c| c.is_control() && c != '\n' && c != '\t')
}

/// A line of a file in a diff: its bytes as they are, but for control characters other than
/// a tab (an ESC in a file must not reach the terminal).
pub fn diff_line(text: &str) -> Cow<'_, str> {
    escape_where(text, |c| c.is_control() && c != '\t')
}

fn escape_where(text: &str, escaped: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(&escaped) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if escaped(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Whether git would quote this name: it holds a control character, a double quote or a
/// backslash. (Other non-ASCII characters are shown as they are, as with
/// `core.quotePath=false`.)
fn needs_quoting(name: &str) -> bool {
    name.chars()
        .any(|c| c.is_control() || c == '"' || c == '\\')
}

/// A file name as git shows it: as it is, or C-quoted (`"a\nb.yaml"`, `\t`, `\"`, `\\`, other
/// control bytes in octal, `\033`) when it holds a control character, a quote or a backslash.
pub fn quote_path(name: &str) -> Cow<'_, str> {
    quote_with_prefix("", name)
}

/// `prefix` and `name` as one quoted name (git's `"a/x\ny.yaml"` in a diff header).
pub fn quote_with_prefix<'a>(prefix: &str, name: &'a str) -> Cow<'a, str> {
    if !needs_quoting(name) {
        return if prefix.is_empty() {
            Cow::Borrowed(name)
        } else {
            Cow::Owned(format!("{prefix}{name}"))
        };
    }
    let mut out = String::with_capacity(name.len() + prefix.len() + 8);
    out.push('"');
    out.push_str(prefix);
    for c in name.chars() {
        push_quoted(&mut out, c);
    }
    out.push('"');
    Cow::Owned(out)
}

fn push_quoted(out: &mut String, c: char) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{b}' => out.push_str("\\v"),
        '\u{c}' => out.push_str("\\f"),
        c if c.is_control() => {
            let mut buf = [0u8; 4];
            for byte in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "\\{byte:03o}");
            }
        }
        c => out.push(c),
    }
}

/// A file name given as bytes: as `quote_path`, with bytes that are not UTF-8 written in octal
/// (which always quotes the name), as git writes them.
pub fn quote_path_bytes(bytes: &[u8]) -> Cow<'_, str> {
    if let Ok(name) = std::str::from_utf8(bytes) {
        return quote_path(name);
    }
    let mut out = String::from("\"");
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_quoted(&mut out, c);
        }
        for byte in chunk.invalid() {
            let _ = write!(out, "\\{byte:03o}");
        }
    }
    out.push('"');
    Cow::Owned(out)
}

/// A Markdown code span holding `text` as it is: fenced with one backtick more than its longest
/// run of backticks, padded with a space where it starts or ends with one, control characters
/// escaped (a line break would end a list item or a table row). Inside a code span nothing is
/// markup: `<img>` is text.
pub fn md_code(text: &str) -> String {
    let text = control(text);
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// A code span for a table cell: as `md_code`, with `|` escaped (GitHub splits cells on it
/// even inside code, and shows `\|` there as `|`).
pub fn md_cell_code(text: &str) -> String {
    md_code(text).replace('|', "\\|")
}

/// Prose for Markdown: control characters escaped, and every character Markdown or HTML could
/// read as markup backslash-escaped (`<img>` stays text, `*/app/*` does not turn italic,
/// backticks open no code span).
pub fn md_text(text: &str) -> String {
    let text = control(text);
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '`' | '~' => {
                out.push('\\');
                out.push(c);
            }
            _ => push_markup_escaped(&mut out, &chars, i),
        }
    }
    out
}

/// Pushes `chars[i]` to `out`, escaped where Markdown or HTML would read it as markup:
/// emphasis, links, tables, tags, entities (backticks and `~` are left to the caller).
pub(crate) fn push_markup_escaped(out: &mut String, chars: &[char], i: usize) {
    let c = chars[i];
    match c {
        '\\' | '*' | '<' | '>' | '[' | ']' | '|' | '&' => {
            out.push('\\');
            out.push(c);
        }
        '_' => {
            // Intraword underscores (data_ingestion) never start emphasis in GFM.
            let word = |j: Option<usize>| {
                j.and_then(|j| chars.get(j))
                    .is_some_and(|c| c.is_alphanumeric())
            };
            if !(word(i.checked_sub(1)) && word(Some(i + 1))) {
                out.push('\\');
            }
            out.push(c);
        }
        _ => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted_as_git_quotes_them() {
        assert_eq!(quote_path("apps/a.yaml"), "apps/a.yaml");
        assert_eq!(quote_path("apps/é.yaml"), "apps/é.yaml");
        assert_eq!(quote_path("a\nb.yaml"), "\"a\\nb.yaml\"");
        assert_eq!(quote_path("a\x1b[31m.yaml"), "\"a\\033[31m.yaml\"");
        assert_eq!(quote_path("q\"\\\t"), "\"q\\\"\\\\\\t\"");
        assert_eq!(quote_with_prefix("a/", "x\ny"), "\"a/x\\ny\"");
        assert_eq!(quote_with_prefix("a/", "x"), "a/x");
        assert_eq!(quote_path_bytes(b"bad\xff.yaml"), "\"bad\\377.yaml\"");
        assert_eq!(quote_path_bytes(b"ok.yaml"), "ok.yaml");
    }

    #[test]
    fn control_characters_become_escapes() {
        assert_eq!(control("a\x1b[2J\nb\tc\u{9b}"), "a\\x1b[2J\\nb\\tc\\u{9b}");
        assert!(matches!(control("plain: é"), Cow::Borrowed(_)));
        assert_eq!(diff_line("a\tb\x1bc\r"), "a\tb\\x1bc\\r");
        assert_eq!(control_but_lines("a\nb\x07"), "a\nb\\x07");
    }

    #[test]
    fn code_spans_outlast_every_backtick_run() {
        assert_eq!(md_code("main-latest"), "`main-latest`");
        assert_eq!(md_code("a`b"), "``a`b``");
        assert_eq!(md_code("``x"), "``` ``x ```");
        assert_eq!(md_code("a\nb"), "`a\\nb`");
        assert_eq!(md_cell_code("a|b"), "`a\\|b`");
    }

    #[test]
    fn prose_cannot_open_markup() {
        assert_eq!(
            md_text("`<img src=x onerror=alert(1)>```"),
            "\\`\\<img src=x onerror=alert(1)\\>\\`\\`\\`"
        );
        assert_eq!(
            md_text("data_ingestion _x_ [a](b)"),
            "data_ingestion \\_x\\_ \\[a\\](b)"
        );
        assert_eq!(md_text("a\nb"), "a\\\\nb");
    }
}

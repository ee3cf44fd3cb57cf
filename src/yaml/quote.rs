//! How a value is written in each scalar style: whether it can stand plain, and how it is
//! quoted when it cannot, so that it reads back as the same string.

use super::model::Style;

/// How `fragment` is written inside a scalar of `style`, or `None` when it cannot be.
pub(super) fn encode_fragment(style: Style, fragment: &str) -> Option<String> {
    let has = |f: fn(char) -> bool| fragment.chars().any(f);
    match style {
        Style::Plain => (!has(unwritable)).then(|| fragment.to_string()),
        Style::SingleQuoted => (!has(unwritable)).then(|| fragment.replace('\'', "''")),
        Style::DoubleQuoted => {
            let quoted = double_quote(fragment);
            Some(quoted[1..quoted.len() - 1].to_string())
        }
        Style::Literal | Style::Folded => {
            (!fragment.chars().any(|c| c != '\t' && unwritable(c))).then(|| fragment.to_string())
        }
    }
}

/// Whether `value` can be written as a plain scalar, in block or flow context, and read back
/// as the same text. Conservative: anything doubtful is quoted instead.
pub(crate) fn plain_safe(value: &str) -> bool {
    let Some(first) = value.chars().next() else {
        return false;
    };
    let indicator = "-?:,[]{}#&*!|>'\"%@`".contains(first);
    // `-x` reads as text everywhere. `?x` and `:x` do in YAML 1.2, but inside a flow collection
    // YAML 1.1 readers (libyaml, kubectl's go-yaml) take the `?` or `:` for an indicator; go-yaml
    // even ends a plain scalar at any `?` there. This cannot see the context, so no `?` at all.
    let starts_ok = !indicator
        || (first == '-'
            && value[1..]
                .chars()
                .next()
                .is_some_and(|c| !c.is_whitespace() && !",[]{}".contains(c)));
    starts_ok
        && !value.starts_with("---")
        && !value.starts_with("...")
        && !value.starts_with(char::is_whitespace)
        && !value.ends_with(char::is_whitespace)
        && !value.ends_with(':')
        && !value.contains(": ")
        && !value.contains(" #")
        && !value.contains(['\t', ',', '[', ']', '{', '}', '?'])
        && !value.chars().any(unwritable)
}

/// Characters that cannot stand as themselves in written text: controls, the BOM, and the
/// line and paragraph separators U+2028/U+2029, which YAML 1.1 readers (libyaml, and kubectl's
/// go-yaml) take for line breaks, as they do NEL (U+0085, a control). Escaped in double
/// quotes; any other style refuses them.
fn unwritable(c: char) -> bool {
    c.is_control() || matches!(c, '\u{feff}' | '\u{2028}' | '\u{2029}')
}

/// Encodes `value` as a YAML single-quoted scalar, if it fits on one line.
pub(super) fn single_quote(value: &str) -> Option<String> {
    if value.chars().any(unwritable) {
        return None;
    }
    Some(format!("'{}'", value.replace('\'', "''")))
}

/// Whether a plain scalar with this text is read as a string (and not a number, bool or null)
/// by YAML 1.2 core schema readers and by YAML 1.1 readers such as kubectl's.
pub fn resolves_to_string(value: &str) -> bool {
    let v = value;
    let null = matches!(v, "" | "~" | "null" | "Null" | "NULL");
    let boolean = matches!(
        v,
        "true"
            | "True"
            | "TRUE"
            | "false"
            | "False"
            | "FALSE"
            | "yes"
            | "Yes"
            | "YES"
            | "no"
            | "No"
            | "NO"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
            | "y"
            | "Y"
            | "n"
            | "N"
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
            c if unwritable(c) => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

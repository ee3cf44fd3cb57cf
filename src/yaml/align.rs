//! Which source bytes each character of a decoded scalar value came from.
//!
//! Edits are given in decoded terms (a byte range of the value); writing them back needs the
//! source range behind them. This walks the source of one scalar the way a YAML reader decodes
//! it (escapes, doubled quotes, line folding, block indentation) and records, per decoded
//! character, its source range. It does not need to be a complete decoder: anything it cannot
//! follow makes it give up, and the verifier re-parses every edit it helps to place.

use super::model::{Scalar, Style};
use std::ops::Range;

/// Where one decoded character came from.
#[derive(Debug, Clone)]
pub struct CharMap {
    /// Byte offset of the character in the decoded value.
    pub decoded: usize,
    /// Source bytes it was decoded from (an escape such as `\t` or `''` spans several bytes;
    /// a folded line break spans the break and the indentation around it).
    pub source: Range<usize>,
    /// Produced by a line break (folded or kept): edits must not touch it, because rewriting
    /// it changes the line structure the surrounding text depends on.
    pub line_break: bool,
}

/// Aligns the decoded value of `scalar` with `text`, or `None` when the two cannot be followed.
pub fn align(text: &str, scalar: &Scalar) -> Option<Vec<CharMap>> {
    let raw = text.get(scalar.span.clone())?;
    let quoted = matches!(scalar.style, Style::SingleQuoted | Style::DoubleQuoted);
    let (body, base) = if quoted {
        let inner = raw.get(1..raw.len().checked_sub(1)?)?;
        (inner, scalar.span.start + 1)
    } else {
        (raw, scalar.span.start)
    };
    let block = matches!(scalar.style, Style::Literal | Style::Folded);
    let indent = if block {
        block_indent(text, scalar.span.start)?
    } else {
        0
    };
    let src = body.as_bytes();
    let decoded: Vec<(usize, char)> = scalar.value.char_indices().collect();
    let mut out = Vec::with_capacity(decoded.len());
    let mut s = 0;
    let mut d = 0;
    while d < decoded.len() {
        let (doff, ch) = decoded[d];
        let rest = body.get(s..)?;
        let sc = rest.chars().next()?;
        if block {
            if sc == '\r' && rest[1..].starts_with('\n') && ch == '\n' {
                // A CRLF break decodes to one line feed.
                out.push(map(doff, base + s, 2, true));
                s = skip_indent(src, s + 2, indent);
                d += 1;
                continue;
            }
            if sc == '\n' {
                if ch != '\n' && ch != ' ' {
                    return None;
                }
                out.push(map(doff, base + s, 1, true));
                s = skip_indent(src, s + 1, indent);
                d += 1;
                continue;
            }
            if sc == '\r' {
                return None;
            }
        } else if let Some((end, breaks)) = fold_region(src, s) {
            // Flow line folding: trailing blanks, the breaks and the next line's indentation
            // become one space, or n-1 line feeds for n breaks.
            let produced = if breaks == 1 { 1 } else { breaks - 1 };
            let want = if breaks == 1 { ' ' } else { '\n' };
            for k in 0..produced {
                let (off, c) = *decoded.get(d + k)?;
                if c != want {
                    return None;
                }
                let start = if k == 0 { base + s } else { base + end };
                let len = if k == 0 { end - s } else { 0 };
                out.push(map(off, start, len, true));
            }
            d += produced;
            s = end;
            continue;
        } else if scalar.style == Style::DoubleQuoted && sc == '\\' {
            let (len, value) = escape(rest)?;
            match value {
                // An escaped line break decodes to nothing, as does the indentation after it.
                None => {
                    s += len;
                    while matches!(src.get(s), Some(b' ' | b'\t')) {
                        s += 1;
                    }
                }
                Some(c) if c == ch => {
                    out.push(map(doff, base + s, len, false));
                    s += len;
                    d += 1;
                }
                Some(_) => return None,
            }
            continue;
        } else if scalar.style == Style::SingleQuoted && sc == '\'' {
            if ch != '\'' || !rest[1..].starts_with('\'') {
                return None;
            }
            out.push(map(doff, base + s, 2, false));
            s += 2;
            d += 1;
            continue;
        }
        if sc != ch {
            return None;
        }
        out.push(map(doff, base + s, sc.len_utf8(), false));
        s += sc.len_utf8();
        d += 1;
    }
    Some(out)
}

fn map(decoded: usize, start: usize, len: usize, line_break: bool) -> CharMap {
    CharMap {
        decoded,
        source: start..start + len,
        line_break,
    }
}

/// The content indentation of a block scalar: the column its first content line starts at,
/// provided nothing but spaces stands before it on that line.
fn block_indent(text: &str, start: usize) -> Option<usize> {
    let line_start = text.get(..start)?.rfind('\n').map_or(0, |i| i + 1);
    let prefix = &text[line_start..start];
    prefix.bytes().all(|b| b == b' ').then_some(prefix.len())
}

fn skip_indent(src: &[u8], mut s: usize, indent: usize) -> usize {
    let mut n = 0;
    while n < indent && src.get(s) == Some(&b' ') {
        s += 1;
        n += 1;
    }
    s
}

/// If a flow scalar's line fold starts at `s` (blanks followed by a line break), the end of the
/// whole fold (through the next line's indentation) and how many line breaks it holds.
fn fold_region(src: &[u8], s: usize) -> Option<(usize, usize)> {
    let mut i = s;
    while matches!(src.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    if !matches!(src.get(i), Some(b'\n' | b'\r')) {
        return None;
    }
    let mut breaks = 0;
    while let Some(&b) = src.get(i) {
        match b {
            b'\n' => breaks += 1,
            b'\r' if src.get(i + 1) == Some(&b'\n') => {}
            b'\r' => breaks += 1,
            b' ' | b'\t' => {}
            _ => break,
        }
        i += 1;
    }
    Some((i, breaks))
}

/// A double-quoted escape at the start of `rest`: its length and the character it stands for
/// (`None` for an escaped line break, which stands for nothing).
fn escape(rest: &str) -> Option<(usize, Option<char>)> {
    let mut chars = rest.chars();
    chars.next()?;
    let c = chars.next()?;
    let simple = match c {
        '0' => Some('\0'),
        'a' => Some('\u{7}'),
        'b' => Some('\u{8}'),
        't' | '\t' => Some('\t'),
        'n' => Some('\n'),
        'v' => Some('\u{b}'),
        'f' => Some('\u{c}'),
        'r' => Some('\r'),
        'e' => Some('\u{1b}'),
        ' ' => Some(' '),
        '"' => Some('"'),
        '/' => Some('/'),
        '\\' => Some('\\'),
        'N' => Some('\u{85}'),
        '_' => Some('\u{a0}'),
        'L' => Some('\u{2028}'),
        'P' => Some('\u{2029}'),
        _ => None,
    };
    if let Some(v) = simple {
        return Some((1 + c.len_utf8(), Some(v)));
    }
    let digits = match c {
        '\n' => return Some((2, None)),
        '\r' if rest[2..].starts_with('\n') => return Some((3, None)),
        '\r' => return Some((2, None)),
        'x' => 2,
        'u' => 4,
        'U' => 8,
        _ => return None,
    };
    let hex = rest.get(2..2 + digits)?;
    let code = u32::from_str_radix(hex, 16).ok()?;
    Some((2 + digits, Some(char::from_u32(code)?)))
}

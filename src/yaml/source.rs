//! Where the bytes of a scalar's decoded value sit in its source: for pointing at part of a
//! value in a message, and for placing it without the character map when it is written
//! verbatim.

use super::align::align;
use super::model::{Scalar, Style};
use std::ops::Range;

/// Where a flow scalar's value starts in `text` when its source (inside the quotes, if any) is
/// the value itself, byte for byte. Decoding only ever shortens (escapes, `''`) or changes
/// bytes (a folded break becomes a space), so equal bytes mean nothing was decoded.
fn verbatim_at(text: &str, scalar: &Scalar) -> Option<usize> {
    verbatim_base(text, &scalar.span, scalar.style, &scalar.value)
}

/// `verbatim_at` for a scalar given by its parts (a located site keeps no `Scalar` value).
pub fn verbatim_base(text: &str, span: &Range<usize>, style: Style, value: &str) -> Option<usize> {
    if matches!(style, Style::Literal | Style::Folded) {
        return None;
    }
    let raw = text.get(span.clone())?;
    let quote = quote_width(style);
    let body = raw.get(quote..raw.len().checked_sub(quote)?)?;
    (body == value).then_some(span.start + quote)
}

/// The bytes of opening quote before a flow scalar's value in its span.
pub fn quote_width(style: Style) -> usize {
    usize::from(matches!(style, Style::SingleQuoted | Style::DoubleQuoted))
}

/// The source range behind `range` of a value that stands verbatim from byte `base` of the
/// text (what the character map would give), when `range` lies within the value on character
/// boundaries; `None` when the map must answer.
pub fn verbatim_range(
    base: Option<usize>,
    value: &str,
    range: &Range<usize>,
) -> Option<Range<usize>> {
    let within = range.start < value.len()
        && range.end <= value.len()
        && value.is_char_boundary(range.start)
        && value.is_char_boundary(range.end);
    let base = base.filter(|_| within)?;
    Some(base + range.start..base + range.end.max(range.start))
}

/// The source bytes behind `range` of a scalar's decoded value, for pointing at it in messages
/// (edits go through `plan`, which also verifies). `None` when the source cannot be followed.
pub fn source_range(text: &str, scalar: &Scalar, range: Range<usize>) -> Option<Range<usize>> {
    // Most values are written as they read (no escapes, folding or doubled quotes): their
    // bytes sit one for one in the source, and the character map would only say so.
    verbatim_range(verbatim_at(text, scalar), &scalar.value, &range)
        .or_else(|| mapped_source_range(text, scalar, range))
}

/// `source_range` by the character map, for any scalar the map can follow.
fn mapped_source_range(text: &str, scalar: &Scalar, range: Range<usize>) -> Option<Range<usize>> {
    let map = align(text, scalar)?;
    let first = map.iter().find(|c| c.decoded >= range.start)?;
    let last = map
        .iter()
        .rev()
        .find(|c| c.decoded < range.end)
        .filter(|c| c.decoded >= first.decoded);
    Some(first.source.start..last.map_or(first.source.start, |c| c.source.end))
}

#[cfg(test)]
mod tests {
    use super::{mapped_source_range, source_range};
    use crate::yaml::parse;

    /// The verbatim shortcut gives what the character map gives, for every range of every
    /// scalar, written as it reads or not.
    #[test]
    fn verbatim_shortcut_agrees_with_the_character_map() {
        let text = "plain: 123456789012.dkr.ecr.us-east-1.amazonaws.com/app:v1\n\
            single: 'it''s here'\n\
            single2: 'arn:aws:iam::123456789012:role/x'\n\
            double: \"tab\\there \\u00e9\"\n\
            double2: \"héllo wörld\"\n\
            folded_plain: first\n  second line\n\
            quoted_fold: 'one\n  two'\n\
            literal: |\n  text\n  more\n\
            empty:\n\
            empty_quoted: ''\n\
            unicode: naïve-ünïcode\n";
        let parsed = parse(text).expect("parses");
        let mut compared = 0;
        for scalar in parsed.scalars() {
            let len = scalar.value.len();
            for start in 0..=len + 1 {
                for end in 0..=len + 1 {
                    assert_eq!(
                        source_range(text, scalar, start..end),
                        mapped_source_range(text, scalar, start..end),
                        "{:?} {start}..{end}",
                        scalar.value
                    );
                    compared += 1;
                }
            }
        }
        assert!(compared > 1000, "{compared}");
    }
}

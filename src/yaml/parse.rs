//! The only module that talks to the YAML parser: turns its events into the document model.
//! Keeping the parser behind this file lets it be swapped without touching the rest.

use super::model::{Comment, Document, Node, ParsedFile, Scalar, Style};
use granit_parser::{Event, Parser, ScalarStyle, ScanError};
use std::borrow::Cow;

/// A file that is not valid YAML, with the 1-based position the parser stopped at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct YamlError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl From<ScanError> for YamlError {
    fn from(err: ScanError) -> Self {
        let mark = err.marker();
        YamlError {
            line: mark.line().max(1),
            // The parser counts columns from zero; editors and compilers count from one.
            column: mark.col() + 1,
            message: err.info().to_string(),
        }
    }
}

/// One parser event reduced to what identifies the document's content and presentation.
/// The verifier compares these between the original and the edited text. Values borrow from
/// the text wherever the parser can (plain scalars, comments): a copy per scalar was a
/// quarter of the time of a large run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sig<'a> {
    DocStart(bool),
    DocEnd,
    MapStart(bool, usize, Option<String>),
    MapEnd,
    SeqStart(bool, usize, Option<String>),
    SeqEnd,
    Scalar {
        value: Cow<'a, str>,
        style: Style,
        anchor: usize,
        tag: Option<String>,
    },
    Alias(usize),
    /// An alias the parser could not resolve, by name.
    UnresolvedAlias(Cow<'a, str>),
    Anchor(Cow<'a, str>),
    Comment(Cow<'a, str>),
}

fn style_of(style: ScalarStyle) -> Style {
    match style {
        ScalarStyle::Plain => Style::Plain,
        ScalarStyle::SingleQuoted => Style::SingleQuoted,
        ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
        ScalarStyle::Literal => Style::Literal,
        ScalarStyle::Folded => Style::Folded,
        // Newer parser versions may add styles; treat them like the strictest quoting we know.
        #[allow(unreachable_patterns)]
        _ => Style::DoubleQuoted,
    }
}

fn options(comments: bool) -> granit_parser::Options {
    granit_parser::options! { emit_anchor_events: true, emit_comments: comments }
}

/// Every event of `text` with its byte range, or the first syntax error.
pub fn events(text: &str) -> Result<Events<'_>, YamlError> {
    events_with(text, true)
}

fn events_with(text: &str, comments: bool) -> Result<Events<'_>, YamlError> {
    // About one event per dozen bytes in manifests: sized once rather than grown and copied.
    let mut out = Vec::with_capacity(text.len() / 12 + 8);
    for_each_event(text, comments, |sig, range| out.push((sig, range)))?;
    Ok(out)
}

/// Hands each event of `text` with its byte range to `f`, in order; stops at the first syntax
/// error.
fn for_each_event<'a>(
    text: &'a str,
    comments: bool,
    mut f: impl FnMut(Sig<'a>, std::ops::Range<usize>),
) -> Result<(), YamlError> {
    for item in Parser::new_from_str_with_options(text, options(comments)) {
        let (event, span) = item?;
        let range = span.byte_range().unwrap_or(0..0);
        let sig = match event {
            Event::StreamStart | Event::StreamEnd => continue,
            Event::DocumentStart(explicit, _) => Sig::DocStart(explicit),
            Event::DocumentEnd => Sig::DocEnd,
            Event::Alias(id) => Sig::Alias(id),
            Event::UnresolvedAlias(name) => Sig::UnresolvedAlias(name),
            Event::Anchor(_, name) => Sig::Anchor(name),
            Event::Comment(text, _) => Sig::Comment(text),
            Event::Scalar(value, style, anchor, tag) => Sig::Scalar {
                value,
                style: style_of(style),
                anchor,
                tag: tag.map(|t| t.to_string()),
            },
            Event::SequenceStart(style, anchor, tag) => Sig::SeqStart(
                style == granit_parser::StructureStyle::Flow,
                anchor,
                tag.map(|t| t.to_string()),
            ),
            Event::SequenceEnd => Sig::SeqEnd,
            Event::MappingStart(style, anchor, tag) => Sig::MapStart(
                style == granit_parser::StructureStyle::Flow,
                anchor,
                tag.map(|t| t.to_string()),
            ),
            Event::MappingEnd => Sig::MapEnd,
            // Events a newer parser may add carry no content we compare.
            _ => continue,
        };
        f(sig, range);
    }
    Ok(())
}

/// Parses `text` into documents of nodes with spans.
pub fn parse(text: &str) -> Result<ParsedFile, YamlError> {
    tree(text, true)
}

/// `parse` for reading facts: keeps only the comments that can be `# manifix:` suppressions.
/// A file that never says `manifix:` is parsed without collecting its comments at all, which
/// spares the parser a copy of each one.
pub fn parse_facts(text: &str) -> Result<ParsedFile, YamlError> {
    let comments = memchr::memmem::find(text.as_bytes(), b"manifix:").is_some();
    tree(text, comments)
}

/// The document model of `text`, built as the parser goes (no list of events in between).
fn tree(text: &str, comments: bool) -> Result<ParsedFile, YamlError> {
    let mut builder = TreeBuilder::default();
    for_each_event(text, comments, |sig, range| builder.push(sig, range))?;
    Ok(builder.finish())
}

/// The events of `text`, as the verifier compares them.
pub type Events<'a> = Vec<(Sig<'a>, std::ops::Range<usize>)>;

enum Open {
    /// Entries, the key waiting for its value, and the keys that are aliases.
    Mapping(Vec<(Node, Node)>, Option<Node>, Vec<AliasKey>),
    Sequence(Vec<Node>),
}

/// What an anchor names, as a mapping key compares it.
#[derive(Clone)]
enum Anchored {
    Scalar(Scalar),
    /// A mapping or sequence, by anchor id: two aliases of it are the same key.
    Collection(usize),
}

/// A mapping key written as an alias (`? *x`): which entry, what it stands for, where it is.
struct AliasKey {
    entry: usize,
    target: Option<Anchored>,
    at: std::ops::Range<usize>,
}

#[derive(Default)]
struct TreeBuilder {
    documents: Vec<Document>,
    comments: Vec<Comment>,
    stack: Vec<Open>,
    root: Option<Node>,
    scalars_seen: usize,
    /// Anchored nodes by anchor id (anchors are few; only they are kept).
    anchors: std::collections::HashMap<usize, Anchored>,
    alias_duplicate: Option<(Scalar, Scalar)>,
}

impl TreeBuilder {
    fn finish(self) -> ParsedFile {
        ParsedFile {
            documents: self.documents,
            comments: self.comments,
            alias_duplicate: self.alias_duplicate,
        }
    }

    /// A mapping with alias keys, as it closes: the first key that, aliases resolved, another
    /// key of it already names. (Keys without aliases are compared by `duplicate_key`.)
    fn check_alias_keys(&mut self, entries: &[(Node, Node)], aliases: &[AliasKey]) {
        // The text (or collection) each key names, and how to show it.
        let key_of = |i: usize| -> Option<(Anchored, Scalar)> {
            if let Some(alias) = aliases.iter().find(|a| a.entry == i) {
                return match alias.target.clone()? {
                    Anchored::Scalar(s) => Some((
                        Anchored::Scalar(s.clone()),
                        Scalar {
                            span: alias.at.clone(),
                            ..s
                        },
                    )),
                    Anchored::Collection(id) => Some((
                        Anchored::Collection(id),
                        Scalar {
                            value: format!("*{id}"),
                            style: Style::Plain,
                            span: alias.at.clone(),
                            ordinal: usize::MAX,
                            tagged: false,
                        },
                    )),
                };
            }
            let s = entries.get(i)?.0.as_scalar()?;
            Some((Anchored::Scalar(s.clone()), s.clone()))
        };
        let same = |a: &Anchored, b: &Anchored| match (a, b) {
            (Anchored::Scalar(x), Anchored::Scalar(y)) => !x.value.is_empty() && x.value == y.value,
            (Anchored::Collection(x), Anchored::Collection(y)) => x == y,
            _ => false,
        };
        for alias in aliases {
            let Some((this, shown)) = key_of(alias.entry) else {
                continue;
            };
            for other in (0..entries.len()).filter(|&j| j != alias.entry) {
                let Some((that, other_shown)) = key_of(other) else {
                    continue;
                };
                if !same(&this, &that) {
                    continue;
                }
                let (first, dup) = if other < alias.entry {
                    (other_shown, shown.clone())
                } else {
                    (shown.clone(), other_shown)
                };
                if self
                    .alias_duplicate
                    .as_ref()
                    .is_none_or(|(_, d)| dup.span.start < d.span.start)
                {
                    self.alias_duplicate = Some((first, dup));
                }
                break;
            }
        }
    }

    fn push(&mut self, sig: Sig<'_>, range: std::ops::Range<usize>) {
        match sig {
            Sig::DocStart(_) => self.root = None,
            Sig::DocEnd => {
                let root = self.root.take().unwrap_or(Node::Alias);
                let index = self.documents.len();
                self.documents.push(Document { index, root });
            }
            Sig::MapStart(_, anchor, _) | Sig::SeqStart(_, anchor, _) => {
                if anchor != 0 {
                    self.anchors.insert(anchor, Anchored::Collection(anchor));
                }
                self.stack.push(if matches!(sig, Sig::MapStart(..)) {
                    Open::Mapping(Vec::new(), None, Vec::new())
                } else {
                    Open::Sequence(Vec::new())
                });
            }
            Sig::MapEnd | Sig::SeqEnd => {
                let node = match self.stack.pop() {
                    Some(Open::Mapping(entries, _, aliases)) => {
                        if !aliases.is_empty() {
                            self.check_alias_keys(&entries, &aliases);
                        }
                        Node::Mapping(entries)
                    }
                    Some(Open::Sequence(items)) => Node::Sequence(items),
                    None => return,
                };
                self.add(node);
            }
            Sig::Scalar {
                value,
                style,
                tag,
                anchor,
            } => {
                // The parser reports an empty node (`key:`) as `~`; the model holds what the
                // source says, an empty plain scalar, as the YAML test suite does.
                let value = if style == Style::Plain && range.is_empty() {
                    String::new()
                } else {
                    value.into_owned()
                };
                let scalar = Scalar {
                    value,
                    style,
                    span: range,
                    ordinal: self.scalars_seen,
                    tagged: tag.is_some(),
                };
                self.scalars_seen += 1;
                if anchor != 0 {
                    self.anchors
                        .insert(anchor, Anchored::Scalar(scalar.clone()));
                }
                self.add(Node::Scalar(scalar));
            }
            Sig::Alias(id) => {
                let target = self.anchors.get(&id).cloned();
                if let Some(Open::Mapping(entries, None, aliases)) = self.stack.last_mut() {
                    aliases.push(AliasKey {
                        entry: entries.len(),
                        target,
                        at: range,
                    });
                }
                self.add(Node::Alias)
            }
            Sig::UnresolvedAlias(_) => self.add(Node::Alias),
            Sig::Anchor(_) => {}
            Sig::Comment(text) => self.comments.push(Comment {
                text: text.into_owned(),
                offset: range.start,
            }),
        }
    }

    fn add(&mut self, node: Node) {
        match self.stack.last_mut() {
            Some(Open::Sequence(items)) => items.push(node),
            Some(Open::Mapping(entries, pending_key, _)) => match pending_key.take() {
                Some(key) => entries.push((key, node)),
                None => *pending_key = Some(node),
            },
            None => self.root = Some(node),
        }
    }
}

//! The read-only document model: what the rest of manifix knows about a YAML file.
//!
//! Every scalar keeps its decoded value, its source style and its byte span, so later stages
//! can point at it and edit it by span without ever re-serialising the document.

use std::ops::Range;

/// How a scalar is written in the source; edits keep it unless quoting is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

#[derive(Debug, Clone)]
pub struct Scalar {
    pub value: String,
    pub style: Style,
    /// Byte range of the scalar in the source (quotes included, block header excluded).
    pub span: Range<usize>,
    /// Position of this scalar among all scalars of the file, in stream order. The verifier
    /// matches scalars of the original and the edited text by this number.
    pub ordinal: usize,
    /// Whether the scalar carries an explicit tag (`!!str`, `!foo`).
    pub tagged: bool,
}

#[derive(Debug, Clone)]
pub enum Node {
    Scalar(Scalar),
    Mapping(Vec<(Node, Node)>),
    Sequence(Vec<Node>),
    /// An alias (`*name`): its content lives at the anchor, which is where edits go.
    Alias,
}

impl Node {
    /// The value under `key` in a mapping, comparing keys by their decoded text.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Mapping(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// Follows a chain of mapping keys.
    pub fn at(&self, keys: &[&str]) -> Option<&Node> {
        keys.iter().try_fold(self, |node, key| node.get(key))
    }

    pub fn as_scalar(&self) -> Option<&Scalar> {
        match self {
            Node::Scalar(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        self.as_scalar().map(|s| s.value.as_str())
    }

    pub fn items(&self) -> &[Node] {
        match self {
            Node::Sequence(items) => items,
            _ => &[],
        }
    }

    pub fn entries(&self) -> &[(Node, Node)] {
        match self {
            Node::Mapping(entries) => entries,
            _ => &[],
        }
    }
}

/// One segment of a path such as `spec.template.spec.containers[0].image`. Keys borrow from
/// the parse they walk: a walk visits every key of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSeg<'a> {
    Key(std::borrow::Cow<'a, str>),
    Index(usize),
}

/// Renders a path the way users read it in messages.
pub fn display_path(path: &[PathSeg<'_>]) -> String {
    use std::fmt::Write;
    // Sized exactly: a path is kept with every site of a large run, and a doubling string
    // would keep a quarter more on average.
    let len: usize = path
        .iter()
        .map(|seg| match seg {
            PathSeg::Key(k) => k.len() + 1,
            PathSeg::Index(i) => i.checked_ilog10().unwrap_or(0) as usize + 3,
        })
        .sum::<usize>()
        // No dot before a leading key.
        - usize::from(matches!(path.first(), Some(PathSeg::Key(_))));
    let mut out = String::with_capacity(len);
    for seg in path {
        match seg {
            PathSeg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            PathSeg::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
        }
    }
    out
}

#[derive(Debug, Clone)]
pub struct Document {
    /// Zero-based index of the document in its file.
    pub index: usize,
    pub root: Node,
}

/// A comment as written, with the byte offset where its `#` stands.
#[derive(Debug, Clone)]
pub struct Comment {
    pub text: String,
    pub offset: usize,
}

#[derive(Debug, Clone)]
pub struct ParsedFile {
    pub documents: Vec<Document>,
    pub comments: Vec<Comment>,
    /// The first key a mapping names twice once its alias keys (`? *x`) are read as what they
    /// stand for, as kubectl reads them; the alias is shown as a scalar at the alias.
    pub alias_duplicate: Option<(Scalar, Scalar)>,
}

impl ParsedFile {
    /// Every scalar of the file in stream order (mapping keys included).
    pub fn scalars(&self) -> Vec<&Scalar> {
        fn walk<'a>(node: &'a Node, out: &mut Vec<&'a Scalar>) {
            match node {
                Node::Scalar(s) => out.push(s),
                Node::Mapping(entries) => {
                    for (k, v) in entries {
                        walk(k, out);
                        walk(v, out);
                    }
                }
                Node::Sequence(items) => items.iter().for_each(|n| walk(n, out)),
                Node::Alias => {}
            }
        }
        let mut out = Vec::new();
        for doc in &self.documents {
            walk(&doc.root, &mut out);
        }
        out
    }

    /// The first mapping key (in stream order) written twice in one mapping, with its first
    /// occurrence. Keys compare by decoded text, as kubectl's reader does (it rejects `a:`
    /// twice, and even `1:` beside `"1":`); which of the two values a consumer uses is
    /// anybody's guess. Alias keys count as the value they stand for (`a: &x k`, `? *x`,
    /// `k: v` names `k` twice); the one shown for an alias spans the alias.
    pub fn duplicate_key(&self) -> Option<(&Scalar, &Scalar)> {
        let plain = self.plain_duplicate_key();
        match (&self.alias_duplicate, plain) {
            (Some((first, dup)), Some((_, d))) if dup.span.start < d.span.start => {
                Some((first, dup))
            }
            (Some((first, dup)), None) => Some((first, dup)),
            (_, plain) => plain,
        }
    }

    fn plain_duplicate_key(&self) -> Option<(&Scalar, &Scalar)> {
        let mut found: Option<(&Scalar, &Scalar)> = None;
        let mut stack: Vec<&Node> = self.documents.iter().map(|d| &d.root).collect();
        while let Some(node) = stack.pop() {
            match node {
                Node::Mapping(entries) => {
                    // Most mappings have a handful of keys: comparing each with the earlier
                    // ones is cheaper than hashing them; large ones get a map.
                    let mut seen: std::collections::HashMap<&str, &Scalar> =
                        std::collections::HashMap::new();
                    for (i, (key, value)) in entries.iter().enumerate() {
                        // An empty key is YAML's missing key (`: a`), not a name written twice.
                        if let Some(k) = key.as_scalar().filter(|k| !k.value.is_empty()) {
                            let first = if entries.len() <= 16 {
                                entries[..i]
                                    .iter()
                                    .filter_map(|(earlier, _)| earlier.as_scalar())
                                    .find(|e| e.value == k.value)
                            } else {
                                seen.insert(&k.value, k)
                            };
                            if let Some(first) = first {
                                if found.is_none_or(|(_, d)| k.ordinal < d.ordinal) {
                                    found = Some((first, k));
                                }
                            }
                        }
                        stack.push(key);
                        stack.push(value);
                    }
                }
                Node::Sequence(items) => stack.extend(items.iter()),
                Node::Scalar(_) | Node::Alias => {}
            }
        }
        found
    }
}

/// How a duplicate found through an alias came about, for its message: `` (`*x` stands for
/// it)`` when one of the two keys is an alias; empty otherwise.
pub fn alias_note(text: &str, first: &Scalar, dup: &Scalar) -> String {
    let alias = [first, dup]
        .into_iter()
        .filter_map(|s| text.get(s.span.clone()))
        .find(|t| t.starts_with('*'));
    match alias {
        Some(name) => format!(
            " (`{}` is an alias, read as the value it stands for)",
            crate::escape::control(name)
        ),
        None => String::new(),
    }
}

#[cfg(test)]
mod display_path_tests {
    use super::{display_path, PathSeg};
    use std::borrow::Cow;

    #[test]
    fn paths_read_as_users_write_them_and_are_sized_exactly() {
        let key = |k: &'static str| PathSeg::Key(Cow::Borrowed(k));
        for (path, shown) in [
            (vec![], ""),
            (vec![PathSeg::Index(0)], "[0]"),
            (
                vec![
                    key("spec"),
                    key("containers"),
                    PathSeg::Index(12),
                    key("image"),
                ],
                "spec.containers[12].image",
            ),
            (
                vec![key("items"), PathSeg::Index(100), PathSeg::Index(9)],
                "items[100][9]",
            ),
        ] {
            let text = display_path(&path);
            assert_eq!(text, shown);
            assert_eq!(text.capacity(), text.len(), "{shown}");
        }
    }
}

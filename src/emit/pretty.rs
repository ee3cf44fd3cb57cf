//! JSON written as `serde_json::to_writer_pretty` writes it, byte for byte, but with one array
//! streamed: the findings of a large run are read back and written one at a time, never held
//! together as one `Value` (whose maps cost several times the text they print).

use serde_json::Value;
use std::io::{self, Write};

/// Items of a streamed array, each built when it is written.
pub type Items<'a> = Box<dyn Iterator<Item = io::Result<Value>> + 'a>;

/// A JSON document to write, some of it streamed.
pub enum Node<'a> {
    Value(Value),
    /// Members in the order given, which must be sorted by key, as `serde_json`'s map keeps
    /// them (the printed order is the one a `Value` would print).
    Object(Vec<(&'static str, Node<'a>)>),
    Array(Vec<Node<'a>>),
    Stream(Items<'a>),
}

const INDENT: &[u8] = b"  ";

/// Writes `node` as the pretty printer writes the `Value` it stands for.
pub fn write(out: &mut dyn Write, node: Node<'_>) -> io::Result<()> {
    write_at(out, node, 0)
}

fn write_at(out: &mut dyn Write, node: Node<'_>, depth: usize) -> io::Result<()> {
    match node {
        Node::Value(value) => value_at(out, &value, depth),
        Node::Object(members) => {
            debug_assert!(
                members.windows(2).all(|m| m[0].0 < m[1].0),
                "members in key order"
            );
            let mut members = members.into_iter().map(|(key, node)| {
                Ok(move |out: &mut dyn Write, depth| -> io::Result<()> {
                    serde_json::to_writer(&mut *out, key).map_err(io::Error::other)?;
                    out.write_all(b": ")?;
                    write_at(out, node, depth)
                })
            });
            list(out, b"{", b"}", &mut members, depth)
        }
        Node::Array(items) => {
            let mut items = items
                .into_iter()
                .map(|node| Ok(move |out: &mut dyn Write, depth| write_at(out, node, depth)));
            list(out, b"[", b"]", &mut items, depth)
        }
        Node::Stream(items) => {
            let mut items = items.map(|item| {
                item.map(|value| move |out: &mut dyn Write, depth| value_at(out, &value, depth))
            });
            list(out, b"[", b"]", &mut items, depth)
        }
    }
}

/// An object's or array's members, each written by a function given the writer and depth:
/// `[]` when there are none, else one per line, indented one step deeper than the brackets.
fn list<F>(
    out: &mut dyn Write,
    open: &[u8],
    close: &[u8],
    members: &mut dyn Iterator<Item = io::Result<F>>,
    depth: usize,
) -> io::Result<()>
where
    F: FnOnce(&mut dyn Write, usize) -> io::Result<()>,
{
    out.write_all(open)?;
    let mut any = false;
    for member in members {
        let member = member?;
        out.write_all(if any { b",\n" } else { b"\n" })?;
        indent(out, depth + 1)?;
        member(out, depth + 1)?;
        any = true;
    }
    if any {
        out.write_all(b"\n")?;
        indent(out, depth)?;
    }
    out.write_all(close)
}

fn indent(out: &mut dyn Write, depth: usize) -> io::Result<()> {
    for _ in 0..depth {
        out.write_all(INDENT)?;
    }
    Ok(())
}

/// A whole value at `depth`: pretty-printed, each line after the first indented `depth` steps
/// (a printed string holds no raw line break: every one is escaped).
fn value_at(out: &mut dyn Write, value: &Value, depth: usize) -> io::Result<()> {
    let printed = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    let mut lines = printed.split(|&b| b == b'\n');
    if let Some(first) = lines.next() {
        out.write_all(first)?;
    }
    for line in lines {
        out.write_all(b"\n")?;
        indent(out, depth)?;
        out.write_all(line)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn streamed(node: Node<'_>) -> String {
        let mut out = Vec::new();
        write(&mut out, node).expect("written");
        String::from_utf8(out).expect("UTF-8")
    }

    fn items(values: Vec<Value>) -> Items<'static> {
        Box::new(values.into_iter().map(Ok))
    }

    /// Whatever is streamed, the bytes are those of the `Value` it stands for.
    #[test]
    fn streamed_json_is_what_the_pretty_printer_writes() {
        let element = |i: usize| {
            json!({
                "rule": "mutable-tag", "line": i, "message": "a \"quoted\"\nline\tand é",
                "fix": { "title": "pin", "edits": [], "empty": {} , "list": [1, [2, []]] },
            })
        };
        for n in [0, 1, 3] {
            let elements: Vec<Value> = (0..n).map(element).collect();
            let whole = json!({
                "a": [],
                "b": { "nested": [{ "results": elements.clone(), "z": null }] },
                "c": "x",
                "d": elements.clone(),
            });
            let node = Node::Object(vec![
                ("a", Node::Stream(items(Vec::new()))),
                (
                    "b",
                    Node::Object(vec![(
                        "nested",
                        Node::Array(vec![Node::Object(vec![
                            ("results", Node::Stream(items(elements.clone()))),
                            ("z", Node::Value(Value::Null)),
                        ])]),
                    )]),
                ),
                ("c", Node::Value(json!("x"))),
                ("d", Node::Stream(items(elements))),
            ]);
            let want = serde_json::to_string_pretty(&whole).expect("printed");
            assert_eq!(streamed(node), want, "{n} elements");
        }
        assert_eq!(streamed(Node::Object(Vec::new())), "{}");
        assert_eq!(streamed(Node::Array(Vec::new())), "[]");
    }

    /// An item that cannot be made stops the writing with its error.
    #[test]
    fn a_failing_item_stops_the_stream() {
        let failing: Items<'static> =
            Box::new([Ok(json!(1)), Err(io::Error::other("lost"))].into_iter());
        let mut out = Vec::new();
        let error = write(&mut out, Node::Stream(failing)).expect_err("stops");
        assert_eq!(error.to_string(), "lost");
    }
}

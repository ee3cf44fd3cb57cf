//! The structure of a parsed YAML file with its scalars left out: two files whose shapes match
//! nest the same mappings, sequences and aliases in the same order.

use manifix::yaml::{Node, ParsedFile};

fn shape(node: &Node, out: &mut String) {
    match node {
        Node::Scalar(_) => out.push('s'),
        Node::Alias => out.push('*'),
        Node::Sequence(items) => {
            out.push('[');
            items.iter().for_each(|n| shape(n, out));
            out.push(']');
        }
        Node::Mapping(entries) => {
            out.push('{');
            for (k, v) in entries {
                shape(k, out);
                out.push(':');
                shape(v, out);
            }
            out.push('}');
        }
    }
}

/// One shape string per document.
pub fn shapes(parsed: &ParsedFile) -> Vec<String> {
    parsed
        .documents
        .iter()
        .map(|d| {
            let mut s = String::new();
            shape(&d.root, &mut s);
            s
        })
        .collect()
}

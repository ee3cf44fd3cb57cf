//! YAML handling: parse to a span-carrying model, splice edits into the original text, verify.

mod align;
pub mod append;
pub mod model;
pub mod parse;
pub mod quote;
pub mod source;
pub mod splice;
pub mod verify;

pub use model::{display_path, Comment, Document, Node, ParsedFile, PathSeg, Scalar, Style};
pub use parse::{parse, parse_facts, YamlError};

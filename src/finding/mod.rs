//! Findings and the fixes they carry: the data rules hand to the planner and the emitters.

use crate::yaml::splice::ScalarEdit;
use serde::Serialize;
use std::ops::Range;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// Whether `fix` applies a fix by default (`Safe`) or only when the user opts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Applicability {
    Safe,
    Unsafe,
}

#[derive(Debug, Clone)]
pub struct Fix {
    pub title: String,
    pub applicability: Applicability,
    /// The text that replaces the finding's span (what users see in reports).
    pub replacement: String,
    /// A line about what the fix is based on (for a pin: the commit), shown in diff hunks.
    pub detail: Option<String>,
    pub edits: Vec<ScalarEdit>,
    /// Entries to append to the file's kustomize `images:` list (key/value pairs in order).
    pub append_images: Vec<Vec<(String, String)>>,
}

#[derive(Debug, Clone)]
pub struct Finding {
    pub rule: &'static str,
    pub severity: Severity,
    /// Path relative to the run's root, with `/` separators.
    pub path: String,
    /// Byte range in the file.
    pub range: Range<usize>,
    /// 1-based line and column (in characters) of the range start.
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// Boxed: most findings of a large run are held until the report, and a fix is most of a
    /// finding's size.
    pub fix: Option<Box<Fix>>,
}

impl Finding {
    /// A finding without a fix; the engine fills in line and column from `range`.
    pub fn new(
        rule: &'static str,
        severity: Severity,
        path: &str,
        range: Range<usize>,
        message: String,
    ) -> Finding {
        Finding {
            rule,
            severity,
            path: path.to_string(),
            range,
            line: 0,
            column: 0,
            message,
            fix: None,
        }
    }
}

/// A file that could not be handled: reported with its position, left untouched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl FileError {
    /// An error about the whole file rather than a place in it: shown at its start.
    pub fn whole_file(path: &str, message: String) -> FileError {
        FileError {
            path: path.to_string(),
            line: 1,
            column: 1,
            message,
        }
    }

    /// The file at `path` is not YAML the parser reads: where and why, as it says.
    pub fn unparsable(path: &str, e: crate::yaml::YamlError) -> FileError {
        FileError {
            path: path.to_string(),
            line: e.line,
            column: e.column,
            message: e.message,
        }
    }
}

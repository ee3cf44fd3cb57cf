//! Output: text diagnostics, JSON, SARIF, GitHub annotations, Markdown reports, unified diffs. Everything here writes to a `Write` it is given.

pub mod diff;
pub mod github;
pub mod json;
pub mod markdown;
pub mod pr;
mod pretty;
pub mod sarif;
pub mod text;

/// ANSI styling, applied only when colour is on.
#[derive(Debug, Clone, Copy)]
pub struct Paint {
    pub on: bool,
}

impl Paint {
    pub fn wrap(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

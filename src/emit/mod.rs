//! Output: text diagnostics, JSON, SARIF, GitHub annotations, Markdown reports, unified diffs. Everything here writes to a `Write` it is given.

pub mod diff;
pub mod github;
pub mod json;
pub mod markdown;
pub mod pr;
pub mod sarif;
pub mod text;

/// A JSON array whose items are made as `serde_json` writes them: a large run's findings are
/// never held together as one `Value` (whose maps cost several times the text they print).
pub(crate) struct Streamed<I>(std::cell::RefCell<Option<I>>);

impl<I> Streamed<I> {
    pub(crate) fn new(items: I) -> Streamed<I> {
        Streamed(std::cell::RefCell::new(Some(items)))
    }
}

impl<I> serde::Serialize for Streamed<I>
where
    I: Iterator,
    I::Item: serde::Serialize,
{
    /// Written once: a second time, the array is empty.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let items = self.0.borrow_mut().take();
        serializer.collect_seq(items.into_iter().flatten())
    }
}

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

#[cfg(test)]
mod tests {
    use super::Streamed;
    use serde_json::json;

    /// A streamed array prints as the `Value` holding its items would, empty or not, at any
    /// depth.
    #[test]
    fn a_streamed_array_prints_as_its_value() {
        #[derive(serde::Serialize)]
        struct Doc<I> {
            a: I,
            b: u8,
        }
        for items in [vec![], vec![json!({"x": [1, {}], "y": "z"}), json!([])]] {
            let want = serde_json::to_string_pretty(&json!({ "a": items.clone(), "b": 1 }))
                .expect("print");
            let doc = Doc {
                a: Streamed::new(items.into_iter()),
                b: 1,
            };
            assert_eq!(serde_json::to_string_pretty(&doc).expect("print"), want);
        }
    }
}

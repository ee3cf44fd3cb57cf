//! The run's files in memory, each with what was located in it while a fixed budget lasts.
//! Past the budget a file's facts are not kept: a pass that needs them reads the file again
//! and locates them anew, and the content hash says the text is the one first read. Memory
//! then stays bounded however large the repository, for a second read of the files past it.

use super::{FileError, MAX_FILE_BYTES};
use crate::discover::FileEntry;
use crate::finding::Finding;
use crate::locate::Located;
use crate::yaml::Comment;
use std::borrow::Cow;

/// How many bytes of located facts a run keeps in memory (by `Located::approx_bytes`): the
/// facts of 50k files of the bench's repositories, a finding in each file or not (0.8 to 0.9
/// KB a file; bench/README.md), so that a run up to that size parses each file once.
pub(super) const FACTS_BUDGET: usize = 48 << 20;

/// A YAML file as the run keeps it: only what rules and fixes can use, so that memory follows
/// what a repository holds to fix rather than its size.
#[derive(Debug, Clone)]
pub struct Analyzed {
    pub entry: FileEntry,
    /// Whether anything in the file can be reported (it has relevant sites or is a
    /// kustomization): only such files are checked by the rules and read again for fixes.
    pub relevant: bool,
    /// A hash of the bytes read: a file read again must be the file analysed.
    pub hash: u64,
    /// The `# manifix: ...` comments, for suppressions (no other comment is kept). Emptied
    /// once the rules have run, like the facts.
    pub comments: Vec<Comment>,
    pub(super) facts: Facts,
    /// The file's findings, in report order, once the rules have run.
    pub(super) found: Box<[Finding]>,
}

/// What was located in a file.
#[derive(Debug, Clone, Default)]
pub(super) enum Facts {
    /// None: the file has none, or the rules have used them. Not an empty `Kept`, which would
    /// take an allocation in every file of a large run.
    #[default]
    None,
    /// Boxed: the run holds a `Facts` of every file.
    Kept(Box<Located>),
    /// Past the budget: located again from the file's text when a pass needs them.
    Dropped,
}

/// What is left of `FACTS_BUDGET`; spent in the files' order, so the same files keep their
/// facts in every run over the same tree.
pub(super) struct Budget {
    left: usize,
}

impl Budget {
    pub(super) fn new(bytes: usize) -> Budget {
        Budget { left: bytes }
    }

    /// How `located` is kept: in memory while the budget lasts.
    pub(super) fn keep(&mut self, located: Located) -> Facts {
        if located.sites.is_empty() && located.docs.is_empty() {
            return Facts::None;
        }
        let bytes = located.approx_bytes();
        match self.left.checked_sub(bytes) {
            Some(left) => {
                self.left = left;
                Facts::Kept(Box::new(located))
            }
            None => {
                self.left = 0;
                Facts::Dropped
            }
        }
    }
}

/// The facts of a file that has none.
static NO_FACTS: Located = Located {
    sites: Vec::new(),
    docs: Vec::new(),
};

/// A file's facts as a pass gets them, with its text when it had to be read for them.
pub(super) struct FactsAtHand<'a> {
    pub located: Cow<'a, Located>,
    pub text: Option<String>,
}

impl Analyzed {
    /// The file's facts: kept, or located again from its text (checked to be the text first
    /// read), with `keep_prefixes` as the first time.
    pub(super) fn facts(&self, keep_prefixes: &[String]) -> Result<FactsAtHand<'_>, FileError> {
        self.facts.at_hand(self, keep_prefixes)
    }

    /// The file's findings, in report order.
    pub fn findings(&self) -> &[Finding] {
        &self.found
    }
}

impl Facts {
    /// These facts of `file` (taken out of it, or still in it), as `Analyzed::facts` gives
    /// them.
    pub(super) fn at_hand<'a>(
        &'a self,
        file: &Analyzed,
        keep_prefixes: &[String],
    ) -> Result<FactsAtHand<'a>, FileError> {
        match self {
            Facts::None => Ok(FactsAtHand {
                located: Cow::Borrowed(&NO_FACTS),
                text: None,
            }),
            Facts::Kept(located) => Ok(FactsAtHand {
                located: Cow::Borrowed(located),
                text: None,
            }),
            Facts::Dropped => {
                let text = read_again(file)?;
                let parsed = crate::yaml::parse_facts(&text)
                    .map_err(|e| FileError::unparsable(&file.entry.rel, e))?;
                let located =
                    super::load::locate_parsed(&parsed, &text, &file.entry.abs(), keep_prefixes);
                Ok(FactsAtHand {
                    located: Cow::Owned(located),
                    text: Some(text),
                })
            }
        }
    }
}

/// A relevant file's text, read again; an error when it is no longer what was analysed.
pub fn read_again(file: &Analyzed) -> Result<String, FileError> {
    let error = |message: String| FileError::whole_file(&file.entry.rel, message);
    let changed =
        || error("changed on disk while manifix ran: not checked or fixed (run again)".into());
    let bytes = crate::fsio::read_walked(&file.entry.abs(), file.entry.seen, MAX_FILE_BYTES)
        .map_err(|e| match crate::fsio::is_replaced(&e) {
            true => changed(),
            false => error(format!("cannot read: {e}")),
        })?
        .ok_or_else(|| error("grew past the size limit while manifix ran: not checked".into()))?;
    if crate::text::content_hash(&bytes) != file.hash {
        return Err(changed());
    }
    String::from_utf8(bytes).map_err(|_| error("changed on disk while manifix ran".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn located() -> Located {
        let text = "kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n        - image: nginx:latest\n";
        let parsed = crate::yaml::parse_facts(text).expect("parse");
        crate::locate::locate_relevant(&parsed, "web.yaml", &[])
    }

    /// Facts are kept while the budget lasts, in the order they come; a file with none takes
    /// nothing from it.
    #[test]
    fn the_budget_keeps_facts_until_it_is_spent() {
        let one = located();
        assert!(!one.sites.is_empty());
        let mut budget = Budget::new(one.approx_bytes() * 2);
        assert!(matches!(budget.keep(Located::default()), Facts::None));
        assert!(matches!(budget.keep(one.clone()), Facts::Kept(_)));
        assert!(matches!(budget.keep(one.clone()), Facts::Kept(_)));
        assert!(matches!(budget.keep(one.clone()), Facts::Dropped));
        assert!(matches!(budget.keep(Located::default()), Facts::None));
    }

    /// Facts not kept are located again from the file, which must be the file first read:
    /// one changed since is an error of its own, never checked as it now is.
    #[test]
    fn facts_located_again_come_from_the_file_first_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root: std::sync::Arc<std::path::Path> = std::sync::Arc::from(dir.path());
        let path = dir.path().join("web.yaml");
        let text = "kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n        - image: nginx:latest\n";
        std::fs::write(&path, text).expect("write");
        let entry = FileEntry::new(
            &root,
            &path,
            "web.yaml".into(),
            crate::discover::FileKind::Yaml,
        );
        let Some(super::super::load::Loaded::Yaml {
            mut file, located, ..
        }) = super::super::load::load_all(vec![entry], &[]).pop()
        else {
            panic!("not read as YAML");
        };
        file.facts = Facts::Dropped;
        let again = file.facts(&[]).expect("located again");
        assert_eq!(again.text.as_deref(), Some(text));
        assert_eq!(again.located.sites.len(), located.sites.len());
        assert_eq!(again.located.sites[0].value, "nginx:latest");
        std::fs::write(&path, text.replace("latest", "1.27")).expect("write");
        let error = file.facts(&[]).err().expect("changed");
        assert!(
            error.message.contains("changed on disk"),
            "{}",
            error.message
        );
    }
}

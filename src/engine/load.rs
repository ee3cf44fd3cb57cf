//! Reading files: every file read and parsed once, on every core, into the facts the run
//! keeps (`files`).

use super::files::{Analyzed, Facts};
use super::{FileError, SkippedFile};
use crate::discover::{FileEntry, FileKind};
use crate::locate::aws::find_accounts;
use crate::locate::terraform::{hcl_error, may_grant_node_role};
use crate::locate::{locate_relevant, Located};
use crate::resolve::account::accounts_in_terraform;
use crate::text::LineIndex;
use crate::yaml::parse_facts;
use std::sync::Mutex;

pub(super) enum Loaded {
    Yaml {
        file: Box<Analyzed>,
        /// What was located in it, for the run's budget to keep or not (`files::Budget`).
        located: Located,
        /// Each account it names, with the line where it first does.
        accounts: Vec<(String, usize)>,
        /// What the kustomize graph needs of it, when it is a kustomization.
        kustomization: Option<Box<crate::locate::kustomize::Kustomization>>,
    },
    /// Terraform, read only for context.
    Terraform {
        entry: FileEntry,
        /// Each account it names, with the line, once per mention.
        accounts: Vec<(String, usize)>,
        /// Its text, when it may grant the node role (`may_grant_node_role`): no other
        /// Terraform text is kept.
        text: Option<String>,
        /// Why it is not valid HCL, for a file whose text is not kept.
        invalid: Option<String>,
    },
    Skipped(SkippedFile),
    Failed(FileError),
}

/// Reads and parses files on every core; results come back in input order.
pub(super) fn load_all(files: Vec<FileEntry>, keep_prefixes: &[String]) -> Vec<Loaded> {
    // Each entry is moved to the file it describes: a copy would hold the repository's
    // paths twice while it is read.
    let len = files.len();
    in_order_on_every_core(len, files.into_iter(), |entry| load(entry, keep_prefixes))
}

/// `f` over `items` on every core, results in input order.
pub(crate) fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    in_order_on_every_core(items.len(), items.iter(), f)
}

/// `f` over `items` on every core, each item lent mutably to one worker; results in input
/// order. Lets a pass drop what it no longer needs of an item as soon as it is done with it.
pub(crate) fn parallel_map_mut<T: Send, R: Send>(
    items: &mut [T],
    f: impl Fn(&mut T) -> R + Sync,
) -> Vec<R> {
    let len = items.len();
    in_order_on_every_core(len, items.iter_mut(), f)
}

/// `f` over the `len` items of `items` on every core; results in the items' order.
fn in_order_on_every_core<I: Send, R: Send>(
    len: usize,
    items: impl Iterator<Item = I> + Send,
    f: impl Fn(I) -> R + Sync,
) -> Vec<R> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(len.max(1));
    // One slot per item, filled where it belongs: no sorting, no second list.
    let slots: Vec<Mutex<Option<R>>> = (0..len).map(|_| Mutex::new(None)).collect();
    // Workers take the next item from one shared iterator: each item is handed out once.
    let next = Mutex::new(items.enumerate());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let taken = match next.lock() {
                    Ok(mut it) => it.next(),
                    Err(_) => None,
                };
                let Some((i, item)) = taken else { break };
                let r = f(item);
                if let Some(Ok(mut slot)) = slots.get(i).map(Mutex::lock) {
                    *slot = Some(r);
                }
            });
        }
    });
    slots
        .into_iter()
        .filter_map(|slot| slot.into_inner().ok().flatten())
        .collect()
}

/// How many files are read and parsed at a time (on every core) before their results are
/// kept: enough that the cores rarely wait for the slowest file of a slice.
const LOAD_SLICE: usize = 4096;

/// What reading every file gives the rest of the run.
pub(super) struct Repository {
    /// The YAML files, in path order.
    pub files: Vec<Analyzed>,
    pub census: crate::resolve::account::AccountCensus,
    /// The Terraform files that may grant the node role, with their texts (no other is kept).
    pub terraform: Vec<(String, String)>,
    pub graph: crate::locate::kustomize::Graph,
}

/// Reads and parses every file, a slice at a time on every core; files that cannot be read
/// or are passed over go to `run`'s errors and skipped files.
pub(super) fn load_files(
    entries: std::vec::IntoIter<crate::discover::FileEntry>,
    keep_prefixes: &[String],
    facts_budget: usize,
    run: &mut super::Run,
) -> Repository {
    let mut census = crate::resolve::account::AccountCensus::default();
    let mut terraform = Vec::new();
    let mut graph = crate::locate::kustomize::GraphBuilder::default();
    let mut budget = super::files::Budget::new(facts_budget);
    let mut files = Vec::with_capacity(entries.len());
    let mut entries = entries;
    // A slice at a time, each file's result going straight to its list: the results of
    // every file at once, before they are sorted into the lists, were a third of the peak
    // memory of a large run.
    loop {
        let slice: Vec<_> = entries.by_ref().take(LOAD_SLICE).collect();
        if slice.is_empty() {
            break;
        }
        for loaded in load_all(slice, keep_prefixes) {
            match loaded {
                Loaded::Yaml {
                    mut file,
                    located,
                    accounts,
                    kustomization,
                } => {
                    for (account, line) in accounts {
                        census.record(&account, || format!("{}:{line}", file.entry.rel));
                    }
                    if let Some(kustomization) = kustomization {
                        graph.add(*kustomization);
                    }
                    file.facts = budget.keep(located);
                    files.push(*file);
                }
                Loaded::Terraform {
                    entry,
                    accounts,
                    text,
                    invalid,
                } => {
                    for (account, line) in accounts {
                        census.record(&account, || format!("{}:{line}", entry.rel));
                    }
                    if let Some(message) = invalid {
                        run.skipped
                            .push(super::terraform_not_read(entry.rel.clone(), &message));
                    }
                    if let Some(text) = text {
                        terraform.push((entry.rel, text));
                    }
                }
                Loaded::Skipped(s) => run.skipped.push(s),
                Loaded::Failed(e) => run.errors.push(e),
            }
        }
    }
    files.shrink_to_fit();
    Repository {
        files,
        census,
        terraform,
        graph: graph.finish(),
    }
}

/// Files larger than this are skipped unread: parsing and verifying a 100 MB "manifest" would
/// take minutes and memory for what is never a hand-written manifest.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

fn load(entry: FileEntry, keep_prefixes: &[String]) -> Loaded {
    let skip = |entry: &FileEntry, reason: &str, warning: bool| {
        Loaded::Skipped(SkippedFile {
            path: entry.rel.clone(),
            reason: reason.to_string(),
            warning,
        })
    };
    // Joined once (the root and the relative path) for reading and for the file's name.
    let abs = entry.abs();
    let bytes = match crate::fsio::read_walked(&abs, entry.seen, MAX_FILE_BYTES) {
        Ok(Some(b)) => b,
        Ok(None) => {
            return skip(
                &entry,
                &format!(
                    "larger than {} MiB: skipped (manifests are far smaller; this is likely generated or data)",
                    MAX_FILE_BYTES >> 20
                ),
                true,
            )
        }
        Err(e) if crate::fsio::is_replaced(&e) => {
            return Loaded::Failed(FileError::whole_file(
                &entry.rel,
                "replaced on disk since it was found: not checked or fixed (run again)".into(),
            ))
        }
        Err(e) => {
            return Loaded::Failed(FileError::whole_file(
                &entry.rel,
                format!("cannot read: {e}"),
            ))
        }
    };
    // YAML may be UTF-16 or UTF-32, which a BOM announces: not a binary file, but not text
    // manifix can edit byte for byte either.
    if bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]) {
        return skip(
            &entry,
            "UTF-16 or UTF-32 (byte order mark at line 1, column 1): skipped; manifix reads UTF-8",
            true,
        );
    }
    if bytes.contains(&0) {
        return skip(&entry, "binary file (contains NUL bytes): skipped", true);
    }
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            // Everything before `at` is valid UTF-8, so it counts lines and characters.
            let valid = std::str::from_utf8(&e.as_bytes()[..at]).unwrap_or_default();
            let (line, column) = LineIndex::new(valid).line_col(at);
            return skip(
                &entry,
                &format!(
                    "not UTF-8 (invalid byte at line {line}, column {column}, offset {at}): skipped"
                ),
                true,
            );
        }
    };
    if entry.kind == FileKind::Terraform {
        let lines = LineIndex::new(&text);
        let accounts = accounts_in_terraform(&text)
            .into_iter()
            .map(|(account, at)| (account, lines.line_col(at).0))
            .collect();
        let (text, invalid) = if may_grant_node_role(&text) {
            (Some(text), None)
        } else {
            (None, hcl_error(&text))
        };
        return Loaded::Terraform {
            entry,
            accounts,
            text,
            invalid,
        };
    }
    if memchr::memmem::find(text.as_bytes(), b"{{").is_some() {
        return skip(
            &entry,
            "contains {{ }} templates (Go/Helm): not valid YAML until rendered, never edited",
            false,
        );
    }
    let parsed = match parse_facts(&text) {
        Ok(p) => p,
        Err(e) => return Loaded::Failed(FileError::unparsable(&entry.rel, e)),
    };
    if let Some((first, dup)) = parsed.duplicate_key() {
        let lines = LineIndex::new(&text);
        let (line, column) = lines.line_col(dup.span.start);
        return Loaded::Failed(FileError {
            path: entry.rel.clone(),
            line,
            column,
            message: format!(
                "duplicate key `{}` (first at line {}){}: kubectl rejects this file, and which value counts is unclear; not checked or fixed",
                dup.value,
                lines.line_col(first.span.start).0,
                crate::yaml::model::alias_note(&text, first, dup)
            ),
        });
    }
    let located = locate_parsed(&parsed, &text, &abs, keep_prefixes);
    let kustomization =
        crate::locate::kustomize::Kustomization::read(&entry.rel, &parsed).map(Box::new);
    let relevant = kustomization.is_some() || !located.sites.is_empty();
    // Collected anew, not filtered in place: an in-place collect would keep the capacity of
    // every comment of the file.
    let comments: Vec<_> = parsed
        .comments
        .iter()
        .filter(|c| c.text.contains("manifix:"))
        .cloned()
        .collect();
    // The text is not kept (the rules read a relevant file again, so memory follows the
    // facts of a repository rather than its bytes): what the account census needs of it is
    // each account's first line.
    let mut accounts: Vec<(String, usize)> = Vec::new();
    for site in &located.sites {
        for found in find_accounts(&site.value) {
            if !accounts.iter().any(|(a, _)| *a == found.account) {
                // A file names one or two accounts: counting newlines up to each is cheaper
                // than indexing every line of the file.
                let before = text.get(..site.target.scalar.span.start).unwrap_or(&text);
                let line = 1 + before.bytes().filter(|&b| b == b'\n').count();
                accounts.push((found.account.to_string(), line));
            }
        }
    }
    Loaded::Yaml {
        file: Box::new(Analyzed {
            hash: crate::text::content_hash(text.as_bytes()),
            entry,
            relevant,
            comments,
            facts: Facts::None,
            found: Box::default(),
        }),
        located,
        accounts,
        kustomization,
    }
}

/// What the run keeps of a parsed file at `path`: its relevant sites, placed in `text`.
pub(super) fn locate_parsed(
    parsed: &crate::yaml::ParsedFile,
    text: &str,
    path: &std::path::Path,
    keep_prefixes: &[String],
) -> Located {
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let mut located = locate_relevant(parsed, file_name, keep_prefixes);
    crate::locate::place_sites(text, &mut located);
    located
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Of the Terraform files, only those that may grant the node role keep their text for
    /// the run; the others are read for their accounts and checked to parse, then dropped.
    #[test]
    fn only_terraform_that_may_grant_the_node_role_is_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root: std::sync::Arc<Path> = std::sync::Arc::from(dir.path());
        let files = [
            (
                "iam.tf",
                "resource \"aws_iam_role_policy\" \"x\" {\n  role = \"node\"\n}\n",
            ),
            (
                "vpc.tf",
                "provider \"aws\" {\n  allowed_account_ids = [\"465002806239\"]\n}\n",
            ),
            ("broken.tf", "resource \"x\" {\n"),
        ];
        let mut entries = Vec::new();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("write");
            entries.push(FileEntry::new(
                &root,
                &path,
                name.into(),
                FileKind::Terraform,
            ));
        }
        let loaded = load_all(entries, &[]);
        let kept: Vec<(Option<&str>, bool, usize)> = loaded
            .iter()
            .map(|l| match l {
                Loaded::Terraform {
                    text,
                    invalid,
                    accounts,
                    ..
                } => (text.as_deref(), invalid.is_some(), accounts.len()),
                _ => panic!("not read as Terraform"),
            })
            .collect();
        assert_eq!(
            kept,
            [
                (Some(files[0].1), false, 0),
                (None, false, 1),
                (None, true, 0)
            ]
        );
    }
}

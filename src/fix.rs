//! From findings to new file contents: gathers each file's edits, plans and verifies them, and
//! writes the results atomically.

use crate::engine::{FileError, Run};
use crate::finding::{Applicability, Finding};
use crate::yaml::append::{append_to_sequence, Entry};
use crate::yaml::parse;
use crate::yaml::splice::{plan_with_events, EditError};
use std::path::PathBuf;

/// One file's new text and the findings it fixes.
#[derive(Debug)]
pub struct FilePlan {
    pub path: String,
    pub abs: PathBuf,
    /// What the walk saw of it: the write opens the same file, without following a link.
    pub seen: crate::fsio::Seen,
    pub old: String,
    pub new: String,
    pub fixed: Vec<Finding>,
}

#[derive(Debug, Default)]
pub struct FixPlan {
    pub files: Vec<FilePlan>,
    /// Files whose edits failed verification: never written.
    pub refused: Vec<FileError>,
    /// Fixes not applied because they are unsafe and the user did not opt in.
    pub held_back: usize,
    /// Findings with no fix available.
    pub unfixable: usize,
}

impl FixPlan {
    pub fn fixes(&self) -> usize {
        self.files.iter().map(|f| f.fixed.len()).sum()
    }
}

/// Which fixes beyond the safe ones the user asked for.
#[derive(Debug, Clone, Copy, Default)]
pub struct FixChoice {
    /// `--unsafe-fixes`: every unsafe fix.
    pub unsafe_fixes: bool,
    /// `--add-missing-overrides`: the images: entries of missing-image-override.
    pub add_missing_overrides: bool,
}

impl FixChoice {
    fn wants(&self, finding: &Finding, fix: &crate::finding::Fix) -> bool {
        fix.applicability == Applicability::Safe
            || self.unsafe_fixes
            || (self.add_missing_overrides && finding.rule == "missing-image-override")
    }
}

pub fn plan_fixes(run: &Run, choice: FixChoice) -> FixPlan {
    let mut plan = FixPlan::default();
    for mut part in plan_parts(run, choice, usize::MAX) {
        plan.files.append(&mut part.files);
        plan.refused.append(&mut part.refused);
        plan.held_back += part.held_back;
        plan.unfixable += part.unfixable;
    }
    plan
}

/// The plan in parts of at most `part_len` files, in path order, each planned when it is
/// taken: `fix` writes each part before planning the next, so new texts never pile up in
/// memory.
pub fn plan_parts(
    run: &Run,
    choice: FixChoice,
    part_len: usize,
) -> impl Iterator<Item = FixPlan> + '_ {
    run.files_with_findings()
        .chunks(part_len.max(1))
        .map(move |files| plan_files(files, choice))
}

/// The plan for some of the run's files.
fn plan_files(files: &[crate::engine::Analyzed], choice: FixChoice) -> FixPlan {
    // Files are planned on every core (reading, parsing, splicing and verifying each), then
    // gathered in the run's order.
    let planned = crate::engine::parallel_map(files, |file| plan_file(file, choice));
    let mut out = FixPlan::default();
    for one in planned {
        out.unfixable += one.unfixable;
        out.held_back += one.held_back;
        match one.outcome {
            Some(Ok(plan)) => out.files.push(plan),
            Some(Err(error)) => out.refused.push(error),
            None => {}
        }
    }
    out
}

/// One file's part of the plan.
struct FileOutcome {
    unfixable: usize,
    held_back: usize,
    /// The new text, a refusal, or nothing to change.
    outcome: Option<Result<FilePlan, FileError>>,
}

fn plan_file(file: &crate::engine::Analyzed, choice: FixChoice) -> FileOutcome {
    let mut one = FileOutcome {
        unfixable: 0,
        held_back: 0,
        outcome: None,
    };
    let mut chosen = Vec::new();
    for finding in file.findings() {
        match &finding.fix {
            None => one.unfixable += 1,
            Some(fix) if !choice.wants(finding, fix) => one.held_back += 1,
            Some(_) => chosen.push(finding.clone()),
        }
    }
    if chosen.is_empty() {
        return one;
    }
    let edits: Vec<_> = chosen
        .iter()
        .flat_map(|f| f.fix.iter().flat_map(|fix| fix.edits.iter().cloned()))
        .collect();
    let appended: Vec<Entry> = chosen
        .iter()
        .flat_map(|f| {
            f.fix
                .iter()
                .flat_map(|fix| fix.append_images.iter().cloned())
        })
        .collect();
    // The analysis kept no text: read the file again (it must be unchanged) and parse it;
    // parsing is deterministic, so the scalar ordinals are the ones the edits name.
    let text = match crate::engine::read_again(file) {
        Ok(t) => t,
        Err(e) => {
            one.outcome = Some(Err(e));
            return one;
        }
    };
    let before = match crate::yaml::parse::events(&text) {
        Ok(p) => p,
        Err(e) => {
            one.outcome = Some(Err(FileError {
                path: file.entry.rel.clone(),
                line: e.line,
                column: e.column,
                message: format!("not fixed, file left untouched: {}", e.message),
            }));
            return one;
        }
    };
    let planned = plan_with_events(&text, &before, &edits).and_then(|planned| {
        if appended.is_empty() {
            return Ok(planned.text);
        }
        // Entries are placed by structure, so they are worked out on the edited text.
        let parsed = parse(&planned.text).map_err(|e| EditError::Reparse(e.to_string()))?;
        append_to_sequence(&planned.text, &parsed, "images", &appended)
    });
    one.outcome = match planned {
        Ok(new) if new == text => None,
        Ok(new) => Some(Ok(FilePlan {
            path: file.entry.rel.clone(),
            abs: file.entry.abs().into_owned(),
            seen: file.entry.seen,
            old: text,
            new,
            fixed: chosen,
        })),
        Err(err) => {
            let first = &chosen[0];
            Some(Err(FileError {
                path: file.entry.rel.clone(),
                line: first.line,
                column: first.column,
                message: format!("not fixed, file left untouched: {err}"),
            }))
        }
    };
    one
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{0}: changed on disk while manifix ran; not written (run again)")]
    Changed(String),
    #[error("{path}: {why}; not written")]
    Moved { path: String, why: String },
    #[error("{path}: has {links} names (hard links); not written, since replacing it would split it from the others (pass --break-hardlinks to write it anyway)")]
    HardLinked { path: String, links: u64 },
    #[error("{path}: cannot write: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// Writes `plan.new` over the file (see `crate::fsio::replace_walked`); a file with other
/// names (hard links) is left alone.
pub fn write_file(plan: &FilePlan) -> Result<(), WriteError> {
    write_file_with(plan, false)
}

/// As `write_file`; `break_hardlinks` writes a file with other names too, splitting it from
/// them.
pub fn write_file_with(plan: &FilePlan, break_hardlinks: bool) -> Result<(), WriteError> {
    use crate::fsio::ReplaceError;
    let path = || plan.path.clone();
    crate::fsio::replace_walked(
        &plan.abs,
        plan.seen,
        plan.old.as_bytes(),
        plan.new.as_bytes(),
        break_hardlinks,
    )
    .map_err(|e| match e {
        ReplaceError::Changed => WriteError::Changed(path()),
        ReplaceError::HardLinked(links) => WriteError::HardLinked {
            path: path(),
            links,
        },
        ReplaceError::Swapped(why) => WriteError::Moved { path: path(), why },
        ReplaceError::Io(source) => WriteError::Io {
            path: path(),
            source,
        },
    })
}

//! The check phase: every rule over every relevant file (on every core, a slice of files at
//! a time), then the rules about the repository as a whole. The engine, not the rules, reads
//! what a file's findings need: its text, when a finding's range or line cannot be worked out
//! from what its sites noted (`locate::Placed`).

use super::files::{read_again, Analyzed, Facts};
use super::found::in_report_order;
use super::load::parallel_map_mut;
use super::FileError;
use crate::config::Level;
use crate::finding::{Finding, Severity};
use crate::locate::images::TagUse;
use crate::resolve::Resolved;
use crate::rules::{self, FileInput};
use crate::text::LineIndex;

/// How many files are checked at a time (on every core): the files with findings are kept
/// after each slice, the others dropped.
const SLICE: usize = 1024;

/// What the check phase is handed besides the files.
pub(super) struct Checking<'a> {
    pub resolved: &'a Resolved,
    /// Every tag use, in path order.
    pub uses: &'a [TagUse],
    pub recipe: Option<&'a crate::recipe::Recipe>,
    /// The level each rule runs at: `None` for its own, `Allow` when it does not run.
    pub level_of: &'a (dyn Fn(&str) -> Option<Level> + Sync),
    /// Whether findings in a file are reported (a recipe scopes them).
    pub in_scope: &'a (dyn Fn(&str) -> bool + Sync),
    pub keep_prefixes: &'a [String],
}

/// Checks `files` (in path order; the files at `lost` are not): the files with findings come
/// back in path order, each with its findings in report order; the errors of files that
/// could not be checked go to `errors`.
pub(super) fn check_files(
    mut files: Vec<Analyzed>,
    lost: &[usize],
    with: &Checking<'_>,
    errors: &mut Vec<FileError>,
) -> Vec<Analyzed> {
    for &index in lost {
        if let Some(file) = files.get_mut(index) {
            file.relevant = false;
            file.facts = Facts::None;
        }
    }
    let mut with_findings = Vec::new();
    let mut rest = files.into_iter();
    loop {
        let mut slice: Vec<Analyzed> = rest.by_ref().take(SLICE).collect();
        if slice.is_empty() {
            break;
        }
        let per_file = parallel_map_mut(&mut slice, |file| check_file(file, with));
        for (mut file, result) in slice.into_iter().zip(per_file) {
            match result {
                Ok(found) if found.is_empty() => {}
                Ok(found) => {
                    file.found = found.into_boxed_slice();
                    with_findings.push(file);
                }
                Err(e) => errors.push(e),
            }
        }
    }
    with_findings
}

/// The findings of one file, placed, without the suppressed ones, in report order.
fn check_file(file: &mut Analyzed, with: &Checking<'_>) -> Result<Vec<Finding>, FileError> {
    // What the rules read of a file is not needed after them (fixes read and parse the file
    // again): dropped as each file is done, so the findings take its place rather than
    // adding to it.
    let facts = std::mem::take(&mut file.facts);
    let comments = std::mem::take(&mut file.comments);
    if !file.relevant || !(with.in_scope)(&file.entry.rel) {
        return Ok(Vec::new());
    }
    let file = &*file;
    let at_hand = facts.at_hand(file, with.keep_prefixes)?;
    let located = &*at_hand.located;
    let uses = crate::resolve::for_path(with.uses, &file.entry.rel, |u| &u.path);
    let mut text = at_hand.text;
    let (mut found, text_wanted) = run_rules(file, text.as_deref(), located, uses, with);
    // A rule that could not place a finding without the text said so: it is read here,
    // never by a rule, and the rules run again with it (they are pure: only the ranges they
    // could not give change).
    if text_wanted {
        text = Some(read_again(file)?);
        found = run_rules(file, text.as_deref(), located, uses, with).0;
    }
    if found.is_empty() {
        return Ok(found);
    }
    // Placed from where their sites were noted to be; the text is read for those that
    // cannot be, and for suppressions.
    let place = located.placer();
    let placed: Vec<Option<(usize, usize)>> = found.iter().map(|f| place(f.range.start)).collect();
    let mut lines = None;
    if placed.iter().any(Option::is_none) || !comments.is_empty() {
        if text.is_none() {
            text = Some(read_again(file)?);
        }
        lines = text.as_deref().map(LineIndex::new);
    }
    for (finding, placed) in found.iter_mut().zip(placed) {
        let at = finding.range.start;
        (finding.line, finding.column) = placed
            .or_else(|| Some(lines.as_ref()?.line_col(at)))
            .unwrap_or((1, 1));
    }
    if let Some(lines) = &lines {
        if !comments.is_empty() {
            found.retain(|f| !suppressed(&comments, lines, f.rule, f.line));
        }
    }
    in_report_order(&mut found);
    Ok(found)
}

/// The findings of every rule that runs, and of the recipe's steps, in one file; and
/// whether a rule could not place one without the file's text, which `text` lacks.
fn run_rules(
    file: &Analyzed,
    text: Option<&str>,
    located: &crate::locate::Located,
    uses: &[TagUse],
    with: &Checking<'_>,
) -> (Vec<Finding>, bool) {
    let input = FileInput {
        path: &file.entry.rel,
        text,
        text_wanted: std::cell::Cell::new(false),
        located,
        uses,
    };
    let mut found = Vec::new();
    for rule in rules::all() {
        let level = (with.level_of)(rule.meta().id);
        if level == Some(Level::Allow) {
            continue;
        }
        for mut finding in rule.check(&input, with.resolved) {
            finding.severity = match level {
                Some(Level::Warn) => Severity::Warning,
                Some(Level::Deny) => Severity::Error,
                _ => finding.severity,
            };
            found.push(finding);
        }
    }
    if let Some(recipe) = with.recipe {
        found.extend(crate::recipe::steps::step_findings(recipe, &input));
    }
    (found, input.text_wanted.get())
}

/// The findings of the rules about the repository as a whole, in the Terraform files of
/// `terraform` (path and text), placed in them.
pub(super) fn check_repository(
    terraform: &[(String, String)],
    with: &Checking<'_>,
) -> Vec<Finding> {
    let mut found = Vec::new();
    for rule in rules::all() {
        let level = (with.level_of)(rule.meta().id);
        if level == Some(Level::Allow) {
            continue;
        }
        for mut finding in rule.check_repo(with.resolved) {
            let Some((_, text)) = terraform.iter().find(|(p, _)| *p == finding.path) else {
                continue;
            };
            if !(with.in_scope)(&finding.path) {
                continue;
            }
            (finding.line, finding.column) = LineIndex::new(text).line_col(finding.range.start);
            if level == Some(Level::Warn) && finding.severity == Severity::Error {
                finding.severity = Severity::Warning;
            }
            found.push(finding);
        }
    }
    found
}

/// `# manifix: ignore[rule-id]` (or `ignore[rule-a, rule-b]`, or a bare `ignore` for all rules)
/// on the finding's line or on the line above it.
fn suppressed(
    comments: &[crate::yaml::Comment],
    lines: &LineIndex<'_>,
    rule: &str,
    line: usize,
) -> bool {
    comments.iter().any(|c| {
        let at = lines.line_col(c.offset).0;
        if at != line && at + 1 != line {
            return false;
        }
        let Some(rest) = c.text.trim().strip_prefix("manifix:") else {
            return false;
        };
        let rest = rest.trim();
        match rest.strip_prefix("ignore") {
            Some("") => true,
            Some(list) => list
                .trim()
                .strip_prefix('[')
                .and_then(|l| l.strip_suffix(']'))
                .is_some_and(|l| l.split(',').any(|id| id.trim() == rule)),
            None => false,
        }
    })
}

//! A finished run's findings: each file's with the file, in path order, and the findings in
//! files the run keeps no entry of (Terraform) beside them. Reports read them in report order
//! (by path, then place in the file, then rule); `fix` reads those of the file it plans.

use super::files::Analyzed;
use super::Run;
use crate::finding::{Finding, Severity};
use std::collections::BTreeMap;

/// How many findings a run has, of each severity and rule: what summaries and exit statuses
/// need.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub total: usize,
    pub errors: usize,
    pub warnings: usize,
    pub info: usize,
    /// Findings that carry a fix.
    pub fixable: usize,
    by_rule: BTreeMap<&'static str, usize>,
}

impl Tally {
    fn add(&mut self, f: &Finding) {
        self.total += 1;
        match f.severity {
            Severity::Error => self.errors += 1,
            Severity::Warning => self.warnings += 1,
            Severity::Info => self.info += 1,
        }
        self.fixable += usize::from(f.fix.is_some());
        *self.by_rule.entry(f.rule).or_default() += 1;
    }

    /// How many findings `rule` made.
    pub fn of_rule(&self, rule: &str) -> usize {
        self.by_rule.get(rule).copied().unwrap_or(0)
    }

    /// The rules that made findings, by ID.
    pub fn rules(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.by_rule.keys().copied()
    }
}

/// The findings of a finished run.
#[derive(Debug, Default)]
pub(super) struct Findings {
    /// The files that have findings, in path order.
    pub files: Vec<Analyzed>,
    /// Findings in files that are not among the run's YAML files (Terraform), in report order.
    pub others: Vec<Finding>,
    pub tally: Tally,
}

impl Findings {
    /// `files` (in path order, each with its findings in report order) and `others`.
    pub(super) fn new(files: Vec<Analyzed>, mut others: Vec<Finding>) -> Findings {
        in_report_order(&mut others);
        let mut tally = Tally::default();
        for f in files.iter().flat_map(|f| f.found.iter()).chain(&others) {
            tally.add(f);
        }
        Findings {
            files,
            others,
            tally,
        }
    }
}

/// By path, then place in the file, then rule. Stable: findings that compare equal stay in
/// the order their rules made them.
pub(super) fn in_report_order(found: &mut [Finding]) {
    found.sort_by(|a, b| (&a.path, a.range.start, a.rule).cmp(&(&b.path, b.range.start, b.rule)));
}

impl Run {
    /// How many findings the run has, by severity and rule.
    pub fn tally(&self) -> &Tally {
        &self.findings.tally
    }

    /// Every finding, in report order (by path, then place in the file, then rule).
    pub fn findings(&self) -> impl Iterator<Item = &Finding> + '_ {
        let mut files = self.findings.files.iter().peekable();
        let mut others = self.findings.others.iter().peekable();
        let mut current: std::slice::Iter<'_, Finding> = [].iter();
        // The files are in path order, and so are the other findings: the two are merged
        // (no path is in both).
        std::iter::from_fn(move || loop {
            if let Some(f) = current.next() {
                return Some(f);
            }
            let other_first = match (files.peek(), others.peek()) {
                (None, None) => return None,
                (Some(file), Some(other)) => other.path < file.entry.rel,
                (None, Some(_)) => true,
                (Some(_), None) => false,
            };
            if other_first {
                return others.next();
            }
            current = files.next()?.found.iter();
        })
    }

    /// The run's files that have findings, in path order.
    pub fn files_with_findings(&self) -> &[Analyzed] {
        &self.findings.files
    }
}

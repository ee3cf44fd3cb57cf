//! Where a run's findings wait between its rules and its report: each file's findings in the
//! run's findings spill (a temporary file, like the located facts), so that memory does not
//! grow with them; only their counts (`Tally`) stay in memory. Reports read them back a file
//! at a time, in report order, and `fix` reads back those of the file it plans.

use super::files::Slices;
use super::spill::{Spill, SpillReader, SpillRef};
use super::{Analyzed, FileError, Run};
use crate::finding::codec::{self, RuleIds};
use crate::finding::{Finding, Severity};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// A file's findings: none, put away in the spill, or (when they could not be) here.
#[derive(Debug, Default, Clone)]
pub enum FileFindings {
    #[default]
    None,
    Here(Box<[Finding]>),
    Spilled(SpillRef),
}

/// How many findings a run has, of each severity and rule: what summaries and exit statuses
/// need, without reading the findings back.
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

/// The run's findings as they are gathered: each file's put away by the worker that ran its
/// rules, as soon as they are done.
pub(super) struct FindingsWriter {
    spill: Spill,
    rules: RuleIds,
    tally: Mutex<Tally>,
}

impl FindingsWriter {
    pub(super) fn new() -> FindingsWriter {
        FindingsWriter {
            spill: Spill::new(),
            rules: RuleIds::default(),
            tally: Mutex::default(),
        }
    }

    /// Keeps `found`, the findings of one file, in report order.
    pub(super) fn keep(&self, mut found: Vec<Finding>) -> FileFindings {
        if found.is_empty() {
            return FileFindings::None;
        }
        in_report_order(&mut found);
        let mut bytes = Vec::new();
        codec::encode(&found, &self.rules, &mut bytes);
        let mut tally = self.tally();
        for f in &found {
            tally.add(f);
        }
        drop(tally);
        match self.spill.put_bytes(&bytes) {
            Some(at) => FileFindings::Spilled(at),
            None => FileFindings::Here(found.into_boxed_slice()),
        }
    }

    /// The spill the findings go to: the list of the files that have them goes there too.
    pub(super) fn spill(&self) -> &Spill {
        &self.spill
    }

    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        // Counts are added whole under the lock: a worker that panicked left them whole.
        self.tally
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Done: `others` are the findings in files the run does not keep (Terraform).
    pub(super) fn finish(self, mut others: Vec<Finding>) -> Findings {
        let mut tally = self.tally().clone();
        for f in &others {
            tally.add(f);
        }
        in_report_order(&mut others);
        Findings {
            reader: Some(self.spill.finish()),
            rules: self.rules,
            others,
            tally,
        }
    }
}

/// By path, then place in the file, then rule. Stable: findings that compare equal stay in
/// the order their rules made them.
fn in_report_order(found: &mut [Finding]) {
    found.sort_by(|a, b| (&a.path, a.range.start, a.rule).cmp(&(&b.path, b.range.start, b.rule)));
}

/// The findings of a finished run.
#[derive(Default)]
pub struct Findings {
    reader: Option<SpillReader>,
    rules: RuleIds,
    /// Findings in files that are not among the run's YAML files (Terraform), in report order.
    others: Vec<Finding>,
    pub(super) tally: Tally,
}

impl std::fmt::Debug for Findings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Findings")
            .field("tally", &self.tally)
            .field("others", &self.others)
            .finish_non_exhaustive()
    }
}

impl Run {
    /// How many findings the run has, by severity and rule.
    pub fn tally(&self) -> &Tally {
        &self.findings.tally
    }

    /// Every finding, in report order (by path, then place in the file, then rule), read
    /// back a file at a time. A file whose findings cannot be read back gives its error.
    pub fn findings(&self) -> FindingsIter<'_> {
        FindingsIter {
            run: self,
            slices: self.files.slices(self.findings.reader.as_ref()),
            files: Vec::new().into_iter(),
            file: None,
            next_other: 0,
            current: Vec::new().into_iter(),
        }
    }

    /// The run's files that have findings, in path order, a slice at a time (read back from
    /// where the run keeps them); a slice that cannot be read back is an error naming its
    /// first file.
    pub fn files_with_findings(
        &self,
    ) -> impl Iterator<Item = Result<Vec<Analyzed>, FileError>> + '_ {
        self.files
            .slices(self.findings.reader.as_ref())
            .map(|(_, slice)| slice)
    }

    /// The findings of `file` (one of the run's files), in report order.
    pub fn findings_of(&self, file: &Analyzed) -> Result<Vec<Finding>, FileError> {
        match &file.found {
            FileFindings::None => Ok(Vec::new()),
            FileFindings::Here(found) => Ok(found.to_vec()),
            FileFindings::Spilled(at) => {
                let read = match &self.findings.reader {
                    Some(reader) => reader.decoded(*at, "findings", |bytes| {
                        codec::decode(bytes, &file.entry.rel, &self.findings.rules)
                    }),
                    None => Err("its findings were not kept".to_string()),
                };
                read.map_err(|message| {
                    FileError::whole_file(
                        &file.entry.rel,
                        format!("{message}: not reported or fixed"),
                    )
                })
            }
        }
    }
}

/// See `Run::findings`.
pub struct FindingsIter<'a> {
    run: &'a Run,
    /// The slices of the run's files with findings still to read back.
    slices: Slices<'a>,
    /// The files of the slice read back last that are still to come.
    files: std::vec::IntoIter<Analyzed>,
    /// The next file whose findings are to come, once taken from `files`.
    file: Option<Analyzed>,
    next_other: usize,
    current: std::vec::IntoIter<Finding>,
}

impl FindingsIter<'_> {
    /// The next of the run's files with findings; a slice that cannot be read back gives its
    /// error.
    fn next_file(&mut self) -> Option<Result<Analyzed, FileError>> {
        loop {
            if let Some(file) = self.files.next() {
                return Some(Ok(file));
            }
            match self.slices.next()?.1 {
                Ok(files) => self.files = files.into_iter(),
                Err(error) => return Some(Err(error)),
            }
        }
    }
}

impl Iterator for FindingsIter<'_> {
    type Item = Result<Finding, FileError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(f) = self.current.next() {
                return Some(Ok(f));
            }
            if self.file.is_none() {
                match self.next_file() {
                    Some(Ok(file)) => self.file = Some(file),
                    Some(Err(error)) => return Some(Err(error)),
                    None => {}
                }
            }
            // The run's files are in path order, and so are the other findings: the two
            // are merged (no path is in both).
            let other = self.run.findings.others.get(self.next_other);
            if let Some(other) = other {
                if self.file.as_ref().is_none_or(|f| other.path < f.entry.rel) {
                    self.next_other += 1;
                    return Some(Ok(other.clone()));
                }
            }
            let file = self.file.take()?;
            match self.run.findings_of(&file) {
                Ok(found) => self.current = found.into_iter(),
                Err(error) => return Some(Err(error)),
            }
        }
    }
}

impl From<FileError> for std::io::Error {
    /// A run's findings that cannot be read back stop the report that reads them.
    fn from(e: FileError) -> std::io::Error {
        std::io::Error::other(format!("{}:{}:{}: {}", e.path, e.line, e.column, e.message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::{FileEntry, FileKind};

    fn file(rel: &str) -> Analyzed {
        Analyzed {
            entry: FileEntry::new(
                &std::sync::Arc::from(std::path::Path::new(".")),
                std::path::Path::new(rel),
                rel.into(),
                FileKind::Yaml,
            ),
            relevant: true,
            hash: 0,
            comments: Vec::new(),
            located: super::super::Held::default(),
            found: FileFindings::None,
        }
    }

    fn finding(rule: &'static str, path: &str, at: usize, severity: Severity) -> Finding {
        Finding::new(rule, severity, path, at..at + 1, format!("{rule} at {at}"))
    }

    /// The files with their findings, as the run keeps them: in a list put away in the
    /// findings' spill, two files a slice (so that slices are crossed).
    fn with_findings(writer: &FindingsWriter, files: Vec<Analyzed>) -> super::super::FileList {
        let mut list = super::super::files::FileListWriter::new(2);
        for file in files {
            list.push(file, writer.spill());
        }
        list.finish(writer.spill())
    }

    fn shown(findings: &[Finding]) -> Vec<String> {
        findings
            .iter()
            .map(|f| format!("{} {} {}", f.path, f.range.start, f.rule))
            .collect()
    }

    /// Findings come back in report order: each file's sorted, and the findings of files the
    /// run does not keep (Terraform) merged in by path.
    #[test]
    fn findings_come_back_in_report_order() {
        let writer = FindingsWriter::new();
        let mut files = vec![
            file("b.yaml"),
            file("c.yaml"),
            file("d.yaml"),
            file("f.yaml"),
        ];
        files[0].found = writer.keep(vec![
            finding("mutable-tag", "b.yaml", 9, Severity::Warning),
            finding("placeholder-account", "b.yaml", 2, Severity::Error),
            finding("ecr-region", "b.yaml", 2, Severity::Info),
        ]);
        files[1].found = writer.keep(Vec::new());
        files[2].found = writer.keep(vec![finding("mutable-tag", "d.yaml", 1, Severity::Warning)]);
        files[3].found = writer.keep(vec![finding("mutable-tag", "f.yaml", 3, Severity::Info)]);
        assert!(matches!(files[0].found, FileFindings::Spilled(_)));
        assert!(matches!(files[1].found, FileFindings::None));
        let mut run = Run {
            files: with_findings(&writer, files),
            ..Run::default()
        };
        run.findings = writer.finish(vec![
            finding("node-role-ecr", "e.tf", 5, Severity::Error),
            finding("node-role-ecr", "a.tf", 5, Severity::Error),
            finding("node-role-ecr", "c.tf", 5, Severity::Error),
        ]);
        let all: Vec<Finding> = run.findings().collect::<Result<_, _>>().expect("read back");
        assert_eq!(
            shown(&all),
            [
                "a.tf 5 node-role-ecr",
                "b.yaml 2 ecr-region",
                "b.yaml 2 placeholder-account",
                "b.yaml 9 mutable-tag",
                "c.tf 5 node-role-ecr",
                "d.yaml 1 mutable-tag",
                "e.tf 5 node-role-ecr",
                "f.yaml 3 mutable-tag",
            ]
        );
        let files: Vec<Analyzed> = run
            .files_with_findings()
            .collect::<Result<Vec<_>, _>>()
            .expect("read back")
            .concat();
        let of_b = run.findings_of(&files[0]).expect("read back");
        assert_eq!(shown(&of_b), shown(&all[1..4]));
        assert!(run.findings_of(&file("c.yaml")).expect("none").is_empty());
        let tally = run.tally();
        assert_eq!(
            (
                tally.total,
                tally.errors,
                tally.warnings,
                tally.info,
                tally.fixable
            ),
            (8, 4, 2, 2, 0)
        );
        assert_eq!(tally.of_rule("node-role-ecr"), 3);
        assert_eq!(
            tally.rules().collect::<Vec<_>>(),
            [
                "ecr-region",
                "mutable-tag",
                "node-role-ecr",
                "placeholder-account"
            ]
        );
    }

    /// A file whose findings come back damaged gives its error, with its path, and the other
    /// files' findings still come.
    #[test]
    fn findings_that_cannot_be_read_back_are_an_error_of_their_file() {
        let writer = FindingsWriter::new();
        let mut files = vec![file("a.yaml"), file("b.yaml")];
        files[0].found = writer.keep(vec![finding("mutable-tag", "a.yaml", 1, Severity::Warning)]);
        files[1].found = writer.keep(vec![finding("mutable-tag", "b.yaml", 1, Severity::Warning)]);
        // Pointed one byte off: the form read is not the one put.
        if let FileFindings::Spilled(at) = &mut files[0].found {
            *at = at.shifted_for_test();
        }
        let mut run = Run {
            files: with_findings(&writer, files),
            ..Run::default()
        };
        run.findings = writer.finish(Vec::new());
        let all: Vec<_> = run.findings().collect();
        let error = all[0].as_ref().expect_err("damaged");
        assert_eq!(error.path, "a.yaml");
        assert!(error.message.contains("findings"), "{}", error.message);
        assert_eq!(all[1].as_ref().expect("read back").path, "b.yaml");
        let io: std::io::Error = error.clone().into();
        assert!(
            io.to_string().starts_with("a.yaml:1:1: its findings"),
            "{io}"
        );
    }
}

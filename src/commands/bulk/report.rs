//! The JSON report of a bulk run: one record per repository, rewritten atomically as each one
//! finishes, so an interrupted run resumes where it stopped.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Dry run: fixes found, nothing written.
    WouldChange,
    /// Files written in the working tree.
    Changed,
    /// Fixes committed to the branch.
    Committed,
    /// Committed and pushed.
    Pushed,
    /// Nothing to fix.
    Unchanged,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::WouldChange => "would-change",
            Status::Changed => "changed",
            Status::Committed => "committed",
            Status::Pushed => "pushed",
            Status::Unchanged => "unchanged",
            Status::Failed => "failed",
        }
    }

    /// Whether a resumed run can leave this repository alone.
    pub fn is_done(self) -> bool {
        self != Status::Failed
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoRecord {
    pub repo: String,
    pub status: Status,
    pub files_changed: usize,
    pub findings: usize,
    pub fixes: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<String>,
    /// Why the repository failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Files that could not be handled (`path:line:col: message`), unresolved sources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

impl RepoRecord {
    pub fn failed(repo: &str, reason: String) -> RepoRecord {
        RepoRecord {
            repo: repo.to_string(),
            status: Status::Failed,
            files_changed: 0,
            findings: 0,
            fixes: 0,
            branch: None,
            commit: None,
            pull_request: None,
            reason: Some(reason),
            errors: Vec::new(),
        }
    }
}

/// What makes two runs the same migration: a report is only resumed by its own kind of run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunKey {
    pub recipe: String,
    /// The recipe's text and parameters, hashed.
    pub fingerprint: String,
    pub mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub manifix: String,
    #[serde(flatten)]
    pub key: RunKey,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    pub summary: BTreeMap<String, usize>,
    pub repos: Vec<RepoRecord>,
}

impl Report {
    pub fn new(key: RunKey, shard: Option<String>, repos: Vec<RepoRecord>) -> Report {
        let mut report = Report {
            manifix: env!("CARGO_PKG_VERSION").to_string(),
            key,
            shard,
            summary: BTreeMap::new(),
            repos,
        };
        report.summarise();
        report
    }

    pub fn summarise(&mut self) {
        self.summary.clear();
        for r in &self.repos {
            *self
                .summary
                .entry(r.status.as_str().to_string())
                .or_default() += 1;
        }
        self.summary.insert("total".into(), self.repos.len());
    }

    /// A report left by an earlier run, if the file exists; it must be from the same kind of
    /// run, or resuming from it would mix two migrations.
    pub fn resume(path: &Path, key: &RunKey) -> Result<Option<Report>, String> {
        // A report of many thousand repositories is a few megabytes.
        const MAX_REPORT_BYTES: u64 = 256 << 20;
        if !path.exists() && path.symlink_metadata().is_err() {
            return Ok(None);
        }
        let text = crate::fsio::read_named_text(path, MAX_REPORT_BYTES, "--report")?;
        let report: Report = serde_json::from_str(&text).map_err(|e| {
            format!(
                "--report {}: not a manifix bulk report ({e}); give another file, this one is left as it is",
                path.display()
            )
        })?;
        if &report.key != key {
            return Err(format!(
                "--report {}: written by another run (recipe {} {}, {}{}); resume it with the same recipe, parameters and mode, or give a new report file",
                path.display(),
                report.key.recipe,
                report.key.fingerprint,
                report.key.mode,
                report.key.branch.as_deref().map(|b| format!(" to branch {b}")).unwrap_or_default(),
            ));
        }
        Ok(Some(report))
    }

    /// Writes the report through a temporary file and a rename: a crash leaves the previous
    /// report whole.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let fail = |e: std::io::Error| format!("--report {}: cannot write: {e}", path.display());
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut tmp = tempfile::Builder::new()
            .prefix(".manifix-report-")
            .tempfile_in(dir)
            .map_err(fail)?;
        serde_json::to_writer_pretty(&mut tmp, self).map_err(|e| fail(e.into()))?;
        tmp.write_all(b"\n").map_err(fail)?;
        tmp.as_file().sync_all().map_err(fail)?;
        tmp.persist(path).map_err(|e| fail(e.error))?;
        Ok(())
    }
}

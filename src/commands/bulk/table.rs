//! What a bulk run shows: a progress line on a terminal while it works, then a table of every
//! repository and what went wrong where.

use super::report::{RepoRecord, Status};
use super::repos::RepoSpec;
use crate::emit::Paint;
use crate::escape::control;
use std::collections::BTreeMap;
use std::io::{self, Write};

/// One line, rewritten in place on the terminal.
pub fn progress(
    err: &mut dyn Write,
    id: &str,
    record: &RepoRecord,
    done: usize,
    total: usize,
) -> io::Result<()> {
    write!(
        err,
        "\r\x1b[2K[{done}/{total}] {}: {}",
        control(id),
        record.status.as_str()
    )?;
    err.flush()
}

pub fn clear_progress(err: &mut dyn Write) -> io::Result<()> {
    write!(err, "\r\x1b[2K")?;
    err.flush()
}

pub fn write(
    out: &mut dyn Write,
    records: &[&RepoRecord],
    ran: &[usize],
    specs: &[RepoSpec],
    paint: Paint,
) -> io::Result<()> {
    let ran_ids: Vec<&str> = ran.iter().map(|&i| specs[i].id.as_str()).collect();
    let width = records
        .iter()
        .map(|r| control(&r.repo).chars().count())
        .chain([4])
        .max()
        .unwrap_or(4);
    let branch_width = records
        .iter()
        .filter_map(|r| r.branch.as_ref().map(|b| control(b).chars().count()))
        .chain([6])
        .max()
        .unwrap_or(6);
    writeln!(
        out,
        "{:<width$}  {:>5}  {:>8}  {:<branch_width$}  STATUS",
        "REPO", "FILES", "FINDINGS", "BRANCH"
    )?;
    for r in records {
        let mut status = r.status.as_str().to_string();
        if !r.errors.is_empty() {
            status.push_str(&format!(
                ", {} {}",
                r.errors.len(),
                if r.errors.len() == 1 {
                    "error"
                } else {
                    "errors"
                }
            ));
        }
        if !ran_ids.contains(&r.repo.as_str()) {
            status.push_str(" (done earlier)");
        }
        let color = match r.status {
            Status::Failed => "31",
            _ if !r.errors.is_empty() => "33",
            _ => "",
        };
        let (files, findings) = if r.status == Status::Failed {
            ("-".to_string(), "-".to_string())
        } else {
            (r.files_changed.to_string(), r.findings.to_string())
        };
        writeln!(
            out,
            "{:<width$}  {files:>5}  {findings:>8}  {:<branch_width$}  {}",
            control(&r.repo),
            control(r.branch.as_deref().unwrap_or("-")),
            if color.is_empty() {
                status
            } else {
                paint.wrap(color, &status)
            }
        )?;
    }
    let failures: Vec<&&RepoRecord> = records.iter().filter(|r| r.reason.is_some()).collect();
    if !failures.is_empty() {
        writeln!(out, "\nfailed:")?;
        for r in failures {
            writeln!(
                out,
                "  {}: {}",
                control(&r.repo),
                control(r.reason.as_deref().unwrap_or(""))
            )?;
        }
    }
    if records.iter().any(|r| !r.errors.is_empty()) {
        writeln!(out, "\nerrors (these files were left untouched):")?;
        for r in records {
            for e in &r.errors {
                writeln!(out, "  {}: {}", control(&r.repo), control(e))?;
            }
        }
    }
    let prs: Vec<&&RepoRecord> = records
        .iter()
        .filter(|r| r.pull_request.is_some())
        .collect();
    if !prs.is_empty() {
        writeln!(out, "\nopen the pull requests:")?;
        for r in prs {
            writeln!(
                out,
                "  {}: {}",
                control(&r.repo),
                control(r.pull_request.as_deref().unwrap_or(""))
            )?;
        }
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in records {
        *counts.entry(r.status.as_str()).or_default() += 1;
    }
    let parts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    let earlier = records.len() - ran.len().min(records.len());
    writeln!(
        out,
        "\n{} {}: {}{}",
        records.len(),
        if records.len() == 1 {
            "repository"
        } else {
            "repositories"
        },
        parts.join(", "),
        if earlier > 0 {
            format!(" ({earlier} done earlier)")
        } else {
            String::new()
        }
    )
}

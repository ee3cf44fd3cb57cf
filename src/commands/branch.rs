//! `fix --branch`: run the fix on HEAD's content and commit it to a new branch, then optionally
//! push it and describe it for a pull request.

use super::shared::{fix_choice, options, plan_or_stop, AppError, EXIT_CLEAN, EXIT_ERROR};
use crate::cli::FixArgs;
use crate::emit::{self, Paint};
use crate::engine::analyze;
use crate::vcs;
use std::io::Write;
use std::path::{Path, PathBuf};

pub fn fix_on_branch(
    args: FixArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
    paint: Paint,
) -> Result<u8, AppError> {
    let branch = args.branch.clone().unwrap_or_default();
    let mut user_opts = options(&args.common)?;
    user_opts.require_image = args.require_image;
    let real_root = user_opts.root.clone();
    let repo = vcs::open(&real_root)?;
    let snapshot = vcs::snapshot_head(&repo, &real_root)?;
    vcs::check_branch(&repo, &branch, args.force)?;
    let signature = vcs::signature(&repo, args.author.as_deref())?;

    // The same run, over HEAD's files: paths given by the user map into the snapshot.
    let mut opts = user_opts.clone();
    opts.root = snapshot.root.clone();
    opts.paths = user_opts
        .paths
        .iter()
        .map(|p| map_into(&real_root, &snapshot.root, p))
        .collect();
    // The files that steer the run are passed over where they lie in the snapshot.
    opts.steering = user_opts
        .steering
        .iter()
        .chain(&user_opts.config_path)
        .map(|p| map_into(&real_root, &snapshot.root, p))
        .collect();
    opts.source_base = Some(match &user_opts.config_path {
        Some(p) => p.parent().map(Path::to_path_buf).unwrap_or_default(),
        None => real_root.clone(),
    });
    let run = analyze(&opts)?;
    let Some(plan) = plan_or_stop(&run, fix_choice(&args), err, paint)? else {
        return Ok(EXIT_ERROR);
    };
    if plan.files.is_empty() {
        writeln!(
            out,
            "nothing to commit: HEAD needs no fix; branch {branch} not created"
        )?;
        return Ok(
            if run.errors.is_empty() && run.source_errors.is_empty() && plan.refused.is_empty() {
                EXIT_CLEAN
            } else {
                EXIT_ERROR
            },
        );
    }

    // The user's uncommitted edits are not in the commit; say so where they touch its files.
    let differing: Vec<String> = plan
        .files
        .iter()
        .filter(|f| {
            std::fs::read(real_root.join(&f.path)).ok().as_deref() != Some(f.old.as_bytes())
        })
        .map(|f| crate::escape::quote_path(&f.path).into_owned())
        .collect();
    if !differing.is_empty() {
        writeln!(
            err,
            "{}: the working tree differs from HEAD in {}; the commit is built from HEAD's content",
            paint.wrap("33", "warning"),
            differing.join(", ")
        )?;
    }

    let message = emit::pr::commit_message(&plan.files, args.message.as_deref());
    let commit = vcs::commit_to_branch(
        &repo,
        &snapshot,
        &plan.files,
        &branch,
        &message,
        &signature,
        args.force,
    )?;
    let sha = commit.to_string();
    writeln!(
        out,
        "created branch {branch} at {} ({}, {}): {}",
        &sha[..7],
        emit::text::plural(plan.fixes(), "fix", "fixes"),
        emit::text::plural(plan.files.len(), "file", "files"),
        crate::escape::control(message.lines().next().unwrap_or(""))
    )?;

    if let Some(path) = &args.pr_body {
        // Everything this commit does not fix: no fix known, or an opt-in fix not chosen.
        let fixed: std::collections::BTreeSet<(&str, usize, &str)> = plan
            .files
            .iter()
            .flat_map(|f| {
                f.fixed
                    .iter()
                    .map(|x| (x.path.as_str(), x.range.start, x.rule))
            })
            .collect();
        let mut unresolved = Vec::new();
        for f in run.findings() {
            if !fixed.contains(&(f.path.as_str(), f.range.start, f.rule)) {
                unresolved.push(f.clone());
            }
        }
        let subject = message.lines().next().unwrap_or("");
        let body = emit::pr::pull_request_body(&plan.files, &unresolved, subject);
        std::fs::write(path, body).map_err(|source| vcs::VcsError::Io {
            path: path.display().to_string(),
            source,
        })?;
        writeln!(
            out,
            "pull request description written to {}",
            path.display()
        )?;
    }

    let mut status =
        if run.errors.is_empty() && run.source_errors.is_empty() && plan.refused.is_empty() {
            EXIT_CLEAN
        } else {
            EXIT_ERROR
        };
    if let Some(remote) = &args.push {
        match vcs::push(&repo, remote, &branch, args.force) {
            Ok(()) => writeln!(out, "pushed {branch} to {remote}")?,
            Err(e) => {
                // The remote's own words, one per line, but driving no terminal.
                let e = e.to_string();
                writeln!(
                    err,
                    "{}: {}",
                    paint.wrap("31", "error"),
                    crate::escape::control_but_lines(&e)
                )?;
                status = EXIT_ERROR;
            }
        }
    }
    let remote = args.push.as_deref().unwrap_or("origin");
    let base = vcs::current_branch(&repo).unwrap_or_else(|| "main".into());
    if let Some(url) =
        vcs::remote_url(&repo, remote).and_then(|u| vcs::pull_request_url(&u, &base, &branch))
    {
        writeln!(out, "open the pull request: {url}")?;
    }
    Ok(status)
}

/// `path` (given relative to the working directory) as the same place inside the snapshot.
fn map_into(real_root: &Path, snapshot_root: &Path, path: &Path) -> PathBuf {
    let real = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let root = real_root
        .canonicalize()
        .unwrap_or_else(|_| real_root.to_path_buf());
    match real.strip_prefix(&root) {
        Ok(rel) => snapshot_root.join(rel),
        Err(_) => snapshot_root.to_path_buf(),
    }
}

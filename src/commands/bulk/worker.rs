//! One repository of a bulk run, start to finish: find its files (working tree, or HEAD for
//! branches and clones), run the recipe, and write, commit or only report the fixes. Nothing
//! here prints; the outcome is a record (and a diff) for the runner to show.

use super::cache;
use super::report::{RepoRecord, Status};
use super::repos::{Location, RepoSpec};
use crate::engine::{analyze, Run, RunOptions};
use crate::fix::{plan_fixes, write_file, FixChoice, FixPlan};
use crate::recipe::Recipe;
use crate::vcs;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub enum Mode {
    DryRun { diff: bool },
    Write,
    Branch(BranchSpec),
}

impl Mode {
    pub fn name(&self) -> &'static str {
        match self {
            Mode::DryRun { .. } => "dry-run",
            Mode::Write => "write",
            Mode::Branch(_) => "branch",
        }
    }
}

#[derive(Debug, Clone)]
pub struct BranchSpec {
    pub name: String,
    pub push: Option<String>,
    pub message: Option<String>,
    pub author: Option<String>,
    pub force: bool,
}

/// What every repository of the run shares.
pub struct Job {
    pub recipe: Arc<Recipe>,
    pub sources: Vec<String>,
    pub mode: Mode,
    pub cache: PathBuf,
}

pub struct Outcome {
    pub record: RepoRecord,
    /// The unified diff, for `--dry-run --diff`.
    pub diff: String,
}

pub fn process(spec: &RepoSpec, job: &Job) -> Outcome {
    let mut diff = String::new();
    let record = match work(spec, job, &mut diff) {
        Ok(record) => record,
        Err(reason) => RepoRecord::failed(&spec.id, reason),
    };
    Outcome { record, diff }
}

fn work(spec: &RepoSpec, job: &Job, diff: &mut String) -> Result<RepoRecord, String> {
    // A clone stays locked until this repository is done: another bulk run sharing the cache
    // waits rather than fetch into it while it is read and committed to.
    let (path, cloned, _entry) = match &spec.location {
        Location::Local(p) if p.is_dir() => (p.clone(), false, None),
        Location::Local(p) => return Err(format!("{}: no such directory", p.display())),
        Location::Url(url) => {
            let entry = cache::ensure(url, &job.cache)?;
            (entry.dir.clone(), true, Some(entry))
        }
    };
    // Branches are built from HEAD, and a clone has no working tree: both run over a snapshot
    // of HEAD. Dry runs and writes of a local repository see its working tree, like `fix`.
    let needs_head = cloned || matches!(job.mode, Mode::Branch(_));
    let repo_and_snapshot = if needs_head {
        let repo = vcs::open(&path).map_err(|e| e.to_string())?;
        let snapshot = vcs::snapshot_head(&repo, &path).map_err(|e| e.to_string())?;
        Some((repo, snapshot))
    } else {
        None
    };
    let opts = RunOptions {
        root: repo_and_snapshot
            .as_ref()
            .map_or_else(|| path.clone(), |(_, s)| s.root.clone()),
        sources: job.sources.clone(),
        source_base: Some(path.clone()),
        recipe: Some(job.recipe.clone()),
        ..RunOptions::default()
    };
    let run = analyze(&opts).map_err(|e| e.to_string())?;
    if crate::commands::shared::placeholder_targets(&run)
        .map_err(|e| e.to_string())?
        .missing
    {
        return Err(run.resolved.accounts.missing_target_help());
    }
    let plan = plan_fixes(&run, FixChoice::default());
    let mut record = RepoRecord {
        repo: spec.id.clone(),
        status: Status::Unchanged,
        files_changed: plan.files.len(),
        findings: run.tally().total,
        fixes: plan.fixes(),
        branch: None,
        commit: None,
        pull_request: None,
        reason: None,
        errors: problems(&run, &plan),
    };
    if plan.files.is_empty() {
        return Ok(record);
    }
    match &job.mode {
        Mode::DryRun { diff: want } => {
            record.status = Status::WouldChange;
            if *want {
                for file in &plan.files {
                    let shown = format!("{}/{}", spec.id, file.path);
                    diff.push_str(&crate::emit::diff::unified(
                        &shown,
                        &file.old,
                        &file.new,
                        crate::emit::Paint { on: false },
                        &[],
                    ));
                }
            }
        }
        Mode::Write => {
            let mut written = 0;
            for file in &plan.files {
                match write_file(file) {
                    Ok(()) => written += 1,
                    Err(e) => record.errors.push(e.to_string()),
                }
            }
            record.files_changed = written;
            record.status = if written > 0 {
                Status::Changed
            } else {
                Status::Failed
            };
            if written == 0 {
                record.reason = Some("no file could be written".into());
            }
        }
        Mode::Branch(branch) => {
            let (repo, snapshot) = repo_and_snapshot.as_ref().ok_or("no snapshot")?;
            commit(repo, snapshot, &plan, branch, &mut record)?;
        }
    }
    Ok(record)
}

/// Commits the fixes to the branch (or finds them already there) and pushes on request.
fn commit(
    repo: &git2::Repository,
    snapshot: &vcs::HeadSnapshot,
    plan: &FixPlan,
    branch: &BranchSpec,
    record: &mut RepoRecord,
) -> Result<(), String> {
    let text = |e: vcs::VcsError| e.to_string();
    let tree = vcs::fixed_tree(repo, snapshot, &plan.files).map_err(text)?;
    let commit = match vcs::branch_holding(repo, &branch.name, tree, snapshot.head) {
        // An earlier run committed exactly these fixes: keep that commit.
        Some(existing) if !branch.force => existing,
        _ => {
            vcs::check_branch(repo, &branch.name, branch.force).map_err(text)?;
            let signature = vcs::signature(repo, branch.author.as_deref()).map_err(text)?;
            let message = crate::emit::pr::commit_message(&plan.files, branch.message.as_deref());
            vcs::commit_to_branch(
                repo,
                snapshot,
                &plan.files,
                &branch.name,
                &message,
                &signature,
                branch.force,
            )
            .map_err(text)?
        }
    };
    record.branch = Some(branch.name.clone());
    record.commit = Some(commit.to_string());
    record.status = Status::Committed;
    if let Some(remote) = &branch.push {
        // The commit stays recorded: a resumed run finds it on the branch and pushes again.
        if let Err(e) = vcs::push(repo, remote, &branch.name, branch.force) {
            record.status = Status::Failed;
            record.reason = Some(e.to_string());
            return Ok(());
        }
        record.status = Status::Pushed;
        let base = vcs::current_branch(repo).unwrap_or_else(|| "main".into());
        record.pull_request = vcs::remote_url(repo, remote)
            .and_then(|u| vcs::pull_request_url(&u, &base, &branch.name));
    }
    Ok(())
}

/// Everything in the repository that could not be handled, one line each.
fn problems(run: &Run, plan: &FixPlan) -> Vec<String> {
    let position =
        |e: &crate::engine::FileError| format!("{}:{}:{}: {}", e.path, e.line, e.column, e.message);
    run.errors
        .iter()
        .chain(&plan.refused)
        .map(position)
        .chain(run.source_errors.iter().cloned())
        .collect()
}

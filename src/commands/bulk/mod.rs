//! `manifix bulk`: one recipe over many repositories, in parallel. One repository's failure
//! never stops the others; a JSON report written as repositories finish lets an interrupted
//! run resume, and `--shard K/N` spreads thousands of repositories over machines.

pub mod cache;
pub mod report;
pub mod repos;
mod table;
pub mod worker;

use super::shared::{AppError, EXIT_CLEAN, EXIT_ERROR};
use crate::cli::BulkArgs;
use crate::emit::Paint;
use crate::recipe::Recipe;
use report::{RepoRecord, Report, RunKey};
use repos::{Location, RepoSpec, Shard};
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use worker::{BranchSpec, Job, Mode, Outcome};

pub fn run(
    args: BulkArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
    paint: Paint,
) -> Result<u8, AppError> {
    let recipe = Arc::new(Recipe::load(&args.recipe, &args.sets)?);
    let mode = if args.dry_run {
        Mode::DryRun { diff: args.diff }
    } else if let Some(name) = &args.branch {
        if !git2::Branch::name_is_valid(name).unwrap_or(false) {
            return Err(AppError::Usage(format!(
                "--branch {name:?} is not a valid branch name"
            )));
        }
        Mode::Branch(BranchSpec {
            name: name.clone(),
            push: args.push.clone(),
            message: args.message.clone(),
            author: args.author.clone(),
            force: args.force,
        })
    } else {
        Mode::Write
    };
    let shard = args
        .shard
        .as_deref()
        .map(Shard::parse)
        .transpose()
        .map_err(AppError::Usage)?;
    let mut specs = repos::from_arg(&args.repos).map_err(AppError::Usage)?;
    let listed = specs.len();
    if let Some(shard) = shard {
        specs.retain(|s| shard.holds(&s.id));
    }
    if matches!(mode, Mode::Write) {
        if let Some(url) = specs
            .iter()
            .find(|s| matches!(s.location, Location::Url(_)))
        {
            return Err(AppError::Usage(format!(
                "{} is a clone URL: its clone lives in manifix's cache, where written files help no one; use --branch NAME --push origin, or --dry-run",
                url.id
            )));
        }
    }

    let key = RunKey {
        recipe: recipe.name.clone(),
        fingerprint: recipe.fingerprint(),
        mode: mode.name().into(),
        branch: args.branch.clone(),
    };
    let earlier = match &args.report {
        Some(path) => Report::resume(path, &key).map_err(AppError::Usage)?,
        None => None,
    };
    // Records in the order of the list; repositories an earlier run finished keep theirs.
    let mut records: Vec<Option<RepoRecord>> = specs
        .iter()
        .map(|s| {
            earlier
                .as_ref()
                .and_then(|r| {
                    r.repos
                        .iter()
                        .find(|x| x.repo == s.id && x.status.is_done())
                })
                .cloned()
        })
        .collect();
    let resumed = records.iter().filter(|r| r.is_some()).count();
    let todo: Vec<usize> = (0..specs.len()).filter(|i| records[*i].is_none()).collect();

    let shard_note = shard
        .map(|s| format!(", shard {s} of {listed} listed"))
        .unwrap_or_default();
    writeln!(
        err,
        "manifix bulk: recipe {} ({}) over {} {}{shard_note}{}",
        recipe.name,
        recipe.origin,
        specs.len(),
        if specs.len() == 1 {
            "repository"
        } else {
            "repositories"
        },
        if resumed > 0 {
            format!("; {resumed} already done in the report, skipped")
        } else {
            String::new()
        }
    )?;

    let job = Job {
        recipe,
        sources: args.sources.clone(),
        mode,
        cache: args.cache.clone().unwrap_or_else(cache::default_dir),
    };
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, todo.len().max(1));
    let progress = !args.quiet && std::io::stderr().is_terminal();
    let mut state = State {
        records: std::mem::take(&mut records),
        diffs: vec![String::new(); specs.len()],
        finished: 0,
        report_error: None,
    };
    let next = AtomicUsize::new(0);
    let save = |state: &State| -> Option<String> {
        let path = args.report.as_ref()?;
        let report = Report::new(
            key.clone(),
            shard.map(|s| s.to_string()),
            state.records.iter().flatten().cloned().collect(),
        );
        report.save(path).err()
    };
    // Workers only work; this thread records each outcome, saves the report and draws the
    // progress line (it owns stderr, which the caller holds locked).
    let (done_tx, done_rx) = std::sync::mpsc::channel::<(usize, Outcome)>();
    std::thread::scope(|scope| -> std::io::Result<()> {
        for _ in 0..jobs {
            let done_tx = done_tx.clone();
            let (next, todo, specs, job) = (&next, &todo, &specs, &job);
            scope.spawn(move || {
                while let Some(&i) = todo.get(next.fetch_add(1, Ordering::Relaxed)) {
                    if done_tx.send((i, run_one(&specs[i], job))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        for (i, Outcome { record, diff }) in done_rx {
            state.finished += 1;
            if progress {
                table::progress(err, &specs[i].id, &record, state.finished, todo.len())?;
            }
            state.records[i] = Some(record);
            state.diffs[i] = diff;
            if let Some(e) = save(&state) {
                state.report_error.get_or_insert(e);
            }
        }
        Ok(())
    })?;
    if progress {
        table::clear_progress(err)?;
    }
    for diff in &state.diffs {
        write!(out, "{diff}")?;
    }
    let records: Vec<&RepoRecord> = state.records.iter().flatten().collect();
    table::write(out, &records, &todo, &specs, paint)?;
    if let Some(path) = &args.report {
        if state.report_error.is_none() && todo.is_empty() {
            // Nothing ran, so nothing was saved: still leave the report in place.
            if let Some(e) = save(&state) {
                writeln!(err, "{}: {e}", paint.wrap("31", "error"))?;
                return Ok(EXIT_ERROR);
            }
        }
        match &state.report_error {
            Some(e) => writeln!(err, "{}: {e}", paint.wrap("31", "error"))?,
            None => writeln!(err, "report written to {}", path.display())?,
        }
    }
    let failed = records
        .iter()
        .any(|r| r.status == report::Status::Failed || !r.errors.is_empty());
    Ok(if failed || state.report_error.is_some() {
        EXIT_ERROR
    } else {
        EXIT_CLEAN
    })
}

struct State {
    records: Vec<Option<RepoRecord>>,
    diffs: Vec<String>,
    finished: usize,
    report_error: Option<String>,
}

/// A repository's work, with a panic in it turned into that repository's failure: the other
/// repositories of the run must still be done.
fn run_one(spec: &RepoSpec, job: &Job) -> Outcome {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| worker::process(spec, job)))
        .unwrap_or_else(|_| Outcome {
            record: RepoRecord::failed(
                &spec.id,
                "internal error (a bug in manifix: please report it)".into(),
            ),
            diff: String::new(),
        })
}

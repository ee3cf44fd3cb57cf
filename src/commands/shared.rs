//! What the commands share: their error and exit statuses, the run options a command line
//! gives, the side notes every run prints, and the stop before a fix that has no target
//! account. Imports no command.

use crate::cli::{Common, FixArgs};
use crate::emit::{self, Paint};
use crate::engine::{Run, RunError, RunOptions};
use crate::fix::plan_fixes;
use crate::recipe::{Recipe, RecipeError};
use crate::resolve::Origin;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub const EXIT_CLEAN: u8 = 0;
pub const EXIT_FINDINGS: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("unknown rule {0:?}; `manifix rules` lists them")]
    UnknownRule(String),
    #[error(transparent)]
    Vcs(#[from] crate::vcs::VcsError),
    #[error(transparent)]
    Recipe(#[from] RecipeError),
    #[error("{0}")]
    Usage(String),
}

pub(crate) fn options(common: &Common) -> Result<RunOptions, AppError> {
    let cwd = PathBuf::from(".");
    let root = match common.paths.as_slice() {
        [one] if one.is_dir() => one.clone(),
        _ => cwd,
    };
    let recipe = match &common.recipe {
        Some(spec) => Some(std::sync::Arc::new(Recipe::load(spec, &common.sets)?)),
        None => None,
    };
    Ok(RunOptions {
        root,
        paths: common.paths.clone(),
        account: common.account.clone(),
        config_path: common.config.clone(),
        sources: common.sources.clone(),
        strict: common.strict,
        source_base: None,
        recipe,
        registry: common.registry,
        require_image: false,
        steering: recipe_file(common.recipe.as_deref()).into_iter().collect(),
    })
}

/// The recipe file `--recipe` names, when it names a file rather than a built-in.
fn recipe_file(spec: Option<&str>) -> Option<PathBuf> {
    let path = Path::new(spec?);
    path.is_file().then(|| path.to_path_buf())
}

/// Errors, skipped files and how the target account was chosen, on stderr.
pub(crate) fn report_side_notes(
    run: &Run,
    targets: &PlaceholderTargets,
    err: &mut dyn Write,
    paint: Paint,
) -> io::Result<()> {
    for e in &run.errors {
        emit::text::file_error(err, e, paint)?;
    }
    for s in &run.skipped {
        emit::text::skipped(err, s, paint)?;
    }
    for left in &run.leftovers {
        writeln!(
            err,
            "{}: {}: temporary file of a manifix fix that was interrupted (process {} is gone); the next `manifix fix` removes it",
            crate::escape::quote_path(&left.path),
            paint.wrap("33", "warning"),
            left.pid
        )?;
    }
    // What the repository and its sources say is shown with its control characters escaped.
    for e in &run.source_errors {
        let e = e.to_string();
        writeln!(
            err,
            "{}: {}",
            paint.wrap("31", "error"),
            crate::escape::control(&e)
        )?;
    }
    for note in &run.registry_notes {
        writeln!(err, "note: {}", crate::escape::control(&note.to_string()))?;
    }
    for note in &targets.inferred {
        writeln!(err, "{}", crate::escape::control(&note.to_string()))?;
    }
    Ok(())
}

/// What the placeholder findings say of their target accounts, from one pass over them: the
/// inferred targets to note, each
/// once in report order, and whether a placeholder has no known target.
pub(crate) struct PlaceholderTargets {
    /// `note: target account ...` lines.
    inferred: Vec<String>,
    pub(crate) missing: bool,
}

pub(crate) fn placeholder_targets(run: &Run) -> io::Result<PlaceholderTargets> {
    let mut targets = PlaceholderTargets {
        inferred: Vec::new(),
        missing: false,
    };
    if run.tally().of_rule("placeholder-account") == 0 {
        return Ok(targets);
    }
    let mut told = std::collections::BTreeSet::new();
    for f in run.findings() {
        if f.rule != "placeholder-account" {
            continue;
        }
        match run.resolved.accounts.target_for(&f.path) {
            Some(t) => {
                if matches!(t.origin, Origin::Inferred(_)) && told.insert(t.account.clone()) {
                    targets
                        .inferred
                        .push(format!("note: target account {} {}", t.account, t.origin));
                }
            }
            None => targets.missing = true,
        }
    }
    Ok(targets)
}

/// The side notes, then the fix plan with its refusals reported; `None` when fixing must stop
/// because a placeholder has no known replacement account.
pub(crate) fn plan_or_stop(
    run: &Run,
    choice: crate::fix::FixChoice,
    err: &mut dyn Write,
    paint: Paint,
) -> io::Result<Option<crate::fix::FixPlan>> {
    if !ready_to_fix(run, err, paint)? {
        return Ok(None);
    }
    let plan = plan_fixes(run, choice);
    for refused in &plan.refused {
        emit::text::file_error(err, refused, paint)?;
    }
    Ok(Some(plan))
}

/// The fixes the user opted into.
pub(crate) fn fix_choice(args: &FixArgs) -> crate::fix::FixChoice {
    crate::fix::FixChoice {
        unsafe_fixes: args.unsafe_fixes,
        add_missing_overrides: args.add_missing_overrides,
    }
}

/// The side notes; `false` when fixing must stop because a placeholder has no known
/// replacement account.
pub(crate) fn ready_to_fix(run: &Run, err: &mut dyn Write, paint: Paint) -> io::Result<bool> {
    let targets = placeholder_targets(run)?;
    report_side_notes(run, &targets, err, paint)?;
    if targets.missing {
        writeln!(
            err,
            "{}: {}",
            paint.wrap("31", "error"),
            run.resolved.accounts.missing_target_help()
        )?;
        return Ok(false);
    }
    Ok(true)
}

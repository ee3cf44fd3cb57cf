//! Runs a parsed command line: the glue between the CLI, the engine and the emitters. Returns
//! the exit status; `main` only maps a closed pipe and fatal errors.

use crate::cli::{CheckArgs, Cli, ColorChoice, Command, Common, FixArgs, Format};
use crate::emit::{self, Paint};
use crate::engine::{analyze, Run, RunError, RunOptions};
use crate::fix::{plan_fixes, write_file_with};
use crate::recipe::{Recipe, RecipeError};
use crate::resolve::Origin;
use crate::rules;
use std::io::{self, IsTerminal, Write};
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

pub fn run(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, AppError> {
    let paint_out = paint(cli.color, io::stdout().is_terminal());
    let paint_err = paint(cli.color, io::stderr().is_terminal());
    // --offline and the network limits, from the command line and the environment only.
    let offline = match &cli.command {
        Command::Check(args) => Some(args.common.offline),
        Command::Fix(args) => Some(args.common.offline),
        Command::Bulk(args) => Some(args.offline),
        _ => None,
    };
    if let Some(warning) = offline.and_then(crate::resolve::git::configure_network) {
        writeln!(err, "{}: {warning}", paint_err.wrap("33", "warning"))?;
    }
    match cli.command {
        Command::Check(args) => check(args, out, err, paint_out, paint_err),
        Command::Fix(args) => fix(args, out, err, paint_out, paint_err),
        Command::Bulk(args) => crate::bulk::run(args, out, err, paint_err),
        Command::Recipes { name } => recipes(name.as_deref(), out),
        Command::Rules => {
            for rule in rules::all() {
                let m = rule.meta();
                let fix = if m.fixable { "fix" } else { "   " };
                writeln!(
                    out,
                    "{:<24} {:<8} {fix}  {}",
                    m.id,
                    m.severity.as_str(),
                    m.summary
                )?;
            }
            Ok(EXIT_CLEAN)
        }
        Command::Explain { rule } => {
            if let Some(text) = crate::recipe::steps::explain(&rule) {
                writeln!(out, "{text}")?;
                return Ok(EXIT_CLEAN);
            }
            let rule = rules::find(&rule).ok_or(AppError::UnknownRule(rule))?;
            let m = rule.meta();
            writeln!(
                out,
                "{} ({})\n\n{}\n\n{}",
                m.id,
                m.severity.as_str(),
                m.summary,
                m.explanation
            )?;
            Ok(EXIT_CLEAN)
        }
    }
}

/// `manifix recipes`: the built-ins, or one of them in full.
fn recipes(name: Option<&str>, out: &mut dyn Write) -> Result<u8, AppError> {
    let Some(name) = name else {
        for (name, text) in crate::recipe::BUILTINS {
            let recipe = Recipe::outline(text, name)?;
            let params: Vec<String> = recipe
                .params
                .iter()
                .map(|p| {
                    if p.required {
                        format!("--set {}=...", p.name)
                    } else {
                        format!("[--set {}=...]", p.name)
                    }
                })
                .collect();
            writeln!(out, "{:<26} {}", recipe.name, recipe.description)?;
            if !params.is_empty() {
                writeln!(out, "{:<26} {}", "", params.join(" "))?;
            }
        }
        writeln!(
            out,
            "\n`manifix recipes NAME` prints one; a recipe file of your own works wherever a name does."
        )?;
        return Ok(EXIT_CLEAN);
    };
    let Some((_, text)) = crate::recipe::BUILTINS.iter().find(|(n, _)| *n == name) else {
        return Err(AppError::Usage(format!(
            "no built-in recipe named {name:?}; `manifix recipes` lists them"
        )));
    };
    write!(out, "{text}")?;
    Ok(EXIT_CLEAN)
}

fn paint(choice: ColorChoice, terminal: bool) -> Paint {
    let on = match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    };
    Paint { on }
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
            emit::escape::quote_path(&left.path),
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
            emit::escape::control(&e)
        )?;
    }
    for note in &run.registry_notes {
        writeln!(err, "note: {}", emit::escape::control(&note.to_string()))?;
    }
    for note in &targets.inferred {
        writeln!(err, "{}", emit::escape::control(&note.to_string()))?;
    }
    Ok(())
}

/// What the placeholder findings say of their target accounts, from one pass over them (the
/// findings are read back from the run's spill for it): the inferred targets to note, each
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
        let f = f?;
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

fn check(
    args: CheckArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
    paint_out: Paint,
    paint_err: Paint,
) -> Result<u8, AppError> {
    let opts = options(&args.common)?;
    let run = analyze(&opts)?;
    match args.format {
        Format::Sarif => {
            emit::sarif::report(out, &run, &opts.root)?;
            writeln!(out)?;
        }
        Format::Github => emit::github::report(out, &run)?,
        Format::Markdown => emit::markdown::report(out, &run)?,
        Format::Json => {
            emit::json::report(out, &run)?;
            writeln!(out)?;
        }
        Format::Text => {
            let targets = placeholder_targets(&run)?;
            report_side_notes(&run, &targets, err, paint_err)?;
            for f in run.findings() {
                emit::text::finding(out, &f.map_err(io::Error::from)?, paint_out)?;
            }
            if targets.missing {
                writeln!(err, "note: {}", run.resolved.accounts.missing_target_help())?;
            }
            writeln!(out, "{}", emit::text::run_summary(&run))?;
        }
    }
    Ok(if !run.errors.is_empty() || !run.source_errors.is_empty() {
        EXIT_ERROR
    } else if run.tally().errors > 0 {
        EXIT_FINDINGS
    } else {
        EXIT_CLEAN
    })
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

/// How many files `fix` plans before writing them.
const FIX_SLICE: usize = 512;

/// The side notes; `false` when fixing must stop because a placeholder has no known
/// replacement account.
fn ready_to_fix(run: &Run, err: &mut dyn Write, paint: Paint) -> io::Result<bool> {
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

pub(crate) fn fix_choice(args: &FixArgs) -> crate::fix::FixChoice {
    crate::fix::FixChoice {
        unsafe_fixes: args.unsafe_fixes,
        add_missing_overrides: args.add_missing_overrides,
    }
}

/// Removes the temporary files an interrupted `manifix fix` left (each file it was writing is
/// whole, old or new: the rename had not happened or had). One that cannot be removed stays
/// listed, and is warned about with the other side notes.
fn remove_leftovers(run: &mut Run, err: &mut dyn Write, paint: Paint) -> io::Result<()> {
    let mut kept = Vec::new();
    for left in std::mem::take(&mut run.leftovers) {
        match std::fs::remove_file(&left.abs) {
            Ok(()) => writeln!(
                err,
                "note: removed {}, a temporary file of a manifix fix that was interrupted (process {})",
                emit::escape::quote_path(&left.path),
                left.pid
            )?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                writeln!(
                    err,
                    "{}: {}: cannot remove this temporary file of an interrupted manifix fix: {e}",
                    emit::escape::quote_path(&left.path),
                    paint.wrap("31", "error")
                )?;
                kept.push(left);
            }
        }
    }
    run.leftovers = kept;
    Ok(())
}

fn fix(
    args: FixArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
    paint_out: Paint,
    paint_err: Paint,
) -> Result<u8, AppError> {
    if args.branch.is_some() {
        return crate::branch::fix_on_branch(args, out, err, paint_err);
    }
    let mut opts = options(&args.common)?;
    opts.require_image = args.require_image;
    let mut run = analyze(&opts)?;
    if !args.dry_run {
        remove_leftovers(&mut run, err, paint_err)?;
    }
    if !ready_to_fix(&run, err, paint_err)? {
        return Ok(EXIT_ERROR);
    }
    // Planned and written a slice of files at a time: new texts never pile up in memory.
    let mut plan = crate::fix::FixPlan::default();
    let mut files_planned = 0;
    let mut fixes_planned = 0;
    let mut write_failures = 0;
    // A file that could not be written fixed nothing: the summary counts what was written.
    let mut unwritten_fixes = 0;
    for part in crate::fix::plan_parts(&run, fix_choice(&args), FIX_SLICE) {
        for refused in &part.refused {
            emit::text::file_error(err, refused, paint_err)?;
        }
        for file in &part.files {
            if args.dry_run {
                let notes: Vec<(usize, String)> = file
                    .fixed
                    .iter()
                    .filter_map(|f| Some((f.line, f.fix.as_ref()?.detail.clone()?)))
                    .collect();
                let diff = emit::diff::unified(&file.path, &file.old, &file.new, paint_out, &notes);
                write!(out, "{diff}")?;
            } else if let Err(e) = write_file_with(file, args.break_hardlinks) {
                writeln!(
                    err,
                    "{}: {}",
                    paint_err.wrap("31", "error"),
                    emit::escape::control(&e.to_string())
                )?;
                write_failures += 1;
                unwritten_fixes += file.fixed.len();
            }
        }
        files_planned += part.files.len();
        fixes_planned += part.fixes();
        plan.held_back += part.held_back;
        plan.unfixable += part.unfixable;
        plan.refused.extend(part.refused);
    }
    let verb = if args.dry_run { "would fix" } else { "fixed" };
    let files_changed = files_planned - write_failures;
    let mut summary = format!(
        "{verb} {} in {}",
        emit::text::plural(fixes_planned - unwritten_fixes, "finding", "findings"),
        emit::text::plural(files_changed, "file", "files")
    );
    if plan.held_back > 0 {
        summary.push_str(&format!(
            "; {} held back (opt-in: --add-missing-overrides, --unsafe-fixes)",
            plan.held_back
        ));
    }
    if plan.unfixable > 0 {
        summary.push_str(&format!("; {} without an automatic fix", plan.unfixable));
    }
    if !plan.refused.is_empty() {
        summary.push_str(&format!(
            "; {} refused",
            emit::text::plural(plan.refused.len(), "file", "files")
        ));
    }
    // The diff is the dry run's output; the summary goes beside errors so a piped diff stays clean.
    if args.dry_run {
        writeln!(err, "{summary}")?;
    } else {
        writeln!(out, "{summary}")?;
    }
    Ok(
        if !run.errors.is_empty()
            || !run.source_errors.is_empty()
            || !plan.refused.is_empty()
            || write_failures > 0
        {
            EXIT_ERROR
        } else if args.exit_code && files_planned > 0 {
            EXIT_FINDINGS
        } else {
            EXIT_CLEAN
        },
    )
}

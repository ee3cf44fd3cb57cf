//! One run over a repository: read and parse every file, learn the accounts it names, run the
//! rules, and collect findings, errors and skipped files in a deterministic order.
//!
//! The list of files, and what is located in each, wait in the run's spill (`spill`, a
//! temporary file) rather than in memory (`files`): they are read back once for the
//! repository-wide passes (image uses, IRSA wiring, overlay accounts, the cluster's region),
//! which keep only what they need of them, and once more for the files' rules. Both passes
//! take the files a slice at a time. The findings of each file then wait in a second spill,
//! with the list of the files that have any, until the report or the fix reads them back
//! (`found`): memory holds only their counts.
//!
//! What the repository-wide passes need across files is kept in memory: the files the walk
//! finds, the kustomize graph, the IRSA rows and the overlay-account rows (about 0.45 KB per
//! file; bench/README.md).

use crate::config::{Config, Level};
use crate::discover::{discover, FileEntry, Steering};
use crate::finding::Severity;
use crate::locate::images::{missing_overrides, tag_uses, FileImages};
use crate::locate::irsa::{irsa_issues, IrsaFacts, IrsaRows};
use crate::locate::tags::TagPolicy;
use crate::locate::terraform::node_role_grants;
use crate::locate::Located;
use crate::resolve::account::AccountCensus;
use crate::resolve::git::{is_url, redact_url, GitResolver};
use crate::resolve::pins::{resolve_pins, Source};
use crate::resolve::{AccountResolver, Resolved};
use crate::rules::{self, FileInput};
use crate::text::LineIndex;
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod facts;
mod files;
mod found;
mod load;
pub(crate) mod spill;
mod uses;

use facts::{
    check_registry, cluster_region, overlay_accounts, overlay_rows, AccountUses, OverlayRows,
    RegionCounts, REQUIRE_IMAGE_DEPTH,
};
use files::FileList;
pub use found::{FileFindings, Findings, FindingsIter, Tally};
pub(crate) use load::parallel_map;
use load::parallel_map_mut;
use load::{load_all, Loaded};
pub use load::{read_again, MAX_FILE_BYTES};

/// How many files the repository-wide facts are read back for at a time (on every core).
const FACTS_SLICE: usize = 1024;

/// How many files are read and parsed at a time (on every core) before their results are
/// kept: enough that the cores rarely wait for the slowest file of a slice.
const LOAD_SLICE: usize = 4096;

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Paths in output are relative to this directory, and `manifix.yaml` is read from it.
    pub root: PathBuf,
    pub paths: Vec<PathBuf>,
    pub account: Option<String>,
    pub config_path: Option<PathBuf>,
    /// `--source GLOB=REPO` flags, in order.
    pub sources: Vec<String>,
    pub strict: bool,
    /// Where relative `sources[].repo` paths of the config are resolved, when not next to the
    /// config file (a run over a snapshot of HEAD resolves them in the real checkout).
    pub source_base: Option<PathBuf>,
    /// A recipe: only its rules run, its steps rewrite values, its paths scope the findings.
    pub recipe: Option<std::sync::Arc<crate::recipe::Recipe>>,
    /// `--registry`: check every rendered ECR image against the registry.
    pub registry: bool,
    /// `--require-image`: pin to the newest commit whose image the registry holds.
    pub require_image: bool,
    /// Files that steer the run besides its config (a recipe file), as they lie in the tree
    /// the run walks: never checked or edited by it.
    pub steering: Vec<PathBuf>,
}

pub use crate::finding::FileError;

/// A file passed over on purpose (templates, binary, non-UTF-8, links out of the root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedFile {
    pub path: String,
    pub reason: String,
    /// Skips that may hide a problem are warnings; templates are merely listed.
    pub warning: bool,
}

/// A YAML file as the run keeps it: only what rules and fixes can use, so that memory follows
/// what a repository holds to fix rather than its size. The run keeps its files in a spill
/// (`files`), not in memory: this is a file as a pass reads it back.
#[derive(Debug, Clone)]
pub struct Analyzed {
    pub entry: FileEntry,
    /// Whether anything in the file can be reported (it has relevant sites or is a
    /// kustomization): only such files are read again for the rules and for fixes.
    pub relevant: bool,
    /// A hash of the bytes read: a file read again must be the file analysed.
    pub hash: u64,
    /// The `# manifix: ...` comments, for suppressions (no other comment is kept). Emptied
    /// once the rules have run, like `located`.
    pub comments: Vec<crate::yaml::Comment>,
    /// The file's relevant sites and documents, kept out of memory until they are used
    /// (`spill`); emptied once the rules have run over the file.
    pub located: Held,
    /// The file's findings, kept out of memory until a report or a fix reads them
    /// (`Run::findings_of`).
    pub found: FileFindings,
}

/// A file's located facts: put away in the run's spill, or (when they could not be) here.
#[derive(Debug, Default, Clone)]
pub enum Held {
    /// None: the file has none, or they were used (rules ran) or lost. Not an empty `Here`,
    /// which would take an allocation in every file of a large run.
    #[default]
    None,
    /// Boxed: most files' facts are spilled, and the run holds a `Held` of every file.
    Here(Box<Located>),
    Spilled(spill::SpillRef),
}

/// The facts of a file that has none.
static NO_FACTS: Located = Located {
    sites: Vec::new(),
    docs: Vec::new(),
};

impl Held {
    /// The facts of the file at `path`, read back from `spill` when they were put there; when
    /// they cannot be, the file's error (it is then neither checked nor fixed).
    fn get<'a>(
        &'a self,
        spill: &spill::SpillReader,
        path: &str,
    ) -> Result<std::borrow::Cow<'a, Located>, FileError> {
        match self {
            Held::None => Ok(std::borrow::Cow::Borrowed(&NO_FACTS)),
            Held::Here(located) => Ok(std::borrow::Cow::Borrowed(located)),
            Held::Spilled(at) => {
                spill
                    .get(*at, path)
                    .map(std::borrow::Cow::Owned)
                    .map_err(|message| {
                        FileError::whole_file(path, format!("{message}: not checked or fixed"))
                    })
            }
        }
    }
}

/// A temporary file a killed `manifix fix` left beside the file it was writing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    pub path: String,
    pub abs: PathBuf,
    /// The process that wrote it, no longer running.
    pub pid: u32,
}

#[derive(Debug, Default)]
pub struct Run {
    /// The files that have findings, in path order (read through `Run::files_with_findings`).
    files: FileList,
    /// Read through `Run::findings`, `Run::findings_of` and `Run::tally`.
    findings: Findings,
    pub errors: Vec<FileError>,
    pub skipped: Vec<SkippedFile>,
    /// Temporary files of an interrupted `manifix fix`: `fix` removes them.
    pub leftovers: Vec<Leftover>,
    pub resolved: Resolved,
    pub files_checked: usize,
    /// Sources (git repositories) that could not be resolved: one line each.
    pub source_errors: Vec<String>,
    /// What the registry check did and could not do, one line each.
    pub registry_notes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Discover(#[from] crate::discover::DiscoverError),
    #[error("--account {0:?} is not an AWS account ID (12 digits)")]
    BadAccount(String),
    #[error("{0}")]
    BadSource(String),
    #[error("--require-image: {0}")]
    Registry(String),
    #[error("{0} files: more than one run can index (4294967295); check parts of the repository in turn")]
    TooManyFiles(usize),
}

pub fn analyze(opts: &RunOptions) -> Result<Run, RunError> {
    if let Some(a) = &opts.account {
        if !crate::config::is_account_id(a) {
            return Err(RunError::BadAccount(a.clone()));
        }
    }
    let config = match &opts.config_path {
        Some(p) => Config::load(p)?,
        None => Config::load_from_root(&opts.root)?,
    };
    let paths = if opts.paths.is_empty() {
        vec![opts.root.clone()]
    } else {
        opts.paths.clone()
    };
    let config_file = match &opts.config_path {
        Some(p) => p.clone(),
        None => opts.root.join(crate::config::CONFIG_FILE),
    };
    let steering: Vec<Steering> = std::iter::once((config_file.as_path(), "the config"))
        .chain(opts.steering.iter().map(|p| (p.as_path(), "the recipe")))
        .filter_map(|(path, what)| Steering::at(path, what))
        .collect();
    let discovered = discover(&opts.root, &paths, &steering)?;
    let mut run = Run {
        leftovers: discovered
            .leftovers
            .into_iter()
            .map(|(file, pid)| Leftover {
                abs: file.abs().into_owned(),
                path: file.rel,
                pid,
            })
            .collect(),
        ..Run::default()
    };
    for e in discovered.errors {
        run.errors.push(FileError::whole_file(&e.rel, e.reason));
    }
    for s in discovered.skipped {
        run.skipped.push(SkippedFile {
            path: s.rel,
            reason: s.reason,
            warning: s.warning,
        });
    }

    let mut census = AccountCensus::default();
    // The Terraform files that may grant the node role, with their texts (no other is kept).
    let mut terraform: Vec<(String, String)> = Vec::new();
    // Registry prefixes a recipe moves: values starting with them are kept wherever they are.
    let keep_prefixes: Vec<String> = opts
        .recipe
        .iter()
        .flat_map(|r| r.steps.iter())
        .filter_map(|s| match s {
            crate::recipe::Step::MoveRegistry { from, .. } => Some(from.clone()),
            _ => None,
        })
        .collect();
    let spill = spill::Spill::new();
    // The files go to the spill in slices as they are read: the repository's list of files
    // is never held in memory whole.
    let mut files = files::FileListWriter::new(FACTS_SLICE);
    // The kustomizations go to the graph as they are read.
    let mut graph = crate::locate::kustomize::GraphBuilder::default();
    // A slice at a time, each file's result going straight to its list: the results of
    // every file at once, before they are sorted into the lists, were a third of the peak
    // memory of a large run.
    let mut entries = discovered.files.entries();
    loop {
        let slice: Vec<_> = entries.by_ref().take(LOAD_SLICE).collect();
        if slice.is_empty() {
            break;
        }
        for loaded in load_all(slice, &keep_prefixes, &spill) {
            match loaded {
                Loaded::Yaml {
                    file,
                    accounts,
                    kustomization,
                } => {
                    for (account, line) in accounts {
                        census.record(&account, || format!("{}:{line}", file.entry.rel));
                    }
                    if let Some(kustomization) = kustomization {
                        graph.add(*kustomization);
                    }
                    files.push(*file, &spill);
                }
                Loaded::Terraform {
                    entry,
                    accounts,
                    text,
                    invalid,
                } => {
                    for (account, line) in accounts {
                        census.record(&account, || format!("{}:{line}", entry.rel));
                    }
                    if let Some(message) = invalid {
                        run.skipped
                            .push(terraform_not_read(entry.rel.clone(), &message));
                    }
                    if let Some(text) = text {
                        terraform.push((entry.rel, text));
                    }
                }
                Loaded::Skipped(s) => run.skipped.push(s),
                Loaded::Failed(e) => run.errors.push(e),
            }
        }
    }
    drop(entries);
    let files = files.finish(&spill);
    let spill = spill.finish();
    run.files_checked = files.len();
    // Files are named by 32-bit indexes in the repository-wide passes (`OverlayRow`).
    if u32::try_from(run.files_checked).is_err() {
        return Err(RunError::TooManyFiles(run.files_checked));
    }

    let recipe = opts.recipe.as_deref();
    let account = opts
        .account
        .as_deref()
        .or_else(|| recipe.and_then(|r| r.account()));
    let mut accounts = AccountResolver::new(&config, account);
    accounts.infer_from(&census);
    let mut sources = sources(&config, opts)?;
    if let Some(template) = recipe.and_then(|r| r.tag_template()) {
        for source in sources.iter_mut().filter(|s| s.template.is_none()) {
            source.template = Some(template.to_string());
        }
    }
    let policy = TagPolicy::new(&config.tags.mutable)
        .map_err(|e| RunError::BadSource(format!("tags.mutable in manifix.yaml: {e}")))?;
    let graph = graph.finish();
    // Each file's facts are read back once for the repository-wide passes, and what those
    // need of it is kept: its images judged against the graph, its IRSA wiring, the accounts
    // it names. On every core. The image tag uses go to a spill of their own, a part per
    // slice of files (`uses`).
    let uses_spill = spill::Spill::new();
    let mut images = uses::UseList::default();
    let mut missing = Vec::new();
    // Only of the files that have any (most files have none).
    let mut irsa_rows = IrsaRows::default();
    // The overlay-account rows.
    let mut overlay_sort = OverlayRows::default();
    let mut region_counts = RegionCounts::new();
    // Files whose facts could not be read back (by index), and slices of the list of files
    // that could not be (by their first file's index): neither checked nor fixed, even if
    // they read back later, since the repository-wide facts lack them.
    let mut lost = Vec::new();
    let mut lost_slices = Vec::new();
    // A slice of files at a time: the results of every file at once, before they are sorted
    // into the lists above, would be a large part of the peak memory of a large run.
    for (first_index, slice) in files.slices(Some(&spill)) {
        let slice = match slice {
            Ok(slice) => slice,
            Err(error) => {
                run.errors.push(error);
                lost_slices.push(first_index);
                // A part for every slice, so that the rules find each slice's part.
                images.push(Vec::new(), &uses_spill);
                continue;
            }
        };
        let per_file = parallel_map(&slice, |f| {
            let located = f.located.get(&spill, &f.entry.rel)?;
            // One copy of the path for every fact of the file that names it.
            let path: Arc<str> = Arc::from(f.entry.rel.as_str());
            let chains = graph.chains_for(&path);
            let file = FileImages {
                path: &path,
                located: &located,
                chains: &chains,
            };
            let one = std::slice::from_ref(&file);
            let accounts = AccountUses::of(&located, &accounts);
            let uses = tag_uses(one, &graph, &policy);
            let missing_here = missing_overrides(one);
            let rows = overlay_rows(&path, &chains, &accounts.real, &graph);
            // The chains go with the IRSA facts, to make their rows.
            let irsa = IrsaFacts::of(&located).map(|facts| (facts, chains));
            Ok::<_, FileError>((uses, missing_here, irsa, rows, accounts.ecr_regions, path))
        });
        let mut slice_uses = Vec::with_capacity(
            per_file
                .iter()
                .map(|r| r.as_ref().map_or(0, |(uses, ..)| uses.len()))
                .sum(),
        );
        for (offset, facts) in per_file.into_iter().enumerate() {
            match facts {
                Ok((uses, missing_here, irsa, rows, ecr_regions, path)) => {
                    slice_uses.extend(uses);
                    missing.extend(missing_here);
                    // Fewer than four billion files (checked after the load).
                    let index = (first_index + offset) as u32;
                    if let Some((facts, chains)) = irsa {
                        irsa_rows.add(&path, index, facts, &chains);
                    }
                    overlay_sort.add(index, rows);
                    for region in ecr_regions {
                        *region_counts.entry(region).or_default() += 1;
                    }
                }
                Err(error) => {
                    run.errors.push(error);
                    // Nothing is reported or fixed in a file whose facts are lost.
                    lost.push(first_index + offset);
                }
            }
        }
        // The rules look up a file's uses by path (resolve::for_path). They come in the
        // files' order, which is by path: checked, rather than sorted with the buffer a
        // stable sort takes.
        if !slice_uses.is_sorted_by(|a, b| a.path <= b.path) {
            slice_uses.sort_by(|a, b| a.path.cmp(&b.path));
        }
        images.push(slice_uses, &uses_spill);
    }
    let images_reader = uses_spill.finish();
    let all_uses = || images.iter(&images_reader);
    let missing_overrides = crate::locate::images::settle_missing_overrides(missing);
    // The registry is only reached when asked, and only when an ECR image is there to check.
    let mut registry: Option<Box<dyn crate::resolve::registry::Registry>> = None;
    let repo_of =
        |u: &crate::locate::images::TagUse| crate::resolve::registry::fixed_repo(u, &accounts);
    let needs_walk = opts.require_image
        && all_uses().any(|u| {
            matches!(
                u.kind,
                crate::locate::tags::TagKind::Mutable | crate::locate::tags::TagKind::Missing
            ) && repo_of(&u).is_some()
        });
    if needs_walk {
        registry = Some(crate::resolve::registry::connect().map_err(RunError::Registry)?);
    }
    let require = registry
        .as_deref()
        .map(|r| crate::resolve::pins::RequireImage {
            registry: r,
            repo_of: &repo_of,
            depth: REQUIRE_IMAGE_DEPTH,
        });
    // Four independent repository-wide passes: two on threads of their own, so that they
    // keep both cores busy between the parallel reading and rule phases.
    let (pins, cluster_region, overlay_accounts, irsa) = std::thread::scope(|scope| {
        let irsa = scope.spawn(move || irsa_issues(irsa_rows));
        let overlays = scope.spawn(move || overlay_accounts(overlay_sort));
        // Pins stay on this thread: the registry client they may ask need not be shareable.
        let pins = resolve_pins(
            all_uses,
            &sources,
            &GitResolver::default(),
            require.as_ref(),
        );
        let region = cluster_region(&config, &region_counts);
        (pins, region, joined(overlays), joined(irsa))
    });
    let mut overlay_accounts = overlay_accounts;
    // The odd files out by index, now by path: only theirs are read back.
    let indexes: Vec<u32> = overlay_accounts.keys().copied().collect();
    let overlay_accounts: std::collections::BTreeMap<String, Vec<(String, String)>> = files
        .paths_at(Some(&spill), &indexes)
        .into_iter()
        .filter_map(|(index, path)| Some((path, overlay_accounts.remove(&index)?)))
        .collect();
    run.source_errors = pins.source_errors.clone();
    let (node_role, tf_errors) = node_role_grants(&terraform);
    for e in tf_errors {
        run.skipped.push(terraform_not_read(e.path, &e.message));
    }
    run.resolved = Resolved {
        accounts,
        missing_overrides,
        cluster_region,
        overlay_accounts,
        irsa,
        node_role,
        pins,
        strict: opts.strict,
        registry: None,
        graph,
    };
    if opts.registry || opts.require_image {
        check_registry(&mut run, registry, all_uses())?;
    }

    // With a recipe, a rule runs only when the recipe names it.
    let level_of = |id: &str| match recipe {
        Some(r) if !r.runs_rule(id) => Some(Level::Allow),
        _ => config.rules.get(id).copied(),
    };
    let in_scope = |path: &str| recipe.is_none_or(|r| r.covers(path));
    let resolved = &run.resolved;
    // Each file's findings are put away by the worker that made them (sorted and written in
    // their byte form on every core, not one by one after each slice).
    let kept = found::FindingsWriter::new();
    // `uses` are the tag uses of the file's slice.
    let check_file = |file: &mut Analyzed, uses: &[crate::locate::images::TagUse]| {
        // What the rules read of a file is not needed after them (fixes read and parse the
        // file again): dropped as each file is done, so the findings take its place rather
        // than adding to it.
        let located = std::mem::take(&mut file.located);
        let comments = std::mem::take(&mut file.comments);
        if !file.relevant || !in_scope(&file.entry.rel) {
            return Ok(FileFindings::None);
        }
        let located = located.get(&spill, &file.entry.rel)?;
        // Read again only if a finding needs the text to be placed (most are placed from
        // where their site was noted to be): then checked to be the file analysed.
        let file = &*file;
        let text = crate::text::LazyText::new(|| read_again(file));
        let input = FileInput {
            path: &file.entry.rel,
            text: &text,
            located: &located,
            uses: crate::resolve::for_path(uses, &file.entry.rel, |u| &u.path),
        };
        let mut found = Vec::new();
        for rule in rules::all() {
            let level = level_of(rule.meta().id);
            if level == Some(Level::Allow) {
                continue;
            }
            for mut finding in rule.check(&input, resolved) {
                finding.severity = match level {
                    Some(Level::Warn) => Severity::Warning,
                    Some(Level::Deny) => Severity::Error,
                    _ => finding.severity,
                };
                found.push(finding);
            }
        }
        if let Some(recipe) = recipe {
            found.extend(crate::recipe::steps::step_findings(recipe, &input));
        }
        let lines = std::cell::OnceCell::new();
        let index = || {
            lines
                .get_or_init(|| text.get().map(LineIndex::new))
                .as_ref()
        };
        let place = located.placer();
        for finding in &mut found {
            let at = finding.range.start;
            let placed = place(at);
            (finding.line, finding.column) = placed
                .or_else(|| Some(index()?.line_col(at)))
                .unwrap_or((1, 1));
        }
        if !comments.is_empty() {
            if let Some(lines) = index() {
                found.retain(|f| !suppressed(&comments, lines, f.rule, f.line));
            }
        }
        // A file that had to be read again and was no longer the file analysed reports that
        // instead of its findings.
        match text.into_error() {
            Some(e) => Err(e),
            None => Ok(kept.keep(found)),
        }
    };
    // A slice of files at a time, like the facts above. Only the files with findings are
    // kept after it, in a list of their own: reports and fixes need no other.
    let mut with_findings = files::FileListWriter::new(FACTS_SLICE);
    for (slice_number, (first_index, slice)) in files.slices(Some(&spill)).enumerate() {
        if lost_slices.contains(&first_index) {
            continue;
        }
        let mut slice = match slice {
            Ok(slice) => slice,
            Err(error) => {
                run.errors.push(error);
                continue;
            }
        };
        // The slice's tag uses: without them its files are not checked.
        let slice_uses = match images.part(slice_number, &images_reader) {
            Ok(uses) => uses,
            Err(message) => {
                let first = slice.first().map_or("", |f| f.entry.rel.as_str());
                run.errors
                    .push(files::slice_not_checked(first, slice.len(), &message));
                continue;
            }
        };
        for &index in &lost {
            if let Some(file) = index
                .checked_sub(first_index)
                .and_then(|i| slice.get_mut(i))
            {
                file.relevant = false;
                file.located = Held::None;
            }
        }
        let per_file = parallel_map_mut(&mut slice, |file| check_file(file, &slice_uses));
        for (mut file, result) in slice.into_iter().zip(per_file) {
            match result {
                Ok(FileFindings::None) => {}
                Ok(found) => {
                    file.found = found;
                    with_findings.push(file, kept.spill());
                }
                Err(e) => run.errors.push(e),
            }
        }
    }
    drop(spill);
    run.files = with_findings.finish(kept.spill());
    let mut others = Vec::new();
    for rule in rules::all() {
        let level = level_of(rule.meta().id);
        if level == Some(Level::Allow) {
            continue;
        }
        for mut finding in rule.check_repo(&run.resolved) {
            let Some((_, text)) = terraform.iter().find(|(p, _)| *p == finding.path) else {
                continue;
            };
            if !in_scope(&finding.path) {
                continue;
            }
            (finding.line, finding.column) = LineIndex::new(text).line_col(finding.range.start);
            if level == Some(Level::Warn) && finding.severity == Severity::Error {
                finding.severity = Severity::Warning;
            }
            others.push(finding);
        }
    }
    run.findings = kept.finish(others);
    run.errors.sort_by(|a, b| a.path.cmp(&b.path));
    run.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(run)
}

/// Terraform is only read for context: a file the parser cannot read is passed over, and
/// said so.
fn terraform_not_read(path: String, message: &str) -> SkippedFile {
    SkippedFile {
        path,
        reason: format!("{message}; its IAM policies were not checked"),
        warning: true,
    }
}

/// A scoped thread's result; its panic, if it panicked, goes on in the caller.
fn joined<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Sources from `--source` flags (paths relative to the working directory) and then from
/// `manifix.yaml` (paths relative to the file).
fn sources(config: &Config, opts: &RunOptions) -> Result<Vec<Source>, RunError> {
    let mut out = Vec::new();
    for flag in &opts.sources {
        // A URL in the flag may carry a token: messages show it redacted.
        let (glob, repo) = flag.split_once('=').ok_or_else(|| {
            RunError::BadSource(format!(
                "--source {:?}: expected GLOB=PATH_OR_URL, e.g. '*/my-app/*=../my-app'",
                redact_url(flag)
            ))
        })?;
        let shown = format!("{glob}={}", redact_url(repo));
        let repo = absolute_repo(repo, Path::new("."));
        out.push(
            Source::new(glob, repo, None, None, "--source".into())
                .map_err(|e| RunError::BadSource(format!("--source {shown:?}: {e}")))?,
        );
    }
    let config_dir = match (&opts.source_base, &opts.config_path) {
        (Some(base), _) => base.clone(),
        (None, Some(p)) => p.parent().map(Path::to_path_buf).unwrap_or_default(),
        (None, None) => opts.root.clone(),
    };
    for (i, s) in config.sources.iter().enumerate() {
        let repo = absolute_repo(&s.repo, &config_dir);
        let declared = format!("sources[{i}] in manifix.yaml");
        out.push(
            Source::new(
                &s.image,
                repo,
                s.branch.clone(),
                s.tag.clone(),
                declared.clone(),
            )
            .map_err(|e| RunError::BadSource(format!("{declared}: {e}")))?,
        );
    }
    Ok(out)
}

fn absolute_repo(repo: &str, base: &Path) -> String {
    if is_url(repo) || Path::new(repo).is_absolute() {
        return repo.to_string();
    }
    let joined = base.join(repo);
    joined
        .canonicalize()
        .unwrap_or(joined)
        .to_string_lossy()
        .into_owned()
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

#[cfg(test)]
mod tests {
    use super::*;

    const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: nginx:latest\n";

    /// A run over `names`, each a Deployment with a mutable tag.
    fn run_over(names: &[&str]) -> Run {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in names {
            std::fs::write(dir.path().join(name), DEPLOYMENT).expect("write");
        }
        run_in(dir.path())
    }

    fn run_in(root: &Path) -> Run {
        analyze(&RunOptions {
            root: root.to_path_buf(),
            ..RunOptions::default()
        })
        .expect("run")
    }

    /// The run's one error, whose message says all of `words`.
    fn only_error<'a>(run: &'a Run, words: &[&str]) -> &'a FileError {
        assert_eq!(run.errors.len(), 1, "{:?}", run.errors);
        let error = &run.errors[0];
        for word in words {
            assert!(error.message.contains(word), "{word:?}: {}", error.message);
        }
        error
    }

    fn finding_paths(run: &Run) -> Vec<String> {
        run.findings().map(|f| f.expect("read back").path).collect()
    }

    #[test]
    fn every_file_is_checked_through_the_spilled_list() {
        let run = run_over(&["a.yaml", "b.yaml"]);
        assert!(run.errors.is_empty(), "{:?}", run.errors);
        assert_eq!(run.files_checked, 2);
        let paths = finding_paths(&run);
        assert!(paths.contains(&"a.yaml".into()) && paths.contains(&"b.yaml".into()));
        let with_findings: Vec<String> = run
            .files_with_findings()
            .flat_map(|s| s.expect("read back"))
            .map(|f| f.entry.rel)
            .collect();
        assert_eq!(with_findings, ["a.yaml", "b.yaml"]);
    }

    /// A file whose facts come back damaged is an error, and nothing is reported of it; the
    /// other files are checked.
    #[test]
    fn a_file_whose_facts_are_lost_is_an_error_and_not_checked() {
        let run = run_over(&["a.yaml", "b-facts-damaged-by-test.yaml", "c.yaml"]);
        let error = only_error(&run, &["facts", "not checked or fixed"]);
        assert_eq!(error.path, "b-facts-damaged-by-test.yaml");
        let paths = finding_paths(&run);
        assert!(paths.contains(&"a.yaml".into()) && paths.contains(&"c.yaml".into()));
        assert!(!paths.iter().any(|p| p.contains("damaged")), "{paths:?}");
    }

    /// A slice of the list of files that comes back damaged is one error, naming its first
    /// file, reported once; none of its files is checked.
    #[test]
    fn a_slice_of_the_list_that_is_lost_is_one_error_and_not_checked() {
        let run = run_over(&["a-list-damaged-by-test.yaml", "b.yaml", "c.yaml"]);
        let error = only_error(&run, &["nor the 2 after it"]);
        assert_eq!(error.path, "a-list-damaged-by-test.yaml");
        assert!(finding_paths(&run).is_empty());
        assert_eq!(run.tally().total, 0);
    }

    /// The files of a render root that name an account other than the rest of it are found
    /// whichever slice of the list of files they are in (the pass merges its rows slice by
    /// slice, and reads back only the paths of the files it reports).
    #[test]
    fn odd_accounts_of_a_root_are_found_across_slices_of_the_list() {
        let dir = tempfile::tempdir().expect("tempdir");
        let app = dir.path().join("app");
        std::fs::create_dir(&app).expect("mkdir");
        let count = FACTS_SLICE + 100;
        let mut resources = String::from("resources:\n");
        for i in 0..count {
            let account = if i == 5 || i == count - 10 {
                "210987654321"
            } else {
                "465002806239"
            };
            let image = format!("{account}.dkr.ecr.ap-southeast-2.amazonaws.com/a:v1.0.0");
            std::fs::write(
                app.join(format!("f{i:04}.yaml")),
                DEPLOYMENT.replace("nginx:latest", &image),
            )
            .expect("write");
            resources.push_str(&format!("  - f{i:04}.yaml\n"));
        }
        std::fs::write(app.join("kustomization.yaml"), resources).expect("write");
        let run = run_in(dir.path());
        assert!(run.errors.is_empty(), "{:?}", run.errors);
        let odd: Vec<(String, String)> = run
            .findings()
            .map(|f| f.expect("read back"))
            .filter(|f| f.rule == "account-mismatch")
            .map(|f| (f.path, f.message))
            .collect();
        let paths: Vec<&str> = odd.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            ["app/f0005.yaml", &format!("app/f{:04}.yaml", count - 10)]
        );
        for (_, message) in &odd {
            assert!(
                message.contains("the rest of overlay app uses account 465002806239"),
                "{message}"
            );
        }
    }
}

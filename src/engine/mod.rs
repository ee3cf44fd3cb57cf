//! One run over a repository: read and parse every file, learn the accounts it names, run the
//! rules, and collect findings, errors and skipped files in a deterministic order.
//!
//! A run has two phases over its files, both in memory: the index phase (`load`, then
//! `index`) reads every file once and builds the repository-wide facts (the kustomize graph,
//! tag uses, IRSA rows, overlay accounts, the cluster's region); the resolvers then fill
//! `Resolved`; the check phase (`check`) runs the rules. What was located in each file is
//! kept while a fixed budget lasts (`files`): past it, a pass locates it again from the file.

use crate::config::{Config, Level};
use crate::discover::{discover, Steering};
use crate::locate::tags::TagPolicy;
use crate::locate::terraform::node_role_grants;
use crate::resolve::git::{is_url, redact_url, GitResolver};
use crate::resolve::pins::{resolve_pins, Source};
use crate::resolve::{AccountResolver, Resolved};
use crate::rules::judges::{judge_irsa, judge_missing_overrides, judge_overlays};
use std::path::{Path, PathBuf};

mod check;
mod facts;
mod files;
mod found;
mod index;
mod load;

use facts::{check_registry, cluster_region, REQUIRE_IMAGE_DEPTH};
pub use files::{read_again, Analyzed};
use found::Findings;
pub use found::Tally;
use load::load_files;
pub(crate) use load::parallel_map;
pub use load::MAX_FILE_BYTES;

/// The most files one run checks: past it, a run stops with an error before reading them
/// rather than using more memory than a CI machine has (about 0.7 KB a file, besides the
/// facts kept; bench/README.md). A repository that large is checked a part at a time.
pub const MAX_FILES: usize = 1_000_000;

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
    /// Read through `Run::findings`, `Run::files_with_findings` and `Run::tally`.
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
    #[error("{0} files to check: more than one run checks ({1}); check parts of the repository in turn (`manifix check apps/ clusters/`, say)")]
    TooManyFiles(usize, usize),
}

/// How far a run goes before it stops or lets go of what it holds: `analyze` takes the
/// defaults; the tests of those limits set them low.
#[derive(Debug, Clone, Copy)]
struct Limits {
    /// Bytes of located facts kept in memory (`files::Budget`).
    facts_budget: usize,
    max_files: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            facts_budget: files::FACTS_BUDGET,
            max_files: MAX_FILES,
        }
    }
}

pub fn analyze(opts: &RunOptions) -> Result<Run, RunError> {
    analyze_with(opts, Limits::default())
}

fn analyze_with(opts: &RunOptions, limits: Limits) -> Result<Run, RunError> {
    if let Some(a) = &opts.account {
        if !crate::config::is_account_id(a) {
            return Err(RunError::BadAccount(a.clone()));
        }
    }
    let config = match &opts.config_path {
        Some(p) => Config::load(p)?,
        None => Config::load_from_root(&opts.root)?,
    };
    let (mut run, entries) = discover_files(opts, limits.max_files)?;
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

    // The index phase: every file read once, then the repository-wide facts.
    let repository = load_files(entries, &keep_prefixes, limits.facts_budget, &mut run);
    run.files_checked = repository.files.len();
    let recipe = opts.recipe.as_deref();
    let account = opts
        .account
        .as_deref()
        .or_else(|| recipe.and_then(|r| r.account()));
    let mut accounts = AccountResolver::new(&config, account);
    accounts.infer_from(&repository.census);
    let mut sources = sources(&config, opts)?;
    if let Some(template) = recipe.and_then(|r| r.tag_template()) {
        for source in sources.iter_mut().filter(|s| s.template.is_none()) {
            source.template = Some(template.to_string());
        }
    }
    let policy = TagPolicy::new(&config.tags.mutable)
        .map_err(|e| RunError::BadSource(format!("tags.mutable in manifix.yaml: {e}")))?;
    let graph = repository.graph;
    let files = repository.files;
    let index = index::index(
        &files,
        &graph,
        &accounts,
        &policy,
        &keep_prefixes,
        index::WantedUses {
            all: opts.registry || opts.require_image,
            semver: opts.strict,
            template_examples: sources.iter().any(|s| s.template.is_none()),
            examples: Default::default(),
        },
        &mut run.errors,
    );
    let uses = index.uses;
    let missing_overrides = judge_missing_overrides(index.missing);

    // The resolvers. The registry is only reached when asked, and only when an ECR image is
    // there to check.
    let mut registry: Option<Box<dyn crate::resolve::registry::Registry>> = None;
    let repo_of =
        |u: &crate::locate::images::TagUse| crate::resolve::registry::fixed_repo(u, &accounts);
    let needs_walk = opts.require_image
        && uses.iter().any(|u| {
            matches!(
                u.kind,
                crate::locate::tags::TagKind::Mutable | crate::locate::tags::TagKind::Missing
            ) && repo_of(u).is_some()
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
    let (irsa_rows, overlay_rows, region_counts) =
        (index.irsa_rows, index.overlay_rows, index.region_counts);
    // Four independent repository-wide passes: two on threads of their own, so that they
    // keep both cores busy between the parallel index and check phases.
    let (pins, cluster_region, overlay_accounts, irsa) = std::thread::scope(|scope| {
        let irsa = scope.spawn(move || judge_irsa(irsa_rows));
        let overlays = scope.spawn(move || judge_overlays(overlay_rows));
        // Pins stay on this thread: the registry client they may ask need not be shareable.
        let pins = resolve_pins(&uses, &sources, &GitResolver::default(), require.as_ref());
        let region = cluster_region(&config, &region_counts);
        (pins, region, joined(overlays), joined(irsa))
    });
    // The odd files out, by path.
    let overlay_accounts = overlay_accounts
        .into_iter()
        .filter_map(|(index, odd)| Some((files.get(index as usize)?.entry.rel.clone(), odd)))
        .collect();
    run.source_errors = pins.source_errors.clone();
    let (node_role, tf_errors) = node_role_grants(&repository.terraform);
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
        check_registry(&mut run, registry, &uses)?;
    }

    // The check phase. With a recipe, a rule runs only when the recipe names it.
    let level_of = |id: &str| match recipe {
        Some(r) if !r.runs_rule(id) => Some(Level::Allow),
        _ => config.rules.get(id).copied(),
    };
    let in_scope = |path: &str| recipe.is_none_or(|r| r.covers(path));
    let mut errors = std::mem::take(&mut run.errors);
    let checking = check::Checking {
        resolved: &run.resolved,
        uses: &uses,
        recipe,
        level_of: &level_of,
        in_scope: &in_scope,
        keep_prefixes: &keep_prefixes,
    };
    let with_findings = check::check_files(files, &index.lost, &checking, &mut errors);
    let others = check::check_repository(&repository.terraform, &checking);
    run.findings = Findings::new(with_findings, others);
    run.errors = errors;
    run.errors.sort_by(|a, b| a.path.cmp(&b.path));
    run.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(run)
}

/// The walk: the run with what it found besides files to read (leftovers, errors, skipped
/// files), and the files to read, in path order.
fn discover_files(
    opts: &RunOptions,
    max_files: usize,
) -> Result<(Run, std::vec::IntoIter<crate::discover::FileEntry>), RunError> {
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
    let entries = discovered.files.entries();
    if entries.len() > max_files {
        return Err(RunError::TooManyFiles(entries.len(), max_files));
    }
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
    Ok((run, entries))
}

/// Terraform is only read for context: a file the parser cannot read is passed over, and
/// said so.
pub(super) fn terraform_not_read(path: String, message: &str) -> SkippedFile {
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

    fn finding_paths(run: &Run) -> Vec<String> {
        run.findings().map(|f| f.path.clone()).collect()
    }

    fn shown(run: &Run) -> Vec<String> {
        run.findings()
            .map(|f| {
                format!(
                    "{}:{}:{} {} {}",
                    f.path, f.line, f.column, f.rule, f.message
                )
            })
            .collect()
    }

    #[test]
    fn every_file_is_checked_and_its_findings_kept_with_it() {
        let run = run_over(&["a.yaml", "b.yaml"]);
        assert!(run.errors.is_empty(), "{:?}", run.errors);
        assert_eq!(run.files_checked, 2);
        let paths = finding_paths(&run);
        assert!(paths.contains(&"a.yaml".into()) && paths.contains(&"b.yaml".into()));
        let with_findings: Vec<&str> = run
            .files_with_findings()
            .iter()
            .map(|f| f.entry.rel.as_str())
            .collect();
        assert_eq!(with_findings, ["a.yaml", "b.yaml"]);
        assert_eq!(run.tally().total, run.findings().count());
    }

    /// Files past the facts budget are located again from their text in each pass: the run
    /// finds exactly what a run that kept every file's facts finds, the cross-file findings
    /// included.
    #[test]
    fn files_past_the_facts_budget_are_checked_alike() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("base")).expect("mkdir");
        std::fs::create_dir_all(root.join("prod")).expect("mkdir");
        std::fs::write(
            root.join("base/deploy.yaml"),
            DEPLOYMENT.replace(
                "nginx:latest",
                "123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/web:main-latest",
            ),
        )
        .expect("write");
        std::fs::write(
            root.join("base/kustomization.yaml"),
            "resources:\n  - deploy.yaml\n",
        )
        .expect("write");
        std::fs::write(
            root.join("prod/kustomization.yaml"),
            "resources:\n  - ../base\npatches:\n  - patch: |-\n      apiVersion: v1\n      kind: ServiceAccount\n      metadata:\n        name: web\n        annotations:\n          eks.amazonaws.com/role-arn: arn:aws:iam::123456789012:role/web\n",
        )
        .expect("write");
        std::fs::write(root.join("other.yaml"), DEPLOYMENT).expect("write");
        let opts = RunOptions {
            root: root.to_path_buf(),
            account: Some("465002806239".into()),
            ..RunOptions::default()
        };
        let kept = analyze(&opts).expect("run");
        let located_again = analyze_with(
            &opts,
            Limits {
                facts_budget: 0,
                ..Limits::default()
            },
        )
        .expect("run");
        assert!(kept.errors.is_empty(), "{:?}", kept.errors);
        assert!(
            located_again.errors.is_empty(),
            "{:?}",
            located_again.errors
        );
        assert!(shown(&kept).len() >= 4, "{:?}", shown(&kept));
        assert_eq!(shown(&kept), shown(&located_again));
    }

    /// A run over more files than `max_files` stops before reading them, saying how to go on.
    #[test]
    fn too_many_files_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in ["a.yaml", "b.yaml", "c.yaml"] {
            std::fs::write(dir.path().join(name), DEPLOYMENT).expect("write");
        }
        let opts = RunOptions {
            root: dir.path().to_path_buf(),
            ..RunOptions::default()
        };
        let limits = Limits {
            max_files: 2,
            ..Limits::default()
        };
        let error = analyze_with(&opts, limits)
            .expect_err("too many")
            .to_string();
        assert!(error.starts_with("3 files to check"), "{error}");
        assert!(
            error.contains("check parts of the repository in turn"),
            "{error}"
        );
        assert!(analyze_with(
            &opts,
            Limits {
                max_files: 3,
                ..limits
            }
        )
        .is_ok());
    }

    /// The files of a render root that name an account other than the rest of it are found
    /// whichever slice of the index phase they are in (the pass merges its rows slice by
    /// slice).
    #[test]
    fn odd_accounts_of_a_root_are_found_across_slices_of_the_list() {
        let dir = tempfile::tempdir().expect("tempdir");
        let app = dir.path().join("app");
        std::fs::create_dir(&app).expect("mkdir");
        let count = 1024 + 100;
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
            .filter(|f| f.rule == "account-mismatch")
            .map(|f| (f.path.clone(), f.message.clone()))
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

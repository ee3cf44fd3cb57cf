//! One run over a repository: read and parse every file, learn the accounts it names, run the
//! rules, and collect findings, errors and skipped files in a deterministic order.

use crate::config::{Config, Level};
use crate::discover::{discover, FileEntry, FileKind};
use crate::finding::{Finding, Severity};
use crate::locate::aws::find_accounts;
use crate::locate::images::{missing_overrides, tag_uses, FileImages};
use crate::locate::irsa::irsa_issues;
use crate::locate::kustomize::Graph;
use crate::locate::tags::TagPolicy;
use crate::locate::terraform::node_role_grants;
use crate::locate::{locate_relevant, Located};
use crate::resolve::account::{accounts_in_terraform, AccountCensus};
use crate::resolve::git::{is_url, redact_url, GitResolver};
use crate::resolve::pins::{resolve_pins, Source};
use crate::resolve::{AccountResolver, Resolved};
use crate::rules::{self, FileInput};
use crate::text::LineIndex;
use crate::yaml::parse;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

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
}

/// A file that could not be handled: reported with its position, left untouched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// A file passed over on purpose (templates, binary, non-UTF-8, links out of the root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedFile {
    pub path: String,
    pub reason: String,
    /// Skips that may hide a problem are warnings; templates are merely listed.
    pub warning: bool,
}

/// A YAML file as the run keeps it: only what rules and fixes can use, so that memory follows
/// what a repository holds to fix rather than its size.
#[derive(Debug)]
pub struct Analyzed {
    pub entry: FileEntry,
    /// Whether anything in the file can be reported (it has relevant sites or is a
    /// kustomization): only such files are read again for the rules and for fixes.
    pub relevant: bool,
    /// A hash of the bytes read: a file read again must be the file analysed.
    pub hash: u64,
    /// For kustomization files, what the graph needs of them (taken when the graph is built);
    /// no parse is kept: the fix stage parses a file again.
    pub kustomization: Option<Box<crate::locate::kustomize::Kustomization>>,
    /// The `# manifix: ...` comments, for suppressions (no other comment is kept).
    pub comments: Vec<crate::yaml::Comment>,
    pub located: Located,
}

#[derive(Debug, Default)]
pub struct Run {
    pub files: Vec<Analyzed>,
    pub findings: Vec<Finding>,
    pub errors: Vec<FileError>,
    pub skipped: Vec<SkippedFile>,
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
}

enum Loaded {
    /// The file, and each account it names with the line where it first does.
    Yaml(Box<Analyzed>, Vec<(String, usize)>),
    Terraform(FileEntry, String),
    Skipped(SkippedFile),
    Failed(FileError),
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
    let discovered = discover(&opts.root, &paths)?;
    let mut run = Run::default();
    for s in discovered.skipped {
        run.skipped.push(SkippedFile {
            path: s.rel,
            reason: s.reason,
            warning: true,
        });
    }

    let mut census = AccountCensus::default();
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
    let loaded_all = load_all(discovered.files, &keep_prefixes);
    run.files.reserve_exact(loaded_all.len());
    for loaded in loaded_all {
        match loaded {
            Loaded::Yaml(file, accounts) => {
                for (account, line) in accounts {
                    census.record(&account, || format!("{}:{line}", file.entry.rel));
                }
                run.files.push(*file);
            }
            Loaded::Terraform(entry, text) => {
                let lines = LineIndex::new(&text);
                for (account, at) in accounts_in_terraform(&text) {
                    census.record(&account, || {
                        format!("{}:{}", entry.rel, lines.line_col(at).0)
                    });
                }
                terraform.push((entry.rel.clone(), text));
            }
            Loaded::Skipped(s) => run.skipped.push(s),
            Loaded::Failed(e) => run.errors.push(e),
        }
    }
    run.files_checked = run.files.len();

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
    let graph = Graph::from_kustomizations(
        run.files
            .iter_mut()
            .filter_map(|f| f.kustomization.take().map(|k| *k))
            .collect::<Vec<_>>(),
    );
    let file_images: Vec<FileImages> = run
        .files
        .iter()
        .map(|f| FileImages {
            path: &f.entry.rel,
            located: &f.located,
        })
        .collect();
    // Each file's images are judged on its own against the graph: on every core.
    let per_file = parallel_map(&file_images, |file| {
        let one = std::slice::from_ref(file);
        (
            tag_uses(one, &graph, &policy),
            missing_overrides(one, &graph),
        )
    });
    let mut images = Vec::new();
    let mut missing_overrides = Vec::new();
    for (uses, missing) in per_file {
        images.extend(uses);
        missing_overrides.extend(missing);
    }
    let missing_overrides = crate::locate::images::settle_missing_overrides(missing_overrides);
    // Rules look up a file's uses by path (resolve::for_path).
    images.sort_by(|a, b| a.path.cmp(&b.path));
    // The registry is only reached when asked, and only when an ECR image is there to check.
    let mut registry: Option<Box<dyn crate::registry::Registry>> = None;
    let repo_of = |u: &crate::locate::images::TagUse| crate::registry::fixed_repo(u, &accounts);
    let needs_walk = opts.require_image
        && images.iter().any(|u| {
            matches!(
                u.kind,
                crate::locate::tags::TagKind::Mutable | crate::locate::tags::TagKind::Missing
            ) && repo_of(u).is_some()
        });
    if needs_walk {
        registry = Some(crate::registry::connect().map_err(RunError::Registry)?);
    }
    let require = registry
        .as_deref()
        .map(|r| crate::resolve::pins::RequireImage {
            registry: r,
            repo_of: &repo_of,
            depth: REQUIRE_IMAGE_DEPTH,
        });
    let pins = resolve_pins(&images, &sources, &GitResolver::default(), require.as_ref());
    run.source_errors = pins.source_errors.clone();
    let cluster_region = cluster_region(&config, &run.files, &accounts);
    let overlay_accounts = overlay_accounts(&run.files, &graph, &accounts);
    let irsa = irsa_issues(&file_images, &graph);
    let (node_role, tf_errors) = node_role_grants(&terraform);
    for e in tf_errors {
        // Terraform is only read for context: a file the parser cannot read is passed over.
        run.skipped.push(SkippedFile {
            path: e.path,
            reason: format!("{}; its IAM policies were not checked", e.message),
            warning: true,
        });
    }
    run.resolved = Resolved {
        accounts,
        images,
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
        check_registry(&mut run, registry)?;
    }

    // With a recipe, a rule runs only when the recipe names it.
    let level_of = |id: &str| match recipe {
        Some(r) if !r.runs_rule(id) => Some(Level::Allow),
        _ => config.rules.get(id).copied(),
    };
    let in_scope = |path: &str| recipe.is_none_or(|r| r.covers(path));
    let per_file = parallel_map(&run.files, |file| {
        if !file.relevant || !in_scope(&file.entry.rel) {
            return Ok(Vec::new());
        }
        let text = read_again(file)?;
        let input = FileInput {
            path: &file.entry.rel,
            text: &text,
            located: &file.located,
        };
        let lines = LineIndex::new(&text);
        let mut found = Vec::new();
        for rule in rules::all() {
            let level = level_of(rule.meta().id);
            if level == Some(Level::Allow) {
                continue;
            }
            for mut finding in rule.check(&input, &run.resolved) {
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
        for finding in &mut found {
            (finding.line, finding.column) = lines.line_col(finding.range.start);
        }
        found.retain(|f| !suppressed(&file.comments, &lines, f.rule, f.line));
        Ok(found)
    });
    for result in per_file {
        match result {
            Ok(found) => run.findings.extend(found),
            Err(e) => run.errors.push(e),
        }
    }
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
            run.findings.push(finding);
        }
    }
    run.findings
        .sort_by(|a, b| (&a.path, a.range.start, a.rule).cmp(&(&b.path, b.range.start, b.rule)));
    run.errors.sort_by(|a, b| a.path.cmp(&b.path));
    run.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(run)
}

/// How far `--require-image` walks back a branch before giving up.
const REQUIRE_IMAGE_DEPTH: usize = 50;

/// `--registry`: asks ECR about every image the repository renders once fixed, and keeps the
/// answers for the registry rules; says so, without any network, when no image is on ECR.
fn check_registry(
    run: &mut Run,
    client: Option<Box<dyn crate::registry::Registry>>,
) -> Result<(), RunError> {
    let (wanted, passed_over) = crate::registry::wanted(&run.resolved);
    if wanted.is_empty() {
        run.registry_notes.push(
            "registry: no image of this repository is in a private ECR registry; nothing was checked".into(),
        );
        run.resolved.registry = Some(Default::default());
        return Ok(());
    }
    let client = match client {
        Some(c) => c,
        None => match crate::registry::connect() {
            Ok(c) => c,
            Err(e) => {
                run.source_errors
                    .push(format!("registry: not checked: {e}"));
                return Ok(());
            }
        },
    };
    let facts = crate::registry::check(client.as_ref(), &wanted);
    let tags: usize = wanted.values().map(|t| t.len()).sum();
    run.registry_notes.push(format!(
        "registry: checked {} of {tags} tags in {} of {} ECR repositories{}",
        facts.checked_tags,
        facts.checked_repos,
        wanted.len(),
        if passed_over > 0 {
            format!("; {passed_over} images in AWS-owned or placeholder registries passed over")
        } else {
            String::new()
        }
    ));
    // What could not be checked is an error of the run, never a missing image.
    run.source_errors
        .extend(facts.unchecked.iter().map(|u| format!("registry: {u}")));
    run.resolved.registry = Some(facts);
    Ok(())
}

/// For each render root whose files name more than one real account: the account most of its
/// references use, keyed by every file of the root whose account differs. Ties are not
/// judged: with two accounts equally used, neither is the odd one out.
fn overlay_accounts(
    files: &[Analyzed],
    graph: &Graph,
    accounts: &AccountResolver,
) -> std::collections::BTreeMap<String, Vec<(String, String)>> {
    use std::collections::BTreeMap;
    // Files are held by index: a path per account reference and root would be a copy of most
    // of the repository's paths, several times over.
    let mut per_root: BTreeMap<String, BTreeMap<String, (usize, Vec<usize>)>> = BTreeMap::new();
    for (index, file) in files.iter().enumerate() {
        let mut roots: Vec<String> = graph
            .chains_for(&file.entry.rel)
            .iter()
            .filter_map(|c| c.last().map(|k| k.dir.clone()))
            .collect();
        if crate::locate::kustomize::is_kustomization_file(&file.entry.rel) {
            let dir = crate::locate::kustomize::parent_dir(&file.entry.rel);
            roots.extend(
                graph
                    .chains_from_dir(&dir)
                    .iter()
                    .filter_map(|c| c.last().map(|k| k.dir.clone())),
            );
        }
        for site in &file.located.sites {
            for found in find_accounts(&site.value) {
                if !accounts.is_real(&found.account) {
                    continue;
                }
                for root in &roots {
                    let entry = per_root
                        .entry(root.clone())
                        .or_default()
                        .entry(found.account.clone())
                        .or_default();
                    entry.0 += 1;
                    if entry.1.last() != Some(&index) {
                        entry.1.push(index);
                    }
                }
            }
        }
    }
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (root, by_account) in per_root {
        if by_account.len() < 2 {
            continue;
        }
        let mut ranked: Vec<(&String, &(usize, Vec<usize>))> = by_account.iter().collect();
        ranked.sort_by_key(|r| std::cmp::Reverse(r.1 .0));
        if ranked[0].1 .0 == ranked[1].1 .0 {
            continue;
        }
        let majority = ranked[0].0.clone();
        for (_, (_, paths)) in ranked.iter().skip(1) {
            for &index in paths {
                let list = out.entry(files[index].entry.rel.clone()).or_default();
                let item = (
                    majority.clone(),
                    if root.is_empty() {
                        ".".into()
                    } else {
                        root.clone()
                    },
                );
                if !list.contains(&item) {
                    list.push(item);
                }
            }
        }
    }
    out
}

/// The region the cluster runs in: configured, or the region of more than half of the
/// repository's ECR registry hosts.
fn cluster_region(
    config: &Config,
    files: &[Analyzed],
    accounts: &AccountResolver,
) -> Option<(String, String)> {
    if let Some(region) = &config.cluster.region {
        return Some((region.clone(), "cluster.region in manifix.yaml".into()));
    }
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for file in files {
        for site in &file.located.sites {
            for found in find_accounts(&site.value) {
                // AWS's own registries are in every region: they say nothing of the cluster's.
                if !accounts.is_real(&found.account) && !accounts.is_placeholder(&found.account) {
                    continue;
                }
                if let crate::locate::aws::AccountSite::EcrHost { region, .. } = found.site {
                    *counts.entry(region).or_default() += 1;
                }
            }
        }
    }
    let total: usize = counts.values().sum();
    let (region, n) = counts.into_iter().max_by_key(|(_, n)| *n)?;
    (n * 2 > total).then(|| {
        (
            region,
            format!("{n} of the repository's {total} ECR registry references use it"),
        )
    })
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
    lines: &LineIndex,
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

/// Reads and parses files on every core; results come back in input order.
fn load_all(files: Vec<FileEntry>, keep_prefixes: &[String]) -> Vec<Loaded> {
    parallel_map(&files, |entry| load(entry.clone(), keep_prefixes))
}

/// `f` over `items` on every core, results in input order.
pub(crate) fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    // One slot per item, filled where it belongs: no sorting, no second list.
    let slots: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while let Some((i, item)) = {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    items.get(i).map(|item| (i, item))
                } {
                    let r = f(item);
                    if let Ok(mut slot) = slots[i].lock() {
                        *slot = Some(r);
                    }
                }
            });
        }
    });
    slots
        .into_iter()
        .filter_map(|slot| slot.into_inner().ok().flatten())
        .collect()
}

/// A relevant file's text, read again; an error when it is no longer what was analysed.
pub fn read_again(file: &Analyzed) -> Result<String, FileError> {
    let error = |message: String| FileError {
        path: file.entry.rel.clone(),
        line: 1,
        column: 1,
        message,
    };
    let bytes = read_limited(&file.entry.abs)
        .map_err(|e| error(format!("cannot read: {e}")))?
        .ok_or_else(|| error("grew past the size limit while manifix ran: not checked".into()))?;
    if crate::text::stable_hash_bytes(&bytes) != file.hash {
        return Err(error(
            "changed on disk while manifix ran: not checked or fixed (run again)".into(),
        ));
    }
    String::from_utf8(bytes).map_err(|_| error("changed on disk while manifix ran".into()))
}

/// Files larger than this are skipped unread: parsing and verifying a 100 MB "manifest" would
/// take minutes and memory for what is never a hand-written manifest.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The file's bytes, or `None` when it is larger than `MAX_FILE_BYTES`. Reads at most one
/// byte past the limit, so a file that grows meanwhile is caught too.
fn read_limited(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    if len > MAX_FILE_BYTES {
        return Ok(None);
    }
    // Sized from the metadata: a growing buffer would keep up to twice the file in memory.
    let mut bytes = Vec::with_capacity(len as usize + 1);
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    bytes.shrink_to_fit();
    Ok((bytes.len() as u64 <= MAX_FILE_BYTES).then_some(bytes))
}

fn load(entry: FileEntry, keep_prefixes: &[String]) -> Loaded {
    let skip = |entry: &FileEntry, reason: &str, warning: bool| {
        Loaded::Skipped(SkippedFile {
            path: entry.rel.clone(),
            reason: reason.to_string(),
            warning,
        })
    };
    let bytes = match read_limited(&entry.abs) {
        Ok(Some(b)) => b,
        Ok(None) => {
            return skip(
                &entry,
                &format!(
                    "larger than {} MiB: skipped (manifests are far smaller; this is likely generated or data)",
                    MAX_FILE_BYTES >> 20
                ),
                true,
            )
        }
        Err(e) => {
            return Loaded::Failed(FileError {
                path: entry.rel.clone(),
                line: 1,
                column: 1,
                message: format!("cannot read: {e}"),
            })
        }
    };
    // YAML may be UTF-16 or UTF-32, which a BOM announces: not a binary file, but not text
    // manifix can edit byte for byte either.
    if bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]) {
        return skip(
            &entry,
            "UTF-16 or UTF-32 (byte order mark at line 1, column 1): skipped; manifix reads UTF-8",
            true,
        );
    }
    if bytes.contains(&0) {
        return skip(&entry, "binary file (contains NUL bytes): skipped", true);
    }
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            // Everything before `at` is valid UTF-8, so it counts lines and characters.
            let valid = std::str::from_utf8(&e.as_bytes()[..at]).unwrap_or_default();
            let (line, column) = LineIndex::new(valid).line_col(at);
            return skip(
                &entry,
                &format!(
                    "not UTF-8 (invalid byte at line {line}, column {column}, offset {at}): skipped"
                ),
                true,
            );
        }
    };
    if entry.kind == FileKind::Terraform {
        return Loaded::Terraform(entry, text);
    }
    if text.contains("{{") {
        return skip(
            &entry,
            "contains {{ }} templates (Go/Helm): not valid YAML until rendered, never edited",
            false,
        );
    }
    let parsed = match parse(&text) {
        Ok(p) => p,
        Err(e) => {
            return Loaded::Failed(FileError {
                path: entry.rel.clone(),
                line: e.line,
                column: e.column,
                message: e.message,
            })
        }
    };
    if let Some((first, dup)) = parsed.duplicate_key() {
        let lines = LineIndex::new(&text);
        let (line, column) = lines.line_col(dup.span.start);
        return Loaded::Failed(FileError {
            path: entry.rel.clone(),
            line,
            column,
            message: format!(
                "duplicate key `{}` (first at line {}): kubectl rejects this file, and which value counts is unclear; not checked or fixed",
                dup.value,
                lines.line_col(first.span.start).0
            ),
        });
    }
    let file_name = entry.abs.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let mut located = locate_relevant(&parsed, file_name, keep_prefixes);
    located.slim();
    let kustomization =
        crate::locate::kustomize::Kustomization::read(&entry.rel, &parsed).map(Box::new);
    let relevant = kustomization.is_some() || !located.sites.is_empty();
    // Collected anew, not filtered in place: an in-place collect would keep the capacity of
    // every comment of the file.
    let comments: Vec<_> = parsed
        .comments
        .iter()
        .filter(|c| c.text.contains("manifix:"))
        .cloned()
        .collect();
    // The text is not kept (the rules read a relevant file again, so memory follows the
    // facts of a repository rather than its bytes): what the account census needs of it is
    // each account's first line.
    let mut accounts: Vec<(String, usize)> = Vec::new();
    let mut lines = None;
    for site in &located.sites {
        for found in find_accounts(&site.value) {
            if !accounts.iter().any(|(a, _)| *a == found.account) {
                let index = lines.get_or_insert_with(|| LineIndex::new(&text));
                accounts.push((found.account, index.line_col(site.span.start).0));
            }
        }
    }
    Loaded::Yaml(
        Box::new(Analyzed {
            hash: crate::text::stable_hash_bytes(text.as_bytes()),
            entry,
            relevant,
            comments,
            kustomization,
            located,
        }),
        accounts,
    )
}

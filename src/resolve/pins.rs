//! Works out, before rules run, the immutable tag each mutable tag should be pinned to: which
//! git repository builds the image (sources), which branch the tag follows, what commit that
//! branch points to, and how CI spells the tag for it.

use super::git::{redact_url, BranchHead, GitResolver};
use crate::locate::images::TagUse;
use crate::locate::tags::{branch_of, commit_id_in, TagKind, BRANCH_TAGS};
use globset::{Glob, GlobMatcher};
use std::collections::BTreeMap;

pub const DEFAULT_TEMPLATE: &str = "{branch}-{sha}";

/// Maps images to the git repository whose commits they are built from.
#[derive(Debug, Clone)]
pub struct Source {
    pub pattern: String,
    matcher: GlobMatcher,
    /// A local path (absolute once loaded) or a URL.
    pub repo: String,
    pub branch: Option<String>,
    pub template: Option<String>,
    /// Where the source was declared, for messages (`manifix.yaml` or `--source`).
    pub declared_in: String,
}

impl Source {
    pub fn new(
        pattern: &str,
        repo: String,
        branch: Option<String>,
        template: Option<String>,
        declared_in: String,
    ) -> Result<Source, String> {
        let glob = Glob::new(pattern).map_err(|e| format!("bad image glob {pattern:?}: {e}"))?;
        if let Some(t) = &template {
            validate_template(t)?;
        }
        Ok(Source {
            pattern: pattern.to_string(),
            matcher: glob.compile_matcher(),
            repo,
            branch,
            template,
            declared_in,
        })
    }

    pub fn matches(&self, image: &str) -> bool {
        self.matcher.is_match(image)
    }
}

#[derive(Debug, Clone)]
pub enum PinOutcome {
    /// Boxed: a repository with thousands of mutable tags holds an outcome for each, and
    /// most are not pins.
    Pinned(Box<Pin>),
    /// No source maps the image: `suggestion(image)` is the config that would.
    NoSource,
    /// The source could not be resolved (missing branch, unreachable repository).
    Failed {
        /// The repository as shown to users (credentials in a URL redacted).
        repo: String,
        error: String,
    },
}

#[derive(Debug, Clone)]
pub struct Pin {
    pub tag: String,
    pub head: BranchHead,
    /// The repository as shown to users (credentials in a URL redacted).
    pub repo: String,
    pub template: String,
    /// How the template was chosen, when it was not configured.
    pub template_note: Option<String>,
    /// With --require-image: the newer commits passed over because their image is not in
    /// the registry (`main~1: CI has not pushed main-3f2c... yet`).
    pub skipped: Vec<String>,
}

/// `fix --require-image`: pins go to the newest commit of the branch whose image the registry
/// holds, walking first-parent history back from the head.
pub struct RequireImage<'a> {
    pub registry: &'a dyn crate::resolve::registry::Registry,
    /// The ECR repository a tag use's image is in, after account fixes; `None` off ECR.
    pub repo_of: &'a dyn Fn(&TagUse) -> Option<crate::resolve::registry::EcrRepo>,
    /// How many commits to look at before giving up.
    pub depth: usize,
}

/// Pin outcomes of tag uses, by file and site index.
#[derive(Debug, Default)]
pub struct Pins {
    /// By file, then site: one per mutable or missing tag use a source covers.
    outcomes: BTreeMap<std::sync::Arc<str>, BTreeMap<usize, PinOutcome>>,
    /// One line per source that failed, for the error summary.
    pub source_errors: Vec<String>,
}

/// The outcome of every mutable or missing tag that no source maps: not stored per use (in a
/// repository without sources, that is every such use).
static NO_SOURCE: PinOutcome = PinOutcome::NoSource;

impl Pins {
    /// The outcome for `use_`: what resolving it gave, or, for a mutable or missing tag that
    /// no source maps, `NoSource`; `None` for tags that are not resolved.
    pub fn outcome(&self, use_: &TagUse) -> Option<&PinOutcome> {
        self.get(&use_.path, use_.site).or_else(|| {
            matches!(use_.kind, TagKind::Mutable | TagKind::Missing).then_some(&NO_SOURCE)
        })
    }

    fn get(&self, path: &str, site: usize) -> Option<&PinOutcome> {
        self.outcomes.get(path)?.get(&site)
    }

    /// Of two outcomes for one use, the last is kept.
    fn insert(&mut self, path: &std::sync::Arc<str>, site: usize, outcome: PinOutcome) {
        self.outcomes
            .entry(path.clone())
            .or_default()
            .insert(site, outcome);
    }
}

/// Resolves every mutable tag use that a source covers, of `uses` (the repository's tag uses,
/// in file order).
pub fn resolve_pins(
    uses: &[TagUse],
    sources: &[Source],
    git: &GitResolver,
    require: Option<&RequireImage>,
) -> Pins {
    let mut pins = Pins::default();
    // Without sources nothing is resolved.
    if sources.is_empty() {
        return pins;
    }
    let mut failed_sources = BTreeMap::new();
    let examples = if sources.iter().any(|s| s.template.is_none()) {
        template_examples(uses)
    } else {
        TemplateExamples::new()
    };
    for use_ in uses {
        if !matches!(use_.kind, TagKind::Mutable | TagKind::Missing) {
            continue;
        }
        let key = (&use_.path, use_.site);
        // Not stored: `Pins::outcome` gives it.
        let Some(source) = sources.iter().find(|s| s.matches(&use_.image)) else {
            continue;
        };
        let branch = branch_of(use_.tag.as_deref()).or_else(|| source.branch.clone());
        // Everything below is shown to users: a token written into the URL must not be.
        let shown = redact_url(&source.repo);
        let head = match git.resolve(&source.repo, branch.as_deref()) {
            Ok(head) => head,
            Err(err) => {
                let error = err.to_string();
                failed_sources
                    .entry(source.repo.clone())
                    .or_insert_with(|| format!("source {shown} ({}): {error}", source.declared_in));
                pins.insert(key.0, key.1, PinOutcome::Failed { repo: shown, error });
                continue;
            }
        };
        let (template, template_note) = match &source.template {
            Some(t) => (t.clone(), None),
            None => infer_template(use_, &examples),
        };
        let walked = match require.and_then(|r| Some(((r.repo_of)(use_)?, r))) {
            Some((repo, require)) => walk_back(source, head, &template, &repo, require),
            None => render_template(&template, &head).map(|tag| (head, tag, Vec::new())),
        };
        match walked {
            Ok((head, tag, skipped)) => {
                pins.insert(
                    key.0,
                    key.1,
                    PinOutcome::Pinned(Box::new(Pin {
                        tag,
                        head,
                        repo: shown,
                        template,
                        template_note,
                        skipped,
                    })),
                );
            }
            Err(error) => {
                pins.insert(key.0, key.1, PinOutcome::Failed { repo: shown, error });
            }
        }
    }
    pins.source_errors = failed_sources.into_values().collect();
    pins
}

/// The newest commit of the branch, from its head back along first parents, whose tag the
/// registry holds: that commit, its tag, and why each newer one was passed over.
fn walk_back(
    source: &Source,
    head: BranchHead,
    template: &str,
    repo: &crate::resolve::registry::EcrRepo,
    require: &RequireImage,
) -> Result<(BranchHead, String, Vec<String>), String> {
    let history = super::git::first_parent_history(&source.repo, &head.branch, require.depth)
        .map_err(|e| format!("--require-image walks the branch's history: {e}"))?;
    let mut skipped = Vec::new();
    for (i, commit) in history.into_iter().enumerate() {
        let candidate = BranchHead {
            commit,
            branch: head.branch.clone(),
        };
        let tag = render_template(template, &candidate)?;
        let name = if i == 0 {
            head.branch.clone()
        } else {
            format!("{}~{i}", head.branch)
        };
        match require
            .registry
            .tags_present(repo, std::slice::from_ref(&tag))
        {
            Ok(Some(found)) if found.contains(&tag) => return Ok((candidate, tag, skipped)),
            Ok(Some(_)) => skipped.push(format!("{name}: CI has not pushed {tag} yet")),
            Ok(None) => return Err(format!("ECR repository {repo} does not exist")),
            Err(e) => return Err(format!("cannot check ECR: {e}")),
        }
    }
    Err(format!(
        "none of the last {} commits of {} has its image in {repo} ({})",
        skipped.len(),
        head.branch,
        skipped.join("; ")
    ))
}

/// The config that would map `image` to its repository.
pub fn suggestion(image: &str) -> String {
    // With a registry, match any registry (the placeholder account may be fixed meanwhile);
    // a bare Docker Hub name has no `/` for a `*/` to match.
    let pattern = match image.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            format!("*/{rest}")
        }
        _ => image.to_string(),
    };
    format!(
        "add to manifix.yaml: `sources: [{{image: \"{pattern}\", repo: <path or URL of its git repository>}}]`, or pass --source '{pattern}=<path or URL>'"
    )
}

/// The first commit-pinned tag of each registry and repository prefix, in file order, with
/// its file and where its commit id is: what templates are inferred from.
type TemplateExamples =
    BTreeMap<Option<String>, (Box<str>, std::sync::Arc<str>, std::ops::Range<usize>)>;

/// The registry and repository prefix of an image; an ECR host counts as the same whatever its
/// account digits, since a placeholder account is the registry that is meant.
fn image_prefix(image: &str) -> Option<String> {
    image.rsplit_once('/').map(|(p, _)| {
        let bytes = p.as_bytes();
        if bytes.len() > 12
            && bytes[..12].iter().all(u8::is_ascii_digit)
            && p[12..].starts_with(".dkr.ecr")
        {
            format!("*{}", &p[12..])
        } else {
            p.to_string()
        }
    })
}

/// What makes a use a tag-template example (a commit-pinned tag with its commit id): the
/// image prefix it is the example of, the first such use of a prefix being the one taken.
/// `None` for a use that is no example.
pub fn template_example_key(use_: &TagUse) -> Option<Option<String>> {
    if use_.kind != TagKind::CommitPinned {
        return None;
    }
    commit_id_in(use_.tag.as_deref()?)?;
    Some(image_prefix(&use_.image))
}

fn template_examples(uses: &[TagUse]) -> TemplateExamples {
    let mut examples = TemplateExamples::new();
    for use_ in uses {
        if use_.kind != TagKind::CommitPinned {
            continue;
        }
        let Some(tag) = &use_.tag else { continue };
        if let Some(hex) = commit_id_in(tag) {
            examples
                .entry(image_prefix(&use_.image))
                .or_insert_with(|| (tag.clone(), use_.path.clone(), hex));
        }
    }
    examples
}

/// The tag template CI uses, read off a commit-pinned tag of the same registry and repository
/// prefix elsewhere in the repository (`main-a0f1...` → `{branch}-{sha}`); the default when
/// there is none.
fn infer_template(target: &TagUse, examples: &TemplateExamples) -> (String, Option<String>) {
    if let Some((tag, path, hex)) = examples.get(&image_prefix(&target.image)) {
        let sha = if hex.len() == 40 {
            "{sha}".to_string()
        } else {
            format!("{{sha{}}}", hex.len())
        };
        let before = &tag[..hex.start];
        let after = &tag[hex.end..];
        let before = match before.strip_suffix(['-', '_', '.']) {
            Some(word)
                if BRANCH_TAGS.contains(&word)
                    || branch_of(target.tag.as_deref()).as_deref() == Some(word) =>
            {
                format!("{{branch}}{}", &before[word.len()..])
            }
            _ => before.to_string(),
        };
        let template = format!("{before}{sha}{after}");
        let note = format!("template {template} inferred from the tag {tag} in {path}");
        return (template, Some(note));
    }
    (
        DEFAULT_TEMPLATE.to_string(),
        Some(format!("default template {DEFAULT_TEMPLATE}")),
    )
}

pub fn validate_template(template: &str) -> Result<(), String> {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| format!("tag template {template:?}: unclosed {{"))?;
        let name = &rest[open + 1..open + close];
        let known = matches!(name, "branch" | "sha" | "date")
            || name
                .strip_prefix("sha")
                .and_then(|n| n.parse::<usize>().ok())
                .is_some_and(|n| (4..=40).contains(&n));
        if !known {
            return Err(format!(
                "tag template {template:?}: unknown placeholder {{{name}}} (use {{branch}}, {{sha}}, {{sha7}}.., {{date}})"
            ));
        }
        rest = &rest[open + close + 1..];
    }
    Ok(())
}

/// Fills a tag template for a branch head, and checks the result is a valid image tag.
pub fn render_template(template: &str, head: &BranchHead) -> Result<String, String> {
    validate_template(template)?;
    let sha = &head.commit.sha;
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = open + rest[open..].find('}').unwrap_or(0);
        let name = &rest[open + 1..close];
        match name {
            // Branch names may hold `/`, which a tag cannot.
            "branch" => out.push_str(&head.branch.replace('/', "-")),
            "sha" => out.push_str(sha),
            "date" => {
                let date = head
                    .commit
                    .author_date
                    .as_deref()
                    .ok_or("the commit's date is not known (remote source)")?;
                out.push_str(&date.replace('-', ""));
            }
            n => {
                let len: usize = n[3..].parse().unwrap_or(40);
                out.push_str(&sha[..len.min(sha.len())]);
            }
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    let valid = !out.is_empty()
        && out.len() <= 128
        && out.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && out
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if valid {
        Ok(out)
    } else {
        Err(format!(
            "tag template {template:?} gives {out:?}, which is not a valid image tag"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::git::CommitInfo;

    /// Outcomes are found by file and site whatever order they came in, and of two for one
    /// use the last is kept (as a map would keep it).
    #[test]
    fn outcomes_are_found_by_file_and_site() {
        let failed = |error: &str| PinOutcome::Failed {
            repo: "r".into(),
            error: error.into(),
        };
        let error_of = |pins: &Pins, path: &str, site: usize| match pins.get(path, site) {
            Some(PinOutcome::Failed { error, .. }) => Some(error.clone()),
            Some(PinOutcome::NoSource) => Some("no source".into()),
            _ => None,
        };
        let (a, b): (std::sync::Arc<str>, std::sync::Arc<str>) = ("a.yaml".into(), "b.yaml".into());
        let mut in_order = Pins::default();
        in_order.insert(&a, 1, failed("a1"));
        in_order.insert(&a, 7, PinOutcome::NoSource);
        in_order.insert(&b, 0, failed("b0"));
        let mut shuffled = Pins::default();
        shuffled.insert(&b, 0, failed("first b0"));
        shuffled.insert(&a, 7, PinOutcome::NoSource);
        shuffled.insert(&a, 1, failed("a1"));
        shuffled.insert(&b, 0, failed("b0"));
        for pins in [&in_order, &shuffled] {
            assert_eq!(error_of(pins, "a.yaml", 1).as_deref(), Some("a1"));
            assert_eq!(error_of(pins, "a.yaml", 7).as_deref(), Some("no source"));
            assert_eq!(error_of(pins, "b.yaml", 0).as_deref(), Some("b0"));
            assert_eq!(error_of(pins, "a.yaml", 0), None);
            assert_eq!(error_of(pins, "c.yaml", 1), None);
            assert_eq!(pins.outcomes.values().map(BTreeMap::len).sum::<usize>(), 3);
        }
    }

    fn tag_use(path: &str, image: &str, tag: Option<&str>, kind: TagKind) -> TagUse {
        TagUse {
            path: path.into(),
            site: 0,
            image: image.into(),
            tag: tag.map(Box::from),
            kind,
            tag_range: 0..0,
            place: crate::locate::images::TagPlace::InReference,
            renders: Box::default(),
        }
    }

    /// A template is read off the first commit-pinned tag, in file order, of the same
    /// registry and repository prefix (an ECR host whatever its account); the word before the
    /// commit id is the branch when it is a branch name or the target's own branch.
    #[test]
    fn templates_are_read_off_the_first_pinned_tag_of_the_prefix() {
        const ECR: &str = ".dkr.ecr.ap-southeast-2.amazonaws.com/team";
        let uses = [
            tag_use(
                "a.yaml",
                &format!("465002806239{ECR}/x"),
                Some("v1.2.3"),
                TagKind::Semver,
            ),
            tag_use(
                "b.yaml",
                &format!("465002806239{ECR}/y"),
                Some("dev-latest"),
                TagKind::Mutable,
            ),
            tag_use(
                "c.yaml",
                &format!("465002806239{ECR}/y"),
                Some("dev-0123456789abcdef0123456789abcdef01234567"),
                TagKind::CommitPinned,
            ),
            tag_use(
                "d.yaml",
                &format!("465002806239{ECR}/z"),
                Some("main-abcdef0"),
                TagKind::CommitPinned,
            ),
            tag_use(
                "e.yaml",
                "quay.io/org/app",
                Some("sha-3f2c1a9"),
                TagKind::CommitPinned,
            ),
        ];
        let examples = template_examples(&uses);
        assert_eq!(examples.len(), 2, "{examples:?}");
        // A placeholder account's registry is the same registry.
        let target = tag_use(
            "t.yaml",
            &format!("123456789012{ECR}/w"),
            Some("dev-latest"),
            TagKind::Mutable,
        );
        assert_eq!(
            infer_template(&target, &examples),
            (
                "{branch}-{sha}".to_string(),
                Some("template {branch}-{sha} inferred from the tag dev-0123456789abcdef0123456789abcdef01234567 in c.yaml".to_string())
            )
        );
        let quay = tag_use("t.yaml", "quay.io/org/other", None, TagKind::Missing);
        assert_eq!(infer_template(&quay, &examples).0, "sha-{sha7}");
        let elsewhere = tag_use(
            "t.yaml",
            "ghcr.io/org/other",
            Some("latest"),
            TagKind::Mutable,
        );
        assert_eq!(infer_template(&elsewhere, &examples).0, DEFAULT_TEMPLATE);
    }

    /// A mutable or missing tag that no source maps has no stored outcome, and is `NoSource`;
    /// other tags have none.
    #[test]
    fn unmapped_mutable_tags_have_no_source() {
        let pins = Pins::default();
        for (kind, want) in [
            (TagKind::Mutable, true),
            (TagKind::Missing, true),
            (TagKind::CommitPinned, false),
            (TagKind::Semver, false),
            (TagKind::Other, false),
        ] {
            let outcome = pins.outcome(&tag_use("a.yaml", "app", Some("latest"), kind));
            assert_eq!(matches!(outcome, Some(PinOutcome::NoSource)), want);
            assert_eq!(outcome.is_some(), want);
        }
    }

    fn head() -> BranchHead {
        BranchHead {
            branch: "feature/x".into(),
            commit: CommitInfo {
                sha: "a0f13477eca7bfd3c908afdfff2fa18d1b6be5c0".into(),
                subject: Some("Train".into()),
                author_date: Some("2025-11-07".into()),
                author_time: Some(0),
            },
        }
    }

    #[test]
    fn renders_templates() {
        assert_eq!(
            render_template("{branch}-{sha}", &head()).as_deref(),
            Ok("feature-x-a0f13477eca7bfd3c908afdfff2fa18d1b6be5c0")
        );
        assert_eq!(
            render_template("sha-{sha7}", &head()).as_deref(),
            Ok("sha-a0f1347")
        );
        assert_eq!(
            render_template("{date}-{sha12}", &head()).as_deref(),
            Ok("20251107-a0f13477eca7")
        );
        assert!(render_template("{nope}", &head()).is_err());
        assert!(render_template("-{sha}", &head()).is_err());
    }

    #[test]
    fn suggests_the_config_that_would_resolve() {
        let s = suggestion("465002806239.dkr.ecr.ap-southeast-2.amazonaws.com/ml-fashion-recommender/data_ingestion");
        assert!(
            s.contains("image: \"*/ml-fashion-recommender/data_ingestion\""),
            "{s}"
        );
        assert!(suggestion("debian").contains("--source 'debian=<path or URL>'"));
    }
}

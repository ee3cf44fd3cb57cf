//! Command-line definitions (clap). Nothing here does work; `commands` runs what the user asked.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "manifix",
    version,
    about = "Find and fix placeholder AWS account IDs, mutable image tags and IRSA mistakes in GitOps manifests",
    long_about = "manifix reads Kubernetes, kustomize, Argo and Helm-values YAML in a GitOps repository, \
reports what is wrong (placeholder AWS account IDs such as 123456789012 in ECR hosts and ARNs, \
including inside kustomize inline patches) and fixes it with edits that change only those values: \
comments, quotes, indentation and key order stay byte for byte.",
    after_help = "Examples:\n  manifix check fixtures/seed-gitops\n  manifix fix --dry-run fixtures/seed-gitops\n  manifix fix --account 465002806239 .\n  manifix fix --source '*/ml-fashion-recommender/*=../ml-fashion-recommender' .\n  manifix fix --branch manifix/fixes --push origin --pr-body pr.md .\n  manifix explain placeholder-account\n\nExit status: 0 clean, 1 findings (or changes needed with --exit-code), 2 error."
)]
pub struct Cli {
    /// When to colour output: auto (only on a terminal, and not when NO_COLOR is set), always, never
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Report problems, one line per finding: path:line:col: rule-id: message
    Check(CheckArgs),
    /// Fix what can be fixed safely: show a diff (--dry-run) or write the files
    Fix(FixArgs),
    /// Run one recipe over many repositories: in parallel, resumable, shardable
    Bulk(BulkArgs),
    /// List the built-in recipes, or print one (to copy and adapt)
    Recipes {
        /// Print this recipe's YAML and parameters
        name: Option<String>,
    },
    /// List the rules
    Rules,
    /// Explain a rule: what it finds, why it matters, how it is fixed
    Explain {
        /// Rule id, as `manifix rules` lists it (e.g. placeholder-account)
        rule: String,
    },
}

#[derive(Debug, Args, Clone)]
pub struct Common {
    /// Files or directories to look at (default: the current directory). With one directory,
    /// paths are shown relative to it and its manifix.yaml is used.
    pub paths: Vec<PathBuf>,

    /// The real AWS account ID that replaces placeholders (12 digits). Per-path entries of
    /// accounts.paths in manifix.yaml still apply; otherwise this wins over accounts.target.
    #[arg(long, value_name = "ACCOUNT_ID")]
    pub account: Option<String>,

    /// Read settings from this file instead of manifix.yaml at the root
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Map images to the git repository that builds them, for pinning mutable tags:
    /// GLOB=PATH_OR_URL, e.g. '*/ml-fashion-recommender/*=../ml-fashion-recommender'.
    /// Repeatable; tried before the sources of manifix.yaml.
    #[arg(long = "source", value_name = "GLOB=REPO")]
    pub sources: Vec<String>,

    /// Also report semver tags (v1.2.3), which are immutable only by convention, as info
    #[arg(long)]
    pub strict: bool,

    /// Run a recipe instead of every rule: a built-in name (`manifix recipes` lists them) or a
    /// recipe file. Only its rules run, its steps rewrite values, its paths limit the files.
    #[arg(long, value_name = "NAME|FILE")]
    pub recipe: Option<String>,

    /// A recipe parameter, e.g. --set to=465002806239 (repeatable)
    #[arg(long = "set", value_name = "NAME=VALUE", requires = "recipe")]
    pub sets: Vec<String>,

    /// Also ask ECR whether every repository and tag the manifests render (after fixes)
    /// exists: rules ecr-repository-missing and ecr-tag-missing. Uses the standard AWS
    /// credential chain, the region of each image's host, and AWS_ENDPOINT_URL if set
    #[arg(long)]
    pub registry: bool,

    /// No network at all: sources that are URLs and registry checks are reported unresolved
    /// ("--offline"), and nothing is pushed to a URL; local repositories still resolve
    #[arg(long)]
    pub offline: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub common: Common,

    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One line per finding: path:line:col: rule-id: message, then a summary
    Text,
    /// One JSON object: findings, errors, skipped files and a summary
    Json,
    /// SARIF 2.1.0, for GitHub code scanning (upload-sarif) and other SARIF viewers
    Sarif,
    /// GitHub Actions workflow commands (::error file=...::), shown as annotations
    Github,
    /// A Markdown audit report: summary, findings by area, and a checklist
    Markdown,
}

#[derive(Debug, Args)]
pub struct FixArgs {
    #[command(flatten)]
    pub common: Common,

    /// Print a unified diff of the fixes and write nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Exit with status 1 when a change is needed (for CI, with --dry-run)
    #[arg(long)]
    pub exit_code: bool,

    /// Also apply fixes marked unsafe (held back by default and counted in the summary)
    #[arg(long)]
    pub unsafe_fixes: bool,

    /// Add the images: entries that missing-image-override asks for, in the overlay's own
    /// indentation, with the registry and naming of its other entries (check the names)
    #[arg(long)]
    pub add_missing_overrides: bool,

    /// Commit the fixes to this new branch (from HEAD's content) instead of writing files;
    /// the working tree, the index and the checked-out branch are not touched
    #[arg(long, value_name = "NAME", conflicts_with = "dry_run")]
    pub branch: Option<String>,

    /// With --branch: push the branch to this remote
    #[arg(long, value_name = "REMOTE", requires = "branch")]
    pub push: Option<String>,

    /// With --branch: the commit's subject line (the list of changes stays in the body)
    #[arg(long, value_name = "MSG", requires = "branch")]
    pub message: Option<String>,

    /// With --branch: write a Markdown pull-request description to this file
    #[arg(long, value_name = "FILE", requires = "branch")]
    pub pr_body: Option<PathBuf>,

    /// With --branch: move the branch if it exists (and force-push it)
    #[arg(long, requires = "branch")]
    pub force: bool,

    /// Also write files that have other names (hard links): the fixed file replaces this
    /// name only, splitting it from the others (without this flag such files are left alone
    /// and reported)
    #[arg(long, conflicts_with = "branch")]
    pub break_hardlinks: bool,

    /// With --branch: author and committer, "Name <email>" (default: git config user)
    #[arg(long, value_name = "NAME <EMAIL>", requires = "branch")]
    pub author: Option<String>,

    /// When pinning a mutable tag, pin to the newest commit of the branch whose image is in
    /// ECR (walking back first-parent history), and say which commits were passed over and
    /// why; implies --registry
    #[arg(long)]
    pub require_image: bool,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  manifix bulk --recipe fix-placeholder-accounts --repos repos.txt --dry-run\n  manifix bulk --recipe migrate-account --set from=111111111111 --set to=465002806239 \\\n      --repos ~/src --branch manifix/migrate-account --push origin --report migrate.json\n  manifix bulk --recipe pin-mutable-tags --repos repos.txt --branch manifix/pin --shard 2/8 --report shard-2.json\n\nRepository list: one local path (relative to the list file) or clone URL per line; # starts a comment.\nURLs are cloned (bare) into --cache and updated on each run; they need --dry-run or --branch.\nWithout --dry-run or --branch, the fixes are written into the working trees of local repositories.\nExit status: 0 every repository done, 2 when any repository failed or had errors."
)]
pub struct BulkArgs {
    /// The recipe: a built-in name (`manifix recipes`) or a recipe file
    #[arg(long, value_name = "NAME|FILE")]
    pub recipe: String,

    /// A recipe parameter, e.g. --set to=465002806239 (repeatable)
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub sets: Vec<String>,

    /// A file listing repositories (paths or clone URLs, one per line), or a directory whose
    /// git repositories are all taken
    #[arg(long, value_name = "LIST|DIR")]
    pub repos: PathBuf,

    /// Repositories worked on at once (default: the number of CPUs)
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,

    /// Work out the changes and report them; write and commit nothing
    #[arg(long)]
    pub dry_run: bool,

    /// With --dry-run: print each repository's diff
    #[arg(long, requires = "dry_run")]
    pub diff: bool,

    /// Commit each repository's fixes to this new branch (from its HEAD), not touching its
    /// working tree
    #[arg(long, value_name = "NAME", conflicts_with = "dry_run")]
    pub branch: Option<String>,

    /// With --branch: push the branch to this remote of each repository
    #[arg(long, value_name = "REMOTE", requires = "branch")]
    pub push: Option<String>,

    /// With --branch: the commit's subject line
    #[arg(long, value_name = "MSG", requires = "branch")]
    pub message: Option<String>,

    /// With --branch: author and committer, "Name <email>" (default: each repository's git config)
    #[arg(long, value_name = "NAME <EMAIL>", requires = "branch")]
    pub author: Option<String>,

    /// With --branch: move the branch where it exists (and force-push it)
    #[arg(long, requires = "branch")]
    pub force: bool,

    /// Write a JSON report here as repositories finish; running again with the same report
    /// skips the repositories it records as done
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Take only shard K of N (1-based): a stable split by repository, for CI matrices and
    /// Kubernetes Indexed Jobs (K = JOB_COMPLETION_INDEX + 1)
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,

    /// Where clone URLs are cloned (default: $XDG_CACHE_HOME/manifix/repos or ~/.cache/manifix/repos)
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,

    /// Map images to the git repository that builds them, as for `fix` (repeatable)
    #[arg(long = "source", value_name = "GLOB=REPO")]
    pub sources: Vec<String>,

    /// No progress line, even on a terminal
    #[arg(long, short)]
    pub quiet: bool,

    /// No network at all: clone URLs are reported failed ("--offline") without being cloned
    /// or fetched, sources that are URLs are unresolved, and nothing is pushed to a URL
    #[arg(long)]
    pub offline: bool,
}

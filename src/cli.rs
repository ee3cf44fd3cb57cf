//! Command-line definitions (clap). Nothing here does work; `app` runs what the user asked.

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

    /// With --branch: author and committer, "Name <email>" (default: git config user)
    #[arg(long, value_name = "NAME <EMAIL>", requires = "branch")]
    pub author: Option<String>,
}

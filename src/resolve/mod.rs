//! What fixes need from outside a single file, worked out once per run before rules run.

pub mod account;
pub mod git;
pub mod pins;
pub mod registry;

pub use account::{AccountResolver, Origin, TargetAccount};

/// The items of `sorted` (ordered by path) that belong to `path`: rules ask once per file, so a
/// scan of the whole list each time would grow with the square of the repository.
pub fn for_path<'a, T>(sorted: &'a [T], path: &str, key: impl Fn(&T) -> &str) -> &'a [T] {
    let start = sorted.partition_point(|item| key(item) < path);
    let len = sorted[start..].partition_point(|item| key(item) == path);
    &sorted[start..start + len]
}

/// Everything resolved for a run, handed to every rule.
#[derive(Debug, Default)]
pub struct Resolved {
    pub accounts: AccountResolver,
    /// Base images that render roots leave without a registry.
    pub missing_overrides: Vec<crate::locate::images::MissingOverride>,
    /// The pins resolved from git for the mutable ones.
    pub pins: pins::Pins,
    /// For files an overlay renders whose accounts are split: file → (the overlay's majority
    /// account, the overlay) for each overlay that renders it.
    pub overlay_accounts: std::collections::BTreeMap<String, Vec<(String, String)>>,
    /// IRSA wiring problems found across each overlay's render.
    pub irsa: Vec<crate::index::irsa::IrsaIssue>,
    /// What Terraform grants the node role for ECR pulls.
    pub node_role: Vec<crate::locate::terraform::NodeRoleGrant>,
    /// The cluster's region and why it is believed (`cluster.region`, or the majority of ECR
    /// hosts).
    pub cluster_region: Option<(String, String)>,
    /// `--strict`: also report semver tags (as info).
    pub strict: bool,
    /// What ECR said, with `--registry`.
    pub registry: Option<registry::RegistryFacts>,
    /// The kustomize graph: which kustomization includes what.
    pub graph: crate::locate::kustomize::Graph,
}

impl Resolved {
    /// The image a tag use renders once fixes apply: placeholder accounts replaced by the
    /// target account, a mutable tag by its pin. `None` for images not in a private ECR
    /// registry.
    pub fn rendered(
        &self,
        use_: &crate::locate::images::TagUse,
    ) -> Option<(registry::EcrRepo, String)> {
        let repo = registry::fixed_repo(use_, &self.accounts)?;
        let tag = match self.pins.outcome(use_) {
            Some(pins::PinOutcome::Pinned(pin)) => pin.tag.clone(),
            _ => use_.tag.as_deref().unwrap_or("latest").to_string(),
        };
        Some((repo, tag))
    }
}

//! The rule registry. Each rule lives in its own file with its metadata and explanation; this
//! list is the one place that names them all.

mod account_mismatch;
mod ecr_region;
mod ecr_repository_missing;
mod ecr_tag_missing;
mod image_pull_secrets_ecr;
mod irsa_service_account;
mod missing_image_override;
mod mutable_tag;
mod node_role_ecr;
mod placeholder_account;
mod registry_uses;

use crate::finding::{Finding, Severity};
use crate::locate::Located;
use crate::resolve::Resolved;

/// What `manifix rules` lists and `manifix explain` prints.
pub struct RuleMeta {
    /// Stable kebab-case identifier, used in output, config and suppressions.
    pub id: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
    /// What the rule finds, why it matters, an example, and how safe its fix is.
    pub explanation: &'static str,
    pub fixable: bool,
}

/// One file as rules see it. Rules read it; they never touch disk.
pub struct FileInput<'a> {
    pub path: &'a str,
    /// The file's text, when the engine has it at hand. Most findings are placed from what
    /// their sites noted (`locate::Placed`); a rule that needs the text for one says so
    /// through `source_range`, and the engine then reads it and runs the rules again.
    pub text: Option<&'a str>,
    /// Set by `source_range` when it could not answer without the text.
    pub text_wanted: std::cell::Cell<bool>,
    pub located: &'a Located,
    /// The file's image tag uses, judged where they take effect (in site order).
    pub uses: &'a [crate::locate::images::TagUse],
}

impl FileInput<'_> {
    /// The byte range in the file of `range` of `site`'s decoded value
    /// (`locate::source_range`); when that needs the text and it is not at hand, `None`,
    /// and the engine is told to run the rules again with it.
    pub fn source_range(
        &self,
        site: &crate::locate::Site,
        range: std::ops::Range<usize>,
    ) -> Option<std::ops::Range<usize>> {
        let found = crate::locate::source_range(self.text, site, range);
        if found.is_none() && self.text.is_none() {
            self.text_wanted.set(true);
        }
        found
    }
}

/// The judgments across files, each in the file of the rule that reports it, made once per
/// run by the engine from the repository's rows and handed back to the rules in `Resolved`.
pub mod judges {
    pub use super::account_mismatch::judge_overlays;
    pub use super::irsa_service_account::judge_irsa;
    pub use super::missing_image_override::{judge_missing_overrides, missing_overrides_of};
}

pub trait Rule: Sync {
    fn meta(&self) -> &'static RuleMeta;
    fn check(&self, file: &FileInput, resolved: &Resolved) -> Vec<Finding>;

    /// Findings about the repository as a whole (Terraform, say), once per run; paths are
    /// root-relative and ranges are byte offsets in those files.
    fn check_repo(&self, _resolved: &Resolved) -> Vec<Finding> {
        Vec::new()
    }
}

/// Every rule, in the order `manifix rules` lists them.
pub fn all() -> &'static [&'static dyn Rule] {
    &[
        &placeholder_account::PlaceholderAccount,
        &mutable_tag::MutableTag,
        &missing_image_override::MissingImageOverride,
        &image_pull_secrets_ecr::ImagePullSecretsEcr,
        &ecr_region::EcrRegion,
        &account_mismatch::AccountMismatch,
        &irsa_service_account::IrsaServiceAccount,
        &node_role_ecr::NodeRoleEcr,
        &ecr_repository_missing::EcrRepositoryMissing,
        &ecr_tag_missing::EcrTagMissing,
    ]
}

pub fn find(id: &str) -> Option<&'static dyn Rule> {
    all().iter().copied().find(|r| r.meta().id == id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_kebab_case_and_documented() {
        let mut seen = HashSet::new();
        for rule in all() {
            let meta = rule.meta();
            assert!(seen.insert(meta.id), "duplicate id {}", meta.id);
            assert!(meta.id.chars().all(|c| c.is_ascii_lowercase() || c == '-'));
            assert!(meta.explanation.len() > 200, "{} needs docs", meta.id);
            assert!(!meta.summary.is_empty());
        }
    }
}

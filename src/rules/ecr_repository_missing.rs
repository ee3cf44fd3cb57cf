//! `ecr-repository-missing`: an image points at an ECR repository that does not exist.

use super::registry_uses::checked_uses;
use super::{FileInput, Rule, RuleMeta};
use crate::finding::{Finding, Severity};
use crate::resolve::Resolved;

pub struct EcrRepositoryMissing;

static META: RuleMeta = RuleMeta {
    id: "ecr-repository-missing",
    severity: Severity::Error,
    summary: "An image points at an ECR repository that does not exist (with --registry)",
    fixable: false,
    explanation: "\
What it finds
  With --registry, manifix asks ECR (DescribeImages, one call per repository) about every
  private ECR image the repository renders — as it will be once manifix's fixes apply, with
  placeholder accounts replaced and mutable tags pinned. This rule reports images whose
  repository does not exist in that account and region.

Why it matters
  The kubelet cannot pull from a repository that is not there: the pod sits in
  ImagePullBackOff. Typical causes are a typo in the repository path, a repository that was
  never created in this account or region (replication not set up), or a `-`/`_` mix-up.

Example
  newName: 465002806239.dkr.ecr.ap-southeast-2.amazonaws.com/ml-fashion-recommender/data_eda
  with no repository ml-fashion-recommender/data_eda in 465002806239 / ap-southeast-2.

Fix safety
  No automatic fix: create the repository (Terraform, aws ecr create-repository) or correct the
  name. Credentials come from the standard AWS chain (environment, profile, SSO, web identity,
  instance role), the region from the image's host, and AWS_ENDPOINT_URL is honoured. What
  could not be checked (access denied, expired credentials, throttling) is listed, never
  reported as missing.",
};

impl Rule for EcrRepositoryMissing {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, file: &FileInput, resolved: &Resolved) -> Vec<Finding> {
        let mut out = Vec::new();
        for (_, site, repo, tag, facts) in checked_uses(file, resolved) {
            if !facts.missing_repos.contains(&repo) {
                continue;
            }
            let range = file
                .source_range(site, 0..site.value.len())
                .unwrap_or(site.target.scalar.span.start..site.target.scalar.span.start);
            out.push(Finding::new(
                META.id,
                META.severity,
                file.path,
                range,
                format!(
                    "image `{repo}:{tag}` points at ECR repository `{}`, which does not exist in account {} ({}): pods would fail with ImagePullBackOff; create it or correct the name",
                    repo.repository, repo.account, repo.region
                ),
            ));
        }
        out
    }
}

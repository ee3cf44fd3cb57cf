//! `ecr-region`: an ECR registry in another region than the cluster's.

use super::{FileInput, Rule, RuleMeta};
use crate::finding::{Finding, Severity};
use crate::locate::aws::{find_accounts, AccountSite};
use crate::locate::Role;
use crate::resolve::Resolved;

pub struct EcrRegion;

static META: RuleMeta = RuleMeta {
    id: "ecr-region",
    severity: Severity::Warning,
    summary: "ECR registry in a region other than the cluster's",
    fixable: false,
    explanation: "\
What it finds
  An image whose private ECR registry host (<account>.dkr.ecr.<region>.amazonaws.com) names a
  region other than the cluster's: cluster.region in manifix.yaml, or, when that is not set, the
  region that more than half of the repository's ECR references use. Only image fields are
  judged (containers of any workload, Argo templates, kustomize images[].newName, Helm
  image.repository); AWS-owned registries are left alone.

Why it matters
  A cross-region pull is slower and pays inter-region data transfer on every node that pulls.
  It breaks outright where the path to ECR is regional: a VPC endpoint for ECR in the cluster's
  region only, or a node-role policy scoped to repositories in one region. Guides list an ECR
  repository in a different region among the most common image pull mistakes.

Fix
  Point the image at the cluster's region (replicate the repository there with ECR replication),
  or set cluster.region if the majority guess is wrong. manifix reports; it does not rewrite the
  region (a repository in the other region may not exist).",
};

impl Rule for EcrRegion {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, file: &FileInput, resolved: &Resolved) -> Vec<Finding> {
        let Some((cluster, why)) = &resolved.cluster_region else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for site in &file.located.sites {
            let is_image = matches!(&site.role, Role::ContainerImage | Role::HelmImage { .. })
                || matches!(&site.role, Role::KustomizeImage { field, .. } if &**field == "newName");
            if !is_image {
                continue;
            }
            for found in find_accounts(&site.value) {
                let AccountSite::EcrHost { region, host } = &found.site else {
                    continue;
                };
                let aws_owned = !resolved.accounts.is_real(found.account)
                    && !resolved.accounts.is_placeholder(found.account);
                if region == cluster || aws_owned {
                    continue;
                }
                let start = found.range.start;
                let end = start + host.len();
                let range = file
                    .source_range(site, start..end)
                    .unwrap_or(site.target.scalar.span.start..site.target.scalar.span.start);
                out.push(Finding::new(META.id, META.severity, file.path, range, format!(
                        "ECR registry {host} is in {region}, but the cluster runs in {cluster} ({why}): pulls cross regions (slower, paid transfer) and fail where ECR is reached through a regional VPC endpoint or a region-scoped policy"
                    )));
            }
        }
        out
    }
}

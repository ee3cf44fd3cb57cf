//! `image-pull-secrets-ecr`: an imagePullSecrets entry on a pod that pulls from ECR on EKS.

use super::{FileInput, Rule, RuleMeta};
use crate::finding::{Finding, Severity};
use crate::locate::aws::{find_accounts, AccountSite};
use crate::locate::Role;
use crate::resolve::Resolved;

pub struct ImagePullSecretsEcr;

static META: RuleMeta = RuleMeta {
    id: "image-pull-secrets-ecr",
    severity: Severity::Info,
    summary: "imagePullSecrets for ECR images, which the EKS node role makes unneeded (and whose tokens expire every 12 hours)",
    fixable: false,
    explanation: "\
What it finds
  A pod spec (of any workload kind or template) that lists imagePullSecrets while its containers
  pull from a private ECR registry (<account>.dkr.ecr.<region>.amazonaws.com).

Why it matters
  On EKS the kubelet pulls from ECR with the node's IAM role, through the ECR credential
  provider: with the four ECR read actions on the node role (ecr:GetAuthorizationToken,
  ecr:BatchCheckLayerAvailability, ecr:GetDownloadUrlForLayer, ecr:BatchGetImage) no secret is
  needed. A docker-registry secret made from an ECR token expires after 12 hours, so it needs a
  job to refresh it, and when that job stops, new pods stop pulling. Note that the IRSA role of
  the pod's ServiceAccount is not what pulls images: it gives the application's own AWS calls
  their credentials.

Fix
  Remove the imagePullSecrets entry once the node role has ECR read access. manifix reports this
  as information and does not remove it: the secret may serve another registry too.",
};

impl Rule for ImagePullSecretsEcr {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, file: &FileInput, _resolved: &Resolved) -> Vec<Finding> {
        let sites = &file.located.sites;
        let mut out = Vec::new();
        for secret in sites
            .iter()
            .filter(|s| s.path.contains("imagePullSecrets["))
        {
            let Some(prefix) = secret.path.split("imagePullSecrets[").next() else {
                continue;
            };
            let ecr_image = sites.iter().find(|s| {
                s.document == secret.document
                    && s.role == Role::ContainerImage
                    && s.path.starts_with(prefix)
                    && find_accounts(&s.value)
                        .iter()
                        .any(|a| matches!(a.site, AccountSite::EcrHost { .. }))
            });
            let Some(image) = ecr_image else { continue };
            let range = file
                .source_range(secret, 0..secret.value.len())
                .unwrap_or(secret.target.scalar.span.clone());
            out.push(Finding::new(META.id, META.severity, file.path, range, format!(
                    "imagePullSecrets `{}` on a pod that pulls the ECR image `{}`: on EKS the kubelet pulls from ECR with the node's IAM role, so the secret is not needed, and a secret made from an ECR token expires every 12 hours",
                    secret.value, image.value
                )));
        }
        out
    }
}

//! `node-role-ecr`: whether Terraform gives the EKS node role the four ECR pull actions.

use super::{Rule, RuleMeta};
use crate::finding::{Finding, Severity};
use crate::resolve::Resolved;

pub struct NodeRoleEcr;

static META: RuleMeta = RuleMeta {
    id: "node-role-ecr",
    severity: Severity::Warning,
    summary: "Terraform's node-role policy must grant the four ECR pull actions (info when it does, warning naming the missing ones)",
    fixable: false,
    explanation: "\
What it finds
  In the repository's Terraform (read with an HCL parser): aws_iam_role_policy resources whose
  role is the node group's role, with the aws_iam_policy_document they use, and
  aws_iam_role_policy_attachment of the managed AmazonEC2ContainerRegistryReadOnly (or
  PullOnly) policy. For each it checks the four actions the kubelet needs to pull from ECR:
  ecr:GetAuthorizationToken, ecr:BatchCheckLayerAvailability, ecr:GetDownloadUrlForLayer and
  ecr:BatchGetImage (wildcards such as ecr:* count). Complete grants are reported as info — the
  audit's \"nodes can pull\" check — and incomplete ones as a warning that names what is missing.

Why it matters
  On EKS the kubelet pulls images with the node's IAM role, through the ECR credential
  provider, not with any pod's IRSA role. Without these actions every pull of a private ECR
  image fails with an authorization error, whatever the manifests say.

Fix
  Add the missing actions to the policy document's statement (resources = [\"*\"] for
  GetAuthorizationToken), or attach AmazonEC2ContainerRegistryReadOnly to the node role.",
};

impl Rule for NodeRoleEcr {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, _file: &super::FileInput, _resolved: &Resolved) -> Vec<Finding> {
        Vec::new()
    }

    fn check_repo(&self, resolved: &Resolved) -> Vec<Finding> {
        resolved
            .node_role
            .iter()
            .map(|grant| {
                let (severity, message) = if grant.missing.is_empty() {
                    (
                        Severity::Info,
                        format!(
                            "{} gives the node role all four ECR pull actions (via {}): nodes can pull from ECR",
                            grant.resource, grant.via
                        ),
                    )
                } else {
                    (
                        META.severity,
                        format!(
                            "{} attaches {} to the node role without {}: the kubelet pulls with the node role, so ECR pulls fail with an authorization error",
                            grant.resource,
                            grant.via,
                            grant.missing.join(", ")
                        ),
                    )
                };
                Finding::new(
                    META.id,
                    severity,
                    &grant.path,
                    grant.offset..grant.offset,
                    message,
                )
            })
            .collect()
    }
}

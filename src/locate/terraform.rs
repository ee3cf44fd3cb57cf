//! What Terraform in the repository grants the EKS node role for pulling from ECR, read with a
//! real HCL parser: inline role policies built from `aws_iam_policy_document` data sources, and
//! attachments of AWS-managed ECR read policies.

use hcl::{Block, Body, Expression};

/// The four actions the kubelet's ECR credential provider needs to pull.
pub const ECR_PULL_ACTIONS: [&str; 4] = [
    "ecr:GetAuthorizationToken",
    "ecr:BatchCheckLayerAvailability",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchGetImage",
];

/// AWS-managed policies that grant those actions.
const MANAGED_ECR_READ: [&str; 2] = [
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
];

/// One grant of a policy to the node role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRoleGrant {
    pub path: String,
    /// Byte offset of the resource block in the file (for the report's position).
    pub offset: usize,
    /// `aws_iam_role_policy.node_group_ecr_access`
    pub resource: String,
    /// Which of the four ECR pull actions the policy does not grant (empty: all granted).
    pub missing: Vec<&'static str>,
    /// How the grant was read (the policy document's name, or the managed policy).
    pub via: String,
}

#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct TerraformError {
    pub path: String,
    pub message: String,
}

/// Whether a file may hold what `node_role_grants` reads (IAM role policies, their
/// attachments and policy documents, all `aws_iam_*`): only such files are kept for it, so
/// that a run holds no other Terraform text.
pub fn may_grant_node_role(text: &str) -> bool {
    memchr::memmem::find(text.as_bytes(), b"aws_iam_").is_some()
}

/// Why the file is not valid HCL, if it is not (`node_role_grants` says the same of the files
/// it reads).
pub fn hcl_error(text: &str) -> Option<String> {
    hcl::parse(text).err().map(|e| not_valid(&e))
}

fn not_valid(e: &hcl::Error) -> String {
    format!("not valid HCL: {e}")
}

/// The node-role ECR grants of every Terraform file, or the files that are not valid HCL.
pub fn node_role_grants(files: &[(String, String)]) -> (Vec<NodeRoleGrant>, Vec<TerraformError>) {
    let mut bodies = Vec::new();
    let mut errors = Vec::new();
    for (path, text) in files {
        match hcl::parse(text) {
            Ok(body) => bodies.push((path, text, body)),
            Err(e) => errors.push(TerraformError {
                path: path.clone(),
                message: not_valid(&e),
            }),
        }
    }
    // Policy documents may live in another file of the same configuration.
    let documents: Vec<&Block> = bodies
        .iter()
        .flat_map(|(_, _, body)| blocks(body, "data", "aws_iam_policy_document"))
        .collect();
    let mut grants = Vec::new();
    for (path, text, body) in &bodies {
        for block in blocks(body, "resource", "aws_iam_role_policy") {
            if !names_node_role(block) {
                continue;
            }
            let Some(name) = block.labels().get(1).map(|l| l.as_str()) else {
                continue;
            };
            let policy = attribute(block.body(), "policy")
                .map(|e| e.to_string())
                .unwrap_or_default();
            let granted = policy_document_name(&policy)
                .and_then(|doc| {
                    documents
                        .iter()
                        .find(|b| b.labels().get(1).map(|l| l.as_str()) == Some(doc))
                })
                .map(|doc| allowed_actions(doc.body()))
                .unwrap_or_else(|| inline_json_actions(&policy));
            grants.push(NodeRoleGrant {
                path: path.to_string(),
                offset: block_offset(text, "aws_iam_role_policy", name),
                resource: format!("aws_iam_role_policy.{name}"),
                missing: missing(&granted),
                via: policy_document_name(&policy)
                    .map(|d| format!("data.aws_iam_policy_document.{d}"))
                    .unwrap_or_else(|| "its inline policy".into()),
            });
        }
        for block in blocks(body, "resource", "aws_iam_role_policy_attachment") {
            if !names_node_role(block) {
                continue;
            }
            let arn = attribute(block.body(), "policy_arn")
                .map(|e| e.to_string())
                .unwrap_or_default();
            let Some(managed) = MANAGED_ECR_READ.iter().find(|m| arn.contains(*m)) else {
                continue;
            };
            let Some(name) = block.labels().get(1).map(|l| l.as_str()) else {
                continue;
            };
            grants.push(NodeRoleGrant {
                path: path.to_string(),
                offset: block_offset(text, "aws_iam_role_policy_attachment", name),
                resource: format!("aws_iam_role_policy_attachment.{name}"),
                missing: Vec::new(),
                via: managed.rsplit('/').next().unwrap_or(managed).to_string(),
            });
        }
    }
    (grants, errors)
}

fn blocks<'a>(
    body: &'a Body,
    kind: &'a str,
    type_: &'a str,
) -> impl Iterator<Item = &'a Block> + 'a {
    body.blocks().filter(move |b| {
        b.identifier() == kind && b.labels().first().map(|l| l.as_str()) == Some(type_)
    })
}

fn attribute<'a>(body: &'a Body, key: &str) -> Option<&'a Expression> {
    body.attributes().find(|a| a.key() == key).map(|a| a.expr())
}

/// Whether the block's `role` points at a node role (`local.node_role_name`,
/// `aws_iam_role.node.name`, `module.eks.eks_managed_node_groups[...]`, `"...-node-..."`).
fn names_node_role(block: &Block) -> bool {
    attribute(block.body(), "role")
        .map(|e| e.to_string().to_ascii_lowercase())
        .is_some_and(|role| role.contains("node"))
}

/// `data.aws_iam_policy_document.ecr_read_only.json` → `ecr_read_only`.
fn policy_document_name(policy: &str) -> Option<&str> {
    let rest = policy
        .trim()
        .strip_prefix("data.aws_iam_policy_document.")?;
    rest.strip_suffix(".json")
}

/// Actions allowed by the `statement` blocks of a policy document (effect defaults to Allow).
fn allowed_actions(doc: &Body) -> Vec<String> {
    let mut out = Vec::new();
    for statement in doc.blocks().filter(|b| b.identifier() == "statement") {
        let effect = attribute(statement.body(), "effect")
            .map(|e| e.to_string())
            .unwrap_or_default();
        if effect.contains("Deny") {
            continue;
        }
        if let Some(Expression::Array(items)) = attribute(statement.body(), "actions") {
            for item in items {
                if let Expression::String(action) = item {
                    out.push(action.clone());
                }
            }
        }
    }
    out
}

/// Actions named in a policy given as JSON text (`jsonencode(...)` or a heredoc).
fn inline_json_actions(policy: &str) -> Vec<String> {
    let re = regex::Regex::new(r#"(ecr:[A-Za-z*]+|"\*")"#).expect("static regex");
    re.find_iter(policy)
        .map(|m| m.as_str().trim_matches('"').to_string())
        .collect()
}

fn missing(granted: &[String]) -> Vec<&'static str> {
    ECR_PULL_ACTIONS
        .iter()
        .copied()
        .filter(|action| {
            !granted.iter().any(|g| {
                g == action || g == "*" || g == "ecr:*" || {
                    // `ecr:Get*`, `ecr:Batch*`
                    g.strip_suffix('*')
                        .is_some_and(|prefix| action.starts_with(prefix))
                }
            })
        })
        .collect()
}

fn block_offset(text: &str, type_: &str, name: &str) -> usize {
    let needle = format!("\"{type_}\" \"{name}\"");
    text.find(&needle)
        .and_then(|at| text[..at].rfind("resource"))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_seed_policy_and_reports_missing_actions() {
        let tf = r#"
data "aws_iam_policy_document" "ecr_read_only" {
  statement {
    effect = "Allow"
    actions = ["ecr:GetAuthorizationToken", "ecr:BatchGetImage"]
    resources = ["*"]
  }
}
resource "aws_iam_role_policy" "node_group_ecr_access" {
  name   = "x"
  role   = local.node_role_name
  policy = data.aws_iam_policy_document.ecr_read_only.json
}
resource "aws_iam_role_policy_attachment" "node_ecr" {
  role       = aws_iam_role.node.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"
}
"#;
        let (grants, errors) = node_role_grants(&[("main.tf".into(), tf.into())]);
        assert!(errors.is_empty());
        assert_eq!(grants.len(), 2);
        assert_eq!(
            grants[0].missing,
            [
                "ecr:BatchCheckLayerAvailability",
                "ecr:GetDownloadUrlForLayer"
            ]
        );
        assert_eq!(grants[0].via, "data.aws_iam_policy_document.ecr_read_only");
        assert!(grants[1].missing.is_empty());
        let bad = node_role_grants(&[("x.tf".into(), "resource {".into())]);
        assert_eq!(bad.1.len(), 1);
    }
}

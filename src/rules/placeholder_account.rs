//! `placeholder-account`: a template's example AWS account left in a registry host or an ARN.

use super::{FileInput, Rule, RuleMeta};
use crate::finding::{Applicability, Finding, Fix, Severity};
use crate::locate::aws::{find_accounts, AccountRef, AccountSite};
use crate::locate::image_ref::parse_image;
use crate::locate::{Role, Site};
use crate::resolve::Resolved;

pub struct PlaceholderAccount;

static META: RuleMeta = RuleMeta {
    id: "placeholder-account",
    severity: Severity::Error,
    summary: "Placeholder AWS account ID (123456789012, 111122223333, ...) in an ECR registry host or an ARN",
    fixable: true,
    explanation: "\
What it finds
  An AWS account ID that only ever appears in templates and documentation — 123456789012,
  111122223333, 444455556666, 000000000000, 012345678901, 999999999999, plus any listed in
  accounts.placeholders of manifix.yaml — standing where a real account must be: in a private
  ECR registry host (<account>.dkr.ecr.<region>.amazonaws.com) in any image field, kustomize
  images[].newName, Helm-style image.repository, or in any ARN (arn:aws:iam::<account>:role/...),
  including the IRSA annotation eks.amazonaws.com/role-arn and values inside kustomize inline
  patches. A 12-digit number that is not in an ECR host or an ARN is never reported, and accounts
  AWS itself owns (such as 602401143452, the EKS add-on registry) are never touched.

Why it matters
  In an image, the placeholder account sends the kubelet to a registry that is not yours: the
  pull fails and the pod sits in ImagePullBackOff. In an IRSA role ARN it breaks the pod's own AWS
  credentials: the application's SDK calls (S3, Secrets Manager, ...) cannot assume a role in an
  account that is not yours. It does not break image pulls — on EKS the kubelet pulls from ECR
  with the node's IAM role through the ECR credential provider, not with the pod's IRSA role.

Example
  images:
    - name: data-ingestion
      newName: 123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/ml-fashion-recommender/data_ingestion
  becomes
      newName: 465002806239.dkr.ecr.ap-southeast-2.amazonaws.com/ml-fashion-recommender/data_ingestion

Fix safety
  Safe. Only the twelve digits change; quotes, comments, indentation and the text of inline
  patches stay byte for byte, and the file is re-parsed and compared before it is written. The
  real account comes from --account, from accounts.target (or a matching accounts.paths entry) in
  manifix.yaml, or is inferred when the repository names exactly one real account; when none of
  these gives an answer, `fix` stops and asks for --account.",
};

impl Rule for PlaceholderAccount {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, file: &FileInput, resolved: &Resolved) -> Vec<Finding> {
        let accounts = &resolved.accounts;
        let target = accounts.target_for(file.path);
        let mut out = Vec::new();
        for site in &file.located.sites {
            for found in find_accounts(&site.value) {
                if !accounts.is_placeholder(found.account) {
                    continue;
                }
                let range = file.source_range(site, found.range.clone());
                let mut message = describe(site, &found);
                let fix = match &target {
                    Some(t) => {
                        message.push_str(&format!(
                            "; the real account is {} ({})",
                            t.account, t.origin
                        ));
                        site.edit(found.range.clone(), &t.account).map(|edit| Fix {
                            title: format!(
                                "replace placeholder account {} with {}",
                                found.account, t.account
                            ),
                            applicability: Applicability::Safe,
                            replacement: t.account.clone(),
                            detail: None,
                            edits: vec![edit],
                            append_images: Vec::new(),
                        })
                    }
                    None => {
                        message.push_str("; no real account is known yet (pass --account)");
                        None
                    }
                };
                if target.is_some() && fix.is_none() {
                    message
                        .push_str(" (this value cannot be edited in place safely; fix it by hand)");
                }
                out.push(Finding {
                    rule: META.id,
                    severity: META.severity,
                    path: file.path.to_string(),
                    range: range
                        .unwrap_or(site.target.scalar.span.start..site.target.scalar.span.start),
                    line: 0,
                    column: 0,
                    message,
                    fix: fix.map(Box::new),
                });
            }
        }
        out
    }
}

/// Says what the value is and where the placeholder leads.
fn describe(site: &Site, found: &AccountRef) -> String {
    let acct = &found.account;
    let where_ = if site.in_patch {
        " (in an inline kustomize patch)"
    } else {
        ""
    };
    match (&found.site, &site.role) {
        (AccountSite::EcrHost { host, .. }, role) => {
            let repo = parse_image(&site.value)
                .map(|r| r.repository)
                .unwrap_or_else(|| site.value.clone());
            let what = match role {
                Role::KustomizeImage { name: Some(name), .. } => {
                    format!("kustomize image override `{name}` points at")
                }
                Role::KustomizeImage { .. } => "kustomize image override points at".to_string(),
                Role::ContainerImage => "container image uses".to_string(),
                Role::HelmImage { .. } => "Helm image value uses".to_string(),
                _ => format!("`{}` names", site.path),
            };
            format!(
                "{what} the ECR registry {host} of placeholder account {acct}{where_}: nodes would pull `{repo}` from a registry that is not yours and pods would fail with ImagePullBackOff"
            )
        }
        (AccountSite::Arn { resource, .. }, Role::IrsaRoleArn { service_account }) => {
            let sa = service_account
                .as_deref()
                .map(|s| format!(" of ServiceAccount `{s}`"))
                .unwrap_or_default();
            format!(
                "IRSA role ARN{sa} names placeholder account {acct}{where_}: pods using it cannot assume `{resource}`, so the application's own AWS calls (S3, Secrets Manager, ...) fail; image pulls are not affected, the kubelet pulls with the node's IAM role"
            )
        }
        (AccountSite::Arn { arn, .. }, _) => format!(
            "ARN `{arn}` at `{}` names placeholder account {acct}{where_}: whatever uses it reaches an account that is not yours",
            site.path
        ),
    }
}

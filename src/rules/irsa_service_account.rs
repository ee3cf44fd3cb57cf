//! `irsa-service-account`: IRSA wiring mistakes — a workload's ServiceAccount that the overlay
//! does not define, a role no workload uses, a role ARN that is not one.

use super::{FileInput, Rule, RuleMeta};
use crate::finding::{Finding, Severity};
use crate::index::irsa::{IrsaIssue, IrsaIssueKind, IrsaRows, Key, RootFacts};
use crate::locate::{Role, Site};
use crate::resolve::Resolved;
use regex::Regex;
use std::sync::Arc;
use std::sync::OnceLock;

pub struct IrsaServiceAccount;

static META: RuleMeta = RuleMeta {
    id: "irsa-service-account",
    severity: Severity::Error,
    summary: "IRSA wiring: a workload's ServiceAccount the overlay does not define, a role no workload uses, a malformed role ARN",
    fixable: false,
    explanation: "\
What it finds
  For every kustomize overlay (render root), as it renders (the overlay's namespace applied):
  - error: a workload (any pod template, Argo workflow) whose serviceAccountName names a
    ServiceAccount that no resource of the overlay defines in the same namespace;
  - info: a ServiceAccount carrying an IRSA role (eks.amazonaws.com/role-arn) that no workload of
    the overlay uses;
  and anywhere: error when the eks.amazonaws.com/role-arn annotation is not a well-formed IAM
  role ARN (arn:aws:iam::<12 digits>:role/<name>).

Why it matters
  A pod whose ServiceAccount does not exist is not created at all (the ReplicaSet reports
  `serviceaccount not found`). These are the common IRSA mistakes: the Deployment not using the
  ServiceAccount, or the ServiceAccount in the wrong namespace. A malformed role ARN makes the
  EKS pod identity webhook inject nothing useful and the SDK's AssumeRoleWithWebIdentity fail.
  Remember what IRSA is for: the application's own AWS calls. Image pulls from ECR use the
  node's IAM role and are not affected by any of this.

Fix
  Define the ServiceAccount in the overlay's resources (in the namespace the workload renders
  in), point serviceAccountName at the right one, or correct the ARN. manifix reports these.",
};

fn role_arn() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^arn:aws(-cn|-us-gov|-iso|-iso-b)?:iam::\d{12}:role/[\w+=,.@/-]+$")
            .expect("static regex")
    })
}

/// Empty, or written for a substitution step (`${role_arn}`, `arn:aws:iam::ACCOUNT_ID:...`):
/// its final value is not in the file.
fn is_substituted(value: &str) -> bool {
    static PLACEHOLDER: OnceLock<Regex> = OnceLock::new();
    let placeholder = PLACEHOLDER
        .get_or_init(|| Regex::new(r"\$\{|\$\(|\{\{|:[A-Z][A-Z0-9_]*:").expect("static regex"));
    value.trim().is_empty() || placeholder.is_match(value)
}

impl Rule for IrsaServiceAccount {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, file: &FileInput, resolved: &Resolved) -> Vec<Finding> {
        let mut out = Vec::new();
        let finding = |site: &Site, severity, message: String| {
            let range = file
                .source_range(site, 0..site.value.len())
                .unwrap_or(site.target.scalar.span.start..site.target.scalar.span.start);
            Finding::new(META.id, severity, file.path, range, message)
        };
        for issue in crate::resolve::for_path(&resolved.irsa, file.path, |i| &i.path) {
            let Some(site) = file.located.sites.get(issue.site) else {
                continue;
            };
            let IrsaIssue {
                name,
                namespace,
                root,
                ..
            } = issue;
            out.push(match issue.kind {
                IrsaIssueKind::MissingServiceAccount => finding(site, Severity::Error, format!(
                    "serviceAccountName `{name}`: overlay {root} defines no ServiceAccount `{name}` in namespace `{namespace}`, so its pods are not created (serviceaccount not found); define it there, with its eks.amazonaws.com/role-arn annotation if the app calls AWS"
                )),
                IrsaIssueKind::UnusedRole => finding(site, Severity::Info, format!(
                    "ServiceAccount `{name}` (namespace `{namespace}`) carries an IRSA role that no workload of overlay {root} uses: check serviceAccountName and the namespace"
                )),
            });
        }
        for site in &file.located.sites {
            if !matches!(site.role, Role::IrsaRoleArn { .. }) || is_substituted(&site.value) {
                continue;
            }
            if !role_arn().is_match(site.value.trim()) {
                out.push(finding(site, Severity::Error, format!(
                    "eks.amazonaws.com/role-arn `{}` is not a well-formed IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>): the pod's AWS SDK cannot assume it",
                    site.value
                )));
            }
        }
        out
    }
}

/// The wiring issues of every render root, from the rows of the files that reach each.
pub fn judge_irsa(rows: IrsaRows) -> Vec<IrsaIssue> {
    let mut out = Vec::new();
    rows.for_each_root(|root, facts| judge_root(root, facts, &mut out));
    out.sort();
    out.dedup();
    out
}

/// Adds the issues of the render root at `root`, from its `facts`, to `out`.
fn judge_root(root: &str, facts: RootFacts, out: &mut Vec<IrsaIssue>) {
    if facts.indirect {
        return;
    }
    let shown_root = crate::locate::kustomize::shown_dir(root);
    let issue = |kind, (namespace, name): &Key, (path, site): &(Arc<str>, usize)| IrsaIssue {
        path: path.to_string(),
        site: *site,
        kind,
        name: name.to_string(),
        namespace: namespace.to_string(),
        root: shown_root.to_string(),
    };
    for (key, at) in &facts.used {
        if !facts.defined.contains(key) && !facts.mentioned.contains(&key.1) {
            out.push(issue(IrsaIssueKind::MissingServiceAccount, key, at));
        }
    }
    for (key, at) in &facts.with_role {
        if !facts.used.contains_key(key) {
            out.push(issue(IrsaIssueKind::UnusedRole, key, at));
        }
    }
}

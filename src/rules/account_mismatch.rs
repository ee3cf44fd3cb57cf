//! `account-mismatch`: a real AWS account that differs from the target, or from the account
//! the rest of the same overlay uses.

use super::{FileInput, Rule, RuleMeta};
use crate::finding::{Finding, Severity};
use crate::locate::aws::{find_accounts, AccountSite};
use crate::resolve::account::Origin;
use crate::resolve::Resolved;

pub struct AccountMismatch;

static META: RuleMeta = RuleMeta {
    id: "account-mismatch",
    severity: Severity::Warning,
    summary: "A real AWS account that differs from the target account, or from the other accounts of the same overlay",
    fixable: false,
    explanation: "\
What it finds
  A real (not placeholder, not AWS-owned) account in an ECR registry host or an ARN that
  differs from the target account given by --account, accounts.target or a matching
  accounts.paths entry of manifix.yaml; or, for files that a kustomize overlay renders, an
  account that differs from the one the rest of that overlay uses (the IRSA role in one account,
  the registry in another). List accounts that are meant to differ (a shared registry account,
  a cross-account role) in accounts.ignore.

Why it matters
  Accounts in one environment usually match: a registry in another account needs a repository
  policy that grants the node role pull access, and an IRSA role in another account needs an
  OIDC provider and a trust policy there. When that was not meant, pods fail to pull or their
  AWS calls are denied — and with two real accounts, no tool can tell which one is right.

Fix
  Decide which account is right and change the other by hand, or add the intended one to
  accounts.ignore. manifix does not guess between two real accounts.",
};

impl Rule for AccountMismatch {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, file: &FileInput, resolved: &Resolved) -> Vec<Finding> {
        let accounts = &resolved.accounts;
        // Only a target the user stated is a yardstick; an inferred one is the only real
        // account there is, so nothing can differ from it.
        let stated = accounts
            .target_for(file.path)
            .filter(|t| !matches!(t.origin, Origin::Inferred(_)));
        let overlay = resolved.overlay_accounts.get(file.path);
        let mut out = Vec::new();
        for site in &file.located.sites {
            for found in find_accounts(&site.value) {
                if !accounts.is_real(found.account) {
                    continue;
                }
                let what = match &found.site {
                    AccountSite::EcrHost { host, .. } => format!("ECR registry {host}"),
                    AccountSite::Arn { arn, .. } => format!("ARN {arn}"),
                };
                let message = if let Some(t) =
                    stated.as_ref().filter(|t| t.account != found.account)
                {
                    format!(
                        "{what} is in account {}, but the target account is {} ({}): a registry or role in another account needs cross-account access; if that is meant, add {} to accounts.ignore",
                        found.account, t.account, t.origin, found.account
                    )
                } else if let Some((majority, root)) = overlay
                    .and_then(|o| o.iter().find(|(m, _)| *m != found.account))
                    .filter(|_| stated.is_none())
                {
                    format!(
                        "{what} is in account {}, but the rest of overlay {root} uses account {majority}: check which one is right (or add the intended one to accounts.ignore)",
                        found.account
                    )
                } else {
                    continue;
                };
                let range = file
                    .source_range(site, found.range.clone())
                    .unwrap_or(site.target.scalar.span.start..site.target.scalar.span.start);
                out.push(Finding::new(
                    META.id,
                    META.severity,
                    file.path,
                    range,
                    message,
                ));
            }
        }
        out
    }
}

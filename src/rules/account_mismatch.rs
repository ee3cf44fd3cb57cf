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

/// For each render root whose files name more than one real account: the account most of its
/// references use, keyed by every file of the root whose account differs (by index). Ties are
/// not judged: with two accounts equally used, neither is the odd one out.
pub fn judge_overlays(
    mut rows: crate::index::accounts::OverlayRows,
) -> std::collections::BTreeMap<u32, Vec<(String, String)>> {
    let mut out = std::collections::BTreeMap::new();
    // Rows of one file, root and account (one per chain reaching the root) are alike.
    rows.0
        .sort_unstable_by(|a, b| (&a.root, a.account, a.file).cmp(&(&b.root, b.account, b.file)));
    for root_rows in rows.0.chunk_by(|a, b| a.root == b.root) {
        // The root's accounts, in account order: each with its references and its files, in
        // file order, each once (a file reached by two chains counts in each).
        let mut ranked: Vec<(u64, u64, Vec<u32>)> = Vec::new();
        for row in root_rows {
            match ranked.last_mut() {
                Some((account, references, files)) if *account == row.account => {
                    *references += u64::from(row.references);
                    if files.last() != Some(&row.file) {
                        files.push(row.file);
                    }
                }
                _ => ranked.push((row.account, u64::from(row.references), vec![row.file])),
            }
        }
        judge_root(&root_rows[0].root, &mut ranked, &mut out);
    }
    out
}

/// Judges one render root from its accounts (in account order, each with its references and
/// its files in file order), adding its odd files out to `out`.
fn judge_root(
    root: &str,
    ranked: &mut [(u64, u64, Vec<u32>)],
    out: &mut std::collections::BTreeMap<u32, Vec<(String, String)>>,
) {
    if ranked.len() < 2 {
        return;
    }
    // Stable: equally used accounts keep their order.
    ranked.sort_by_key(|r| std::cmp::Reverse(r.1));
    if ranked[0].1 == ranked[1].1 {
        return;
    }
    let item = (
        format!("{:012}", ranked[0].0),
        crate::locate::kustomize::shown_dir(root).to_string(),
    );
    for (_, _, files) in ranked.iter().skip(1) {
        for &index in files {
            let list = out.entry(index).or_default();
            if !list.contains(&item) {
                list.push(item.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::accounts::OverlayRows;
    use std::collections::BTreeMap;
    use std::sync::Arc;

    fn judged(rows: &[(&str, u64, u32, u32)]) -> BTreeMap<u32, Vec<(String, String)>> {
        let mut sorted = OverlayRows::default();
        for &(root, account, file, references) in rows {
            sorted.add(file, vec![(Arc::from(root), account, references)]);
        }
        judge_overlays(sorted)
    }

    /// Rows added in any order are judged by root and account: a root's accounts are
    /// counted over all its files (a file reached by two chains, in each), an odd file is
    /// listed once, ties are not judged.
    #[test]
    fn rows_are_judged_by_root_and_account() {
        const A: u64 = 465002806239;
        const B: u64 = 210987654321;
        let rows = [
            ("app", B, 6, 1),
            ("app", A, 0, 3),
            ("tie", B, 4, 1),
            ("app", B, 1, 1),
            ("", B, 5, 1),
            ("tie", A, 2, 1),
            ("app", A, 3, 1),
            ("one", A, 8, 1),
            ("app", B, 6, 1),
            ("", A, 7, 3),
        ];
        let majority = |root: &str| vec![(format!("{A:012}"), root.to_string())];
        let want: BTreeMap<u32, Vec<(String, String)>> = [
            (1, majority("app")),
            (5, majority(".")),
            (6, majority("app")),
        ]
        .into();
        assert_eq!(judged(&rows), want);
        // A file reached by two chains counts in each: here that makes a tie.
        let twice = [("dup", A, 10, 2), ("dup", B, 11, 1), ("dup", B, 11, 1)];
        assert!(judged(&twice).is_empty());
        assert_eq!(judged(&twice[..2]), [(11, majority("dup"))].into());
        assert!(judged(&[]).is_empty());
    }
}

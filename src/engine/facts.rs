//! Repository-wide facts worked out between reading the files and running the rules: the
//! majority account of each overlay, the cluster's region, and what ECR holds.

use super::{Run, RunError};
use crate::config::Config;
use crate::locate::aws::{find_accounts, AccountSite};
use crate::locate::kustomize::{Graph, Kustomization};
use crate::locate::Located;
use crate::resolve::AccountResolver;
use std::sync::Arc;

/// What the account passes need of one file's values, so that its other facts need not be
/// kept while they run.
#[derive(Debug, Default)]
pub(super) struct AccountUses {
    /// The real account of each reference to one, as a number (twelve digits, so their order
    /// is the text's), once per reference: made into the file's `overlay_rows`.
    pub real: Box<[u64]>,
    /// The region of each ECR registry host of a real or placeholder account: counted into
    /// `RegionCounts` at once, not kept.
    pub ecr_regions: Vec<Box<str>>,
}

/// How many ECR registry references of the repository name each region.
pub(super) type RegionCounts = std::collections::BTreeMap<Box<str>, usize>;

impl AccountUses {
    pub(super) fn of(located: &Located, accounts: &AccountResolver) -> AccountUses {
        let mut real = Vec::new();
        let mut ecr_regions = Vec::new();
        for site in &located.sites {
            for found in find_accounts(&site.value) {
                let is_real = accounts.is_real(found.account);
                if is_real {
                    real.push(found.account.parse().unwrap_or_default());
                }
                // AWS's own registries are in every region: they say nothing of the cluster's.
                if is_real || accounts.is_placeholder(found.account) {
                    if let AccountSite::EcrHost { region, .. } = found.site {
                        ecr_regions.push(region.into());
                    }
                }
            }
        }
        AccountUses {
            real: real.into(),
            ecr_regions,
        }
    }
}

/// How far `--require-image` walks back a branch before giving up.
pub(super) const REQUIRE_IMAGE_DEPTH: usize = 50;

/// `--registry`: asks ECR about every image the repository renders once fixed, and keeps the
/// answers for the registry rules; says so, without any network, when no image is on ECR.
/// `uses` are every tag use of the repository.
pub(super) fn check_registry(
    run: &mut Run,
    client: Option<Box<dyn crate::resolve::registry::Registry>>,
    uses: impl Iterator<Item = crate::locate::images::TagUse>,
) -> Result<(), RunError> {
    let (wanted, passed_over) = crate::resolve::registry::wanted(
        &run.resolved.accounts,
        |u| run.resolved.rendered(u),
        uses,
    );
    if wanted.is_empty() {
        run.registry_notes.push(
            "registry: no image of this repository is in a private ECR registry; nothing was checked".into(),
        );
        run.resolved.registry = Some(Default::default());
        return Ok(());
    }
    let client = match client {
        Some(c) => c,
        None => match crate::resolve::registry::connect() {
            Ok(c) => c,
            Err(e) => {
                run.source_errors
                    .push(format!("registry: not checked: {e}"));
                return Ok(());
            }
        },
    };
    let facts = crate::resolve::registry::check(client.as_ref(), &wanted);
    let tags: usize = wanted.values().map(|t| t.len()).sum();
    run.registry_notes.push(format!(
        "registry: checked {} of {tags} tags in {} of {} ECR repositories{}",
        facts.checked_tags,
        facts.checked_repos,
        wanted.len(),
        if passed_over > 0 {
            format!("; {passed_over} images in AWS-owned or placeholder registries passed over")
        } else {
            String::new()
        }
    ));
    // What could not be checked is an error of the run, never a missing image.
    run.source_errors
        .extend(facts.unchecked.iter().map(|u| format!("registry: {u}")));
    run.resolved.registry = Some(facts);
    Ok(())
}

/// One row of the overlay-account pass: a render root reaching a file (once per chain that
/// reaches it), a real account the file names (a number: twelve digits, so its order is the
/// text's), the file (by its index in the run's list of files, not a copy of its path), and
/// how many of the file's references name the account. In 32 bits: a run refuses four billion
/// files or more (`RunError::TooManyFiles`), and a file of at most 16 MiB holds fewer
/// references.
pub(super) struct OverlayRow {
    root: Arc<str>,
    account: u64,
    file: u32,
    references: u32,
}

/// The repository's overlay-account rows.
#[derive(Default)]
pub(super) struct OverlayRows(Vec<OverlayRow>);

impl OverlayRows {
    /// Adds the rows of the file at `file` in the run's list (`overlay_rows`).
    pub(super) fn add(&mut self, file: u32, rows: Vec<(Arc<str>, u64, u32)>) {
        for (root, account, references) in rows {
            self.0.push(OverlayRow {
                root,
                account,
                file,
                references,
            });
        }
    }
}

/// The overlay-account rows of one file, without its index (`OverlayRow` less the file):
/// made as each file's facts are read, so that no file's accounts are kept for the pass.
/// `chains` are the file's render chains (`Graph::chains_for`).
pub(super) fn overlay_rows(
    path: &str,
    chains: &[Vec<Arc<Kustomization>>],
    real: &[u64],
    graph: &Graph,
) -> Vec<(Arc<str>, u64, u32)> {
    if real.is_empty() {
        return Vec::new();
    }
    let mut roots: Vec<Arc<str>> = chains
        .iter()
        .filter_map(|c| c.last().map(|k| Arc::clone(&k.dir)))
        .collect();
    if crate::locate::kustomize::is_kustomization_file(path) {
        let dir = crate::locate::kustomize::parent_dir(path);
        roots.extend(
            graph
                .chains_from_dir(&dir)
                .iter()
                .filter_map(|c| c.last().map(|k| Arc::clone(&k.dir))),
        );
    }
    let mut accounts: Vec<(u64, u32)> = Vec::new();
    for &account in real {
        match accounts.iter_mut().find(|(a, _)| *a == account) {
            Some((_, n)) => *n = n.saturating_add(1),
            None => accounts.push((account, 1)),
        }
    }
    let mut rows = Vec::with_capacity(roots.len() * accounts.len());
    for (account, references) in accounts {
        for root in &roots {
            rows.push((Arc::clone(root), account, references));
        }
    }
    rows
}

/// For each render root whose files name more than one real account: the account most of its
/// references use, keyed by every file of the root whose account differs (by index). Ties are
/// not judged: with two accounts equally used, neither is the odd one out.
pub(super) fn overlay_accounts(
    mut rows: OverlayRows,
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

/// The region the cluster runs in: configured, or the region of more than half of the
/// repository's ECR registry hosts.
pub(super) fn cluster_region(config: &Config, counts: &RegionCounts) -> Option<(String, String)> {
    if let Some(region) = &config.cluster.region {
        return Some((region.clone(), "cluster.region in manifix.yaml".into()));
    }
    let total: usize = counts.values().sum();
    let (region, &n) = counts.iter().max_by_key(|(_, n)| **n)?;
    (n * 2 > total).then(|| {
        (
            region.to_string(),
            format!("{n} of the repository's {total} ECR registry references use it"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn judged(rows: &[(&str, u64, u32, u32)]) -> BTreeMap<u32, Vec<(String, String)>> {
        let mut sorted = OverlayRows::default();
        for &(root, account, file, references) in rows {
            sorted.add(file, vec![(Arc::from(root), account, references)]);
        }
        overlay_accounts(sorted)
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

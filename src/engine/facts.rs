//! Repository-wide facts worked out between reading the files and running the rules: the
//! majority account of each overlay, the cluster's region, and what ECR holds.

use super::{Run, RunError};
use crate::config::Config;
use crate::locate::aws::{find_accounts, AccountSite};
use crate::locate::kustomize::Graph;
use crate::locate::Located;
use crate::resolve::AccountResolver;

/// What the account passes need of one file's values, so that its other facts need not be
/// kept while they run.
#[derive(Debug, Default)]
pub(super) struct AccountUses {
    /// The real account of each reference to one, as a number (twelve digits, so their order
    /// is the text's), once per reference: kept for `overlay_accounts`.
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
pub(super) fn check_registry(
    run: &mut Run,
    client: Option<Box<dyn crate::registry::Registry>>,
) -> Result<(), RunError> {
    let (wanted, passed_over) = crate::registry::wanted(&run.resolved);
    if wanted.is_empty() {
        run.registry_notes.push(
            "registry: no image of this repository is in a private ECR registry; nothing was checked".into(),
        );
        run.resolved.registry = Some(Default::default());
        return Ok(());
    }
    let client = match client {
        Some(c) => c,
        None => match crate::registry::connect() {
            Ok(c) => c,
            Err(e) => {
                run.source_errors
                    .push(format!("registry: not checked: {e}"));
                return Ok(());
            }
        },
    };
    let facts = crate::registry::check(client.as_ref(), &wanted);
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

/// For each render root whose files name more than one real account: the account most of its
/// references use, keyed by every file of the root whose account differs. Ties are not
/// judged: with two accounts equally used, neither is the odd one out.
/// `uses` are each file's real accounts, with its path, in file order.
pub(super) fn overlay_accounts(
    uses: &[(std::sync::Arc<str>, Box<[u64]>)],
    graph: &Graph,
) -> std::collections::BTreeMap<String, Vec<(String, String)>> {
    use std::collections::BTreeMap;
    // One row per file, render root (once per chain reaching it) and account: how many of the
    // file's references name the account. Sorted by root and account (file order kept), each
    // root is judged in turn: a map of every root's accounts at once was most of this pass's
    // memory in a repository with thousands of overlays. Accounts are numbers (twelve
    // digits, so their order is the text's); files are indexes into `uses`, not copies of
    // their paths.
    let roots_of = |rel: &str| -> Vec<&str> {
        let mut roots: Vec<&str> = graph
            .chains_for(rel)
            .iter()
            .filter_map(|c| c.last().map(|k| &*k.dir))
            .collect();
        if crate::locate::kustomize::is_kustomization_file(rel) {
            let dir = crate::locate::kustomize::parent_dir(rel);
            roots.extend(
                graph
                    .chains_from_dir(&dir)
                    .iter()
                    .filter_map(|c| c.last().map(|k| &*k.dir)),
            );
        }
        roots
    };
    let accounts_of = |real: &[u64]| -> Vec<(u64, u64)> {
        let mut accounts: Vec<(u64, u64)> = Vec::new();
        for &account in real {
            match accounts.iter_mut().find(|(a, _)| *a == account) {
                Some((_, n)) => *n += 1,
                None => accounts.push((account, 1)),
            }
        }
        accounts
    };
    // Counted first, so that the rows take what they need and no more: at its peak a list
    // grown by doubling holds twice its rows, and this pass runs beside the others.
    let count: usize = uses
        .iter()
        .map(|(path, real)| roots_of(path).len() * accounts_of(real).len())
        .sum();
    // Indexes and counts in 32 bits, so that a row is 32 bytes rather than 40: no list of
    // four billion files fits in memory, and a file of at most 16 MiB holds fewer references.
    let mut rows: Vec<(&str, u64, u32, u32)> = Vec::with_capacity(count);
    for ((path, real), index) in uses.iter().zip(0u32..) {
        let roots = roots_of(path);
        for (account, references) in accounts_of(real) {
            let references = u32::try_from(references).unwrap_or(u32::MAX);
            for &root in &roots {
                rows.push((root, account, index, references));
            }
        }
    }
    // In place (a stable sort takes a buffer as large as half the rows): files come in index
    // order within a root and account, as they would with a stable sort of rows made in file
    // order.
    rows.sort_unstable_by_key(|&(root, account, index, _)| (root, account, index));
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for root_rows in rows.chunk_by(|a, b| a.0 == b.0) {
        // Per account: its references, and the files naming it, in file order.
        let mut ranked: Vec<(u64, u64, Vec<u32>)> = Vec::new();
        for account_rows in root_rows.chunk_by(|a, b| a.1 == b.1) {
            let mut paths: Vec<u32> = account_rows.iter().map(|r| r.2).collect();
            paths.dedup();
            let references = account_rows.iter().map(|r| u64::from(r.3)).sum();
            ranked.push((account_rows[0].1, references, paths));
        }
        if ranked.len() < 2 {
            continue;
        }
        // Stable: equally used accounts keep their order.
        ranked.sort_by_key(|r| std::cmp::Reverse(r.1));
        if ranked[0].1 == ranked[1].1 {
            continue;
        }
        let root = root_rows[0].0;
        let majority = format!("{:012}", ranked[0].0);
        for (_, _, paths) in ranked.iter().skip(1) {
            for &index in paths {
                let list = out.entry(uses[index as usize].0.to_string()).or_default();
                let item = (
                    majority.clone(),
                    if root.is_empty() {
                        ".".into()
                    } else {
                        root.to_string()
                    },
                );
                if !list.contains(&item) {
                    list.push(item);
                }
            }
        }
    }
    out
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

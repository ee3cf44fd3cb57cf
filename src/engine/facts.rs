//! Repository-wide facts worked out between reading the files and running the rules: the
//! majority account of each overlay, the cluster's region, and what ECR holds.

use super::{Analyzed, Run, RunError};
use crate::config::Config;
use crate::locate::aws::find_accounts;
use crate::locate::kustomize::Graph;
use crate::resolve::AccountResolver;

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
pub(super) fn overlay_accounts(
    files: &[Analyzed],
    graph: &Graph,
    accounts: &AccountResolver,
) -> std::collections::BTreeMap<String, Vec<(String, String)>> {
    use std::collections::BTreeMap;
    // Files are held by index: a path per account reference and root would be a copy of most
    // of the repository's paths, several times over.
    // Render root → account → (references, files using it). Accounts are held as numbers
    // (twelve digits, so their order is the text's): no string per root and account.
    type ByAccount = BTreeMap<u64, (usize, Vec<usize>)>;
    let mut per_root: BTreeMap<std::sync::Arc<str>, ByAccount> = BTreeMap::new();
    for (index, file) in files.iter().enumerate() {
        let mut roots: Vec<std::sync::Arc<str>> = graph
            .chains_for(&file.entry.rel)
            .iter()
            .filter_map(|c| c.last().map(|k| k.dir.clone()))
            .collect();
        if crate::locate::kustomize::is_kustomization_file(&file.entry.rel) {
            let dir = crate::locate::kustomize::parent_dir(&file.entry.rel);
            roots.extend(
                graph
                    .chains_from_dir(&dir)
                    .iter()
                    .filter_map(|c| c.last().map(|k| k.dir.clone())),
            );
        }
        for site in &file.located.sites {
            for found in find_accounts(&site.value) {
                if !accounts.is_real(found.account) {
                    continue;
                }
                for root in &roots {
                    let entry = per_root
                        .entry(root.clone())
                        .or_default()
                        .entry(found.account.parse().unwrap_or_default())
                        .or_default();
                    entry.0 += 1;
                    if entry.1.last() != Some(&index) {
                        entry.1.push(index);
                    }
                }
            }
        }
    }
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (root, by_account) in per_root {
        if by_account.len() < 2 {
            continue;
        }
        let mut ranked: Vec<(&u64, &(usize, Vec<usize>))> = by_account.iter().collect();
        ranked.sort_by_key(|r| std::cmp::Reverse(r.1 .0));
        if ranked[0].1 .0 == ranked[1].1 .0 {
            continue;
        }
        let majority = format!("{:012}", ranked[0].0);
        for (_, (_, paths)) in ranked.iter().skip(1) {
            for &index in paths {
                let list = out.entry(files[index].entry.rel.clone()).or_default();
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
pub(super) fn cluster_region(
    config: &Config,
    files: &[Analyzed],
    accounts: &AccountResolver,
) -> Option<(String, String)> {
    if let Some(region) = &config.cluster.region {
        return Some((region.clone(), "cluster.region in manifix.yaml".into()));
    }
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for file in files {
        for site in &file.located.sites {
            for found in find_accounts(&site.value) {
                // AWS's own registries are in every region: they say nothing of the cluster's.
                if !accounts.is_real(found.account) && !accounts.is_placeholder(found.account) {
                    continue;
                }
                if let crate::locate::aws::AccountSite::EcrHost { region, .. } = found.site {
                    *counts.entry(region).or_default() += 1;
                }
            }
        }
    }
    let total: usize = counts.values().sum();
    let (region, n) = counts.into_iter().max_by_key(|(_, n)| *n)?;
    (n * 2 > total).then(|| {
        (
            region.to_string(),
            format!("{n} of the repository's {total} ECR registry references use it"),
        )
    })
}

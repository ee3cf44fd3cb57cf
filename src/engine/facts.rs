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
    client: Option<Box<dyn crate::registry::Registry>>,
    uses: impl Iterator<Item = crate::locate::images::TagUse>,
) -> Result<(), RunError> {
    let (wanted, passed_over) = crate::registry::wanted(&run.resolved, uses);
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

/// One row of the overlay-account pass: a render root reaching a file (once per chain that
/// reaches it), a real account the file names (a number: twelve digits, so its order is the
/// text's), the file (by its index in the run's list of files, not a copy of its path), and
/// how many of the file's references name the account. In 32 bits, so that a row is 32
/// bytes: no list of four billion files fits in memory, and a file of at most 16 MiB holds
/// fewer references.
pub(super) type OverlayRow<'g> = (&'g str, u64, u32, u32);

/// The overlay-account rows of one file, without its index (`OverlayRow` less the file):
/// made as each file's facts are read, so that no file's accounts are kept for the pass.
pub(super) fn overlay_rows<'g>(
    path: &str,
    real: &[u64],
    graph: &'g Graph,
) -> Vec<(&'g str, u64, u32)> {
    if real.is_empty() {
        return Vec::new();
    }
    let mut roots: Vec<&str> = graph
        .chains_for(path)
        .iter()
        .filter_map(|c| c.last().map(|k| &*k.dir))
        .collect();
    if crate::locate::kustomize::is_kustomization_file(path) {
        let dir = crate::locate::kustomize::parent_dir(path);
        roots.extend(
            graph
                .chains_from_dir(&dir)
                .iter()
                .filter_map(|c| c.last().map(|k| &*k.dir)),
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
        for &root in &roots {
            rows.push((root, account, references));
        }
    }
    rows
}

/// A slice's overlay-account rows, grouped: for each render root and account (sorted), the
/// references to it and the files naming it. A file takes 4 bytes here rather than a 32-byte
/// row per root and account.
#[derive(Debug, Default)]
pub(super) struct OverlayPart<'g> {
    /// Root, account, references (summed over the rows, a file reached by two chains counting
    /// in each), and where the group's files end in `files`.
    groups: Box<[(&'g str, u64, u64, usize)]>,
    /// Each group's files, in file order, each once.
    files: Box<[u32]>,
}

impl<'g> OverlayPart<'g> {
    /// The part of `rows` (any order).
    pub(super) fn new(mut rows: Vec<OverlayRow<'g>>) -> OverlayPart<'g> {
        rows.sort_unstable_by_key(|&(root, account, index, _)| (root, account, index));
        let mut groups = Vec::new();
        let mut files = Vec::with_capacity(rows.len());
        for group in rows.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
            let references = group.iter().map(|r| u64::from(r.3)).sum();
            let start = files.len();
            files.extend(group.iter().map(|r| r.2));
            let mut kept = files.split_off(start);
            kept.dedup();
            files.extend(kept);
            groups.push((group[0].0, group[0].1, references, files.len()));
        }
        OverlayPart {
            groups: groups.into_boxed_slice(),
            files: files.into_boxed_slice(),
        }
    }

    /// Group `at`: its root, account, references and files.
    fn group(&self, at: usize) -> (&'g str, u64, u64, &[u32]) {
        let (root, account, references, end) = self.groups[at];
        let start = at.checked_sub(1).map_or(0, |before| self.groups[before].3);
        (root, account, references, &self.files[start..end])
    }
}

/// For each render root whose files name more than one real account: the account most of its
/// references use, keyed by every file of the root whose account differs (by index). Ties are
/// not judged: with two accounts equally used, neither is the odd one out.
///
/// `parts` are the repository's rows, a part per slice of files in file order: merged here by
/// root and account, each root is judged in turn. Neither one list of all rows (which, grown
/// by doubling, could hold twice as many) nor a map of every root's accounts at once (most of
/// this pass's memory in a repository with thousands of overlays) is made.
pub(super) fn overlay_accounts<'g>(
    parts: &[OverlayPart<'g>],
) -> std::collections::BTreeMap<u32, Vec<(String, String)>> {
    use std::cmp::Reverse;
    use std::collections::{BTreeMap, BinaryHeap};
    // The next group of each part, smallest first: its root and account, its part (so that
    // one root and account's files come in file order), its place in the part.
    type Next<'g> = Reverse<((&'g str, u64), usize, usize)>;
    let key = |part: &OverlayPart<'g>, at: usize| part.groups.get(at).map(|g| (g.0, g.1));
    let mut next: BinaryHeap<Next> = parts
        .iter()
        .enumerate()
        .filter_map(|(i, part)| Some(Reverse((key(part, 0)?, i, 0))))
        .collect();
    let mut out: BTreeMap<u32, Vec<(String, String)>> = BTreeMap::new();
    // The current root's accounts: each with its references and files, in file order.
    let mut root: Option<&str> = None;
    let mut ranked: Vec<(u64, u64, Vec<u32>)> = Vec::new();
    loop {
        let group = next.pop().map(|Reverse((_, i, at))| {
            if let Some(following) = key(&parts[i], at + 1) {
                next.push(Reverse((following, i, at + 1)));
            }
            parts[i].group(at)
        });
        if let Some(current) = root {
            if group.is_none_or(|g| g.0 != current) {
                judge_root(current, &mut ranked, &mut out);
                ranked.clear();
            }
        }
        let Some((group_root, account, references, files)) = group else {
            return out;
        };
        root = Some(group_root);
        match ranked.last_mut() {
            Some((last, refs, all)) if *last == account => {
                *refs += references;
                all.extend_from_slice(files);
            }
            _ => ranked.push((account, references, files.to_vec())),
        }
    }
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
    let majority = format!("{:012}", ranked[0].0);
    for (_, _, files) in ranked.iter().skip(1) {
        for &index in files {
            let list = out.entry(index).or_default();
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

    fn sorted(rows: Vec<OverlayRow<'static>>) -> OverlayPart<'static> {
        OverlayPart::new(rows)
    }

    /// Rows split into parts are judged as one list: a root's accounts are counted across
    /// parts (a file reached by two chains, in each), an odd file is listed once, ties are
    /// not judged.
    #[test]
    fn rows_in_parts_are_judged_as_one_list() {
        const A: u64 = 465002806239;
        const B: u64 = 210987654321;
        let rows = [
            vec![("app", A, 0, 3), ("app", B, 1, 1), ("tie", A, 2, 1)],
            vec![("app", A, 3, 1), ("tie", B, 4, 1), ("", B, 5, 1)],
            vec![
                ("app", B, 6, 1),
                ("one", A, 8, 1),
                ("app", B, 6, 1),
                ("", A, 7, 3),
            ],
        ];
        let parts = rows.clone().map(sorted);
        let judged = overlay_accounts(&parts);
        let majority = |root: &str| vec![(format!("{A:012}"), root.to_string())];
        let want: std::collections::BTreeMap<u32, Vec<(String, String)>> = [
            (1, majority("app")),
            (5, majority(".")),
            (6, majority("app")),
        ]
        .into();
        assert_eq!(judged, want);
        // A file reached by two chains is one file of its group, counted twice.
        let app_b = parts[2].group(1);
        assert_eq!(
            (app_b.0, app_b.1, app_b.2, app_b.3),
            ("app", B, 2, &[6][..])
        );
        let whole = [sorted(rows.concat())];
        assert_eq!(overlay_accounts(&whole), want);
        assert!(overlay_accounts(&[]).is_empty());
    }
}

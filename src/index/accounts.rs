//! The accounts each file names, as the repository-wide passes need them: each overlay's
//! accounts as rows (`OverlayRows`), the regions of the ECR hosts as counts.

use crate::locate::kustomize::{Graph, Kustomization};
use std::sync::Arc;

/// How many ECR registry references of the repository name each region.
pub type RegionCounts = std::collections::BTreeMap<Box<str>, usize>;

/// One row of the overlay-account pass: a render root reaching a file (once per chain that
/// reaches it), a real account the file names (a number: twelve digits, so its order is the
/// text's), the file (by its index in the run's list of files, not a copy of its path), and
/// how many of the file's references name the account. In 32 bits: a run refuses four billion
/// files or more (`engine::MAX_FILES`), and a file of at most 16 MiB holds fewer
/// references.
pub struct OverlayRow {
    pub root: Arc<str>,
    pub account: u64,
    pub file: u32,
    pub references: u32,
}

/// The repository's overlay-account rows.
#[derive(Default)]
pub struct OverlayRows(pub Vec<OverlayRow>);

impl OverlayRows {
    /// Adds the rows of the file at `file` in the run's list (`overlay_rows`).
    pub fn add(&mut self, file: u32, rows: Vec<(Arc<str>, u64, u32)>) {
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
pub fn overlay_rows(
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

//! `missing-image-override`: a base image an overlay forgot to point at its registry.

use super::{FileInput, Rule, RuleMeta};
use crate::finding::{Applicability, Finding, Fix, Severity};
use crate::locate::image_ref::parse_image;
use crate::locate::images::{FileImages, MissingOverride};
use crate::locate::kustomize::render;
use crate::locate::Role;
use crate::resolve::Resolved;
use std::collections::BTreeSet;

pub struct MissingImageOverride;

static META: RuleMeta = RuleMeta {
    id: "missing-image-override",
    severity: Severity::Error,
    summary: "An overlay renders a base image without a registry: no images: entry overrides it, so the pod would pull from Docker Hub",
    fixable: true,
    explanation: "\
What it finds
  A kustomize overlay (a render root: a kustomization nothing else includes) that renders an
  image of its bases with no registry, while it points another image of the same base file at a
  registry with an images: entry. The base names its images by short placeholder names
  (`data-processing`) and leaves them for each overlay to set; the overlay set some and forgot
  the rest. The graph is followed as kustomize does: resources, components and bases, and each
  kustomization's images: transformer along the way.

Why it matters
  An image without a registry is pulled from Docker Hub: `data-processing` becomes
  docker.io/library/data-processing, which does not exist (or, worse, is someone else's). The
  pod fails with ErrImagePull / ImagePullBackOff when it is scheduled.

Example
  base/workflowtemplate.yaml names data-ingestion, data-processing, data-eda and train-model;
  overlays/production/kustomization.yaml has an images: entry for data-ingestion only. The
  three others render bare.

Fix
  Add an images: entry to the overlay for each image reported, with the registry and naming
  the overlay's other entries use (data-ingestion -> .../ml-fashion-recommender/data_ingestion).
  `manifix fix --add-missing-overrides` appends those entries to the overlay's images: list in
  its own indentation and line endings (re-parsed and checked before writing). It is opt-in
  because the repository name is a guess from the naming scheme: check it (the seed's
  train-model image lives in a repository called train, not train_model).",
};

impl Rule for MissingImageOverride {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, file: &FileInput, resolved: &Resolved) -> Vec<Finding> {
        let at = images_key_offset(file, resolved).unwrap_or(0);
        resolved
            .missing_overrides
            .iter()
            .filter(|m| m.root_file == file.path)
            .map(|m| {
                let new_name = suggested_name(m, resolved, file.path);
                Finding {
                    rule: META.id,
                    severity: META.severity,
                    path: file.path.to_string(),
                    range: at..at,
                    line: 0,
                    column: 0,
                    message: describe(m, &new_name),
                    fix: Some(Box::new(Fix {
                        title: format!("add an images: entry for {} -> {new_name}", m.name),
                        applicability: Applicability::Unsafe,
                        replacement: new_name.clone(),
                        detail: None,
                        edits: Vec::new(),
                        append_images: vec![vec![
                            ("name".to_string(), m.name.clone()),
                            ("newName".to_string(), new_name),
                        ]],
                    })),
                }
            })
            .collect()
    }
}

/// The newName the overlay's other entries imply, with a placeholder account replaced by the
/// real one when it is known.
fn suggested_name(m: &MissingOverride, resolved: &Resolved, path: &str) -> String {
    let (sibling, sibling_to) = &m.sibling;
    let mut suggested = suggest(&m.name, sibling, sibling_to);
    // Suggesting the sibling's placeholder account would copy one mistake into another.
    if let Some(target) = resolved.accounts.target_for(path) {
        for found in crate::locate::aws::find_accounts(&suggested.clone())
            .into_iter()
            .rev()
        {
            if resolved.accounts.is_placeholder(found.account) {
                suggested.replace_range(found.range, &target.account);
            }
        }
    }
    suggested
}

fn describe(m: &MissingOverride, suggested: &str) -> String {
    let (sibling, sibling_to) = &m.sibling;
    format!(
        "image `{}` (named in {}) renders without a registry: no images: entry of this overlay overrides it, so the pod would pull docker.io/library/{} and fail with ImagePullBackOff; the overlay points `{sibling}` at {sibling_to}, so add `- name: {}` with `newName: {suggested}` (check the repository name)",
        m.name, m.from_path, m.name, m.name
    )
}

/// The registry and naming scheme of the sibling entry applied to `name`:
/// `data-ingestion` → `.../data_ingestion` makes `data-eda` → `.../data_eda`.
fn suggest(name: &str, sibling: &str, sibling_to: &str) -> String {
    let Some((prefix, last)) = sibling_to.rsplit_once('/') else {
        return name.to_string();
    };
    let last_name = if last == sibling {
        name.to_string()
    } else if last == sibling.replace('-', "_") {
        name.replace('-', "_")
    } else {
        name.to_string()
    };
    format!("{prefix}/{last_name}")
}

/// Where the kustomization's `images:` key stands (where an entry would go), if it has one.
fn images_key_offset(file: &FileInput, resolved: &Resolved) -> Option<usize> {
    let dir = crate::locate::kustomize::parent_dir(file.path);
    resolved.graph.kustomization(&dir)?.images_key()
}

fn has_registry(name: &str) -> bool {
    name.split_once('/').is_some_and(|(first, _)| {
        first.contains('.') || first.contains(':') || first == "localhost"
    })
}

/// Images of a base that a render root renders with no registry — the pod would pull from
/// Docker Hub — while the same root points another image of the same file at a registry: the
/// sign that the base leaves its images for overlays to set, and this one was forgotten.
pub fn missing_overrides_of(files: &[FileImages]) -> Vec<MissingOverride> {
    let mut out = Vec::new();
    for file in files {
        let chains = file.chains;
        if chains.is_empty() {
            continue;
        }
        let images: Vec<(usize, String)> = file
            .located
            .sites
            .iter()
            .enumerate()
            .filter(|(_, s)| s.role == Role::ContainerImage)
            .filter_map(|(i, s)| {
                let r = parse_image(&s.value)?;
                let name = match &r.registry {
                    Some(reg) => format!("{reg}/{}", r.repository),
                    None => r.repository,
                };
                Some((i, name))
            })
            .collect();
        for chain in chains {
            let Some(root) = chain.last() else { continue };
            let rendered: Vec<(usize, &String, String)> = images
                .iter()
                .map(|(i, name)| (*i, name, render(name, chain).name))
                .collect();
            let sibling = rendered
                .iter()
                .find(|(_, name, to)| !has_registry(name) && has_registry(to))
                .map(|(_, name, to)| ((*name).clone(), to.clone()));
            let Some(sibling) = sibling else { continue };
            let mut reported = BTreeSet::new();
            for (site, name, to) in &rendered {
                if has_registry(to) || !reported.insert((*name).clone()) {
                    continue;
                }
                out.push(MissingOverride {
                    root_file: root.file(),
                    name: (*name).clone(),
                    from_path: file.path.to_string(),
                    from_site: *site,
                    sibling: sibling.clone(),
                });
            }
        }
    }
    judge_missing_overrides(out)
}

/// Orders missing overrides and keeps one per render root and image, wherever the base
/// names it: what `missing_overrides_of` returns, and what lists gathered file by file need.
pub fn judge_missing_overrides(mut out: Vec<MissingOverride>) -> Vec<MissingOverride> {
    out.sort_by(|a, b| {
        (&a.root_file, &a.from_path, a.from_site).cmp(&(&b.root_file, &b.from_path, b.from_site))
    });
    out.dedup_by(|a, b| a.root_file == b.root_file && a.name == b.name);
    out
}

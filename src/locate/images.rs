//! Image tags across the repository, judged where they take effect: an image a base leaves for
//! an overlay to set is judged in the overlay's `images:` entry, not in the base.

use super::image_ref::parse_image;
use super::kustomize::{is_kustomization_file, parent_dir, render, Graph, Kustomization};
use super::tags::{TagKind, TagPolicy};
use super::{Located, Role};
use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::Arc;

/// Where a tag is written, and so where a pin is edited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagPlace {
    /// Inside an image reference (`app:latest`); for a missing tag, an empty range at the end
    /// of the name where `:tag` goes.
    InReference,
    /// A kustomize `images[].newTag` value.
    KustomizeNewTag,
    /// A Helm-style `image.tag` value.
    HelmTag,
}

#[derive(Debug, Clone)]
pub struct TagUse {
    /// The file holding the tag (shared by the file's uses).
    pub path: Arc<str>,
    /// Index of the scalar in that file's located sites.
    pub site: usize,
    /// The image as it renders, without tag: `registry/repository`.
    pub image: Box<str>,
    pub tag: Option<Box<str>>,
    pub kind: TagKind,
    /// Byte range of the tag in the site's decoded value.
    pub tag_range: Range<usize>,
    pub place: TagPlace,
    /// Render roots (kustomization directories) where this tag is the one that renders;
    /// empty when no kustomization includes the file.
    pub renders: Box<[Arc<str>]>,
}

/// One file as the image pass sees it.
pub struct FileImages<'a> {
    /// Shared with the file's uses and the run's other facts of it.
    pub path: &'a Arc<str>,
    pub located: &'a Located,
    /// Its render chains (`Graph::chains_for`): found once for every pass that needs them,
    /// since walking the graph up to every root is the costly part.
    pub chains: &'a [Vec<Arc<Kustomization>>],
}

/// Every tag use of the repository, in file and site order.
pub fn tag_uses(files: &[FileImages], graph: &Graph, policy: &TagPolicy) -> Vec<TagUse> {
    let mut out = Vec::new();
    for file in files {
        // One copy of the path for all of the file's uses.
        let path = file.path;
        for (index, site) in file.located.sites.iter().enumerate() {
            match &site.role {
                Role::ContainerImage => {
                    container_image(file, path, index, policy, &mut out);
                }
                Role::KustomizeImage { field, .. } if &**field == "newTag" => {
                    kustomize_new_tag(file, path, index, graph, policy, &mut out);
                }
                Role::HelmImage { field } if &**field == "tag" => {
                    helm_tag(file, path, index, policy, &mut out);
                }
                _ => {}
            }
        }
    }
    out
}

fn container_image(
    file: &FileImages,
    path: &Arc<str>,
    index: usize,
    policy: &TagPolicy,
    out: &mut Vec<TagUse>,
) {
    let site = &file.located.sites[index];
    let Some(image) = parse_image(&site.value) else {
        return;
    };
    if image.digest.is_some() {
        return;
    }
    let name = match &image.registry {
        Some(r) => format!("{r}/{}", image.repository),
        None => image.repository.clone(),
    };
    let chains = file.chains;
    let mut renders = BTreeSet::new();
    let mut rendered_name = name.clone();
    for chain in chains {
        let rendered = render(&name, chain);
        if rendered.tag_override.is_none() {
            if let Some(root) = chain.last() {
                renders.insert(root.dir.clone());
            }
            rendered_name = rendered.name;
        }
    }
    if !chains.is_empty() && renders.is_empty() {
        // Every overlay sets the tag: it is judged there.
        return;
    }
    if !chains.is_empty()
        && image.registry.is_none()
        && image.tag.is_none()
        && rendered_name == name
    {
        // A bare name a base leaves for overlays to set, which an overlay forgot: the
        // missing override is the problem, not the tag.
        return;
    }
    let name_end = site.value.find('@').unwrap_or(site.value.len());
    let (tag_range, tag) = match (&image.tag_range, &image.tag) {
        (Some(r), Some(t)) => (r.clone(), Some(Box::from(t.as_str()))),
        _ => (name_end..name_end, None),
    };
    out.push(TagUse {
        path: Arc::clone(path),
        site: index,
        image: rendered_name.into(),
        kind: policy.classify(tag.as_deref()),
        tag,
        tag_range,
        place: TagPlace::InReference,
        renders: renders.into_iter().collect(),
    });
}

fn kustomize_new_tag(
    file: &FileImages,
    path: &Arc<str>,
    index: usize,
    graph: &Graph,
    policy: &TagPolicy,
    out: &mut Vec<TagUse>,
) {
    if !is_kustomization_file(file.path) {
        return;
    }
    let site = &file.located.sites[index];
    let Role::KustomizeImage {
        name: Some(name), ..
    } = &site.role
    else {
        return;
    };
    let dir = parent_dir(file.path);
    let Some(kustomization) = graph.kustomization(&dir) else {
        return;
    };
    let Some(entry) = kustomization.images.iter().find(|e| e.name() == &**name) else {
        return;
    };
    if entry.digest().is_some() {
        return;
    }
    let renders: BTreeSet<Arc<str>> = graph
        .chains_from_dir(&dir)
        .iter()
        .filter_map(|c| c.last().map(|k| k.dir.clone()))
        .collect();
    out.push(TagUse {
        path: Arc::clone(path),
        site: index,
        image: entry.new_name().unwrap_or(entry.name()).into(),
        tag: Some(site.value.as_str().into()),
        kind: policy.classify(Some(&site.value)),
        tag_range: 0..site.value.len(),
        place: TagPlace::KustomizeNewTag,
        renders: renders.into_iter().collect(),
    });
}

fn helm_tag(
    file: &FileImages,
    path: &Arc<str>,
    index: usize,
    policy: &TagPolicy,
    out: &mut Vec<TagUse>,
) {
    let site = &file.located.sites[index];
    let Some(prefix) = site.path.strip_suffix("tag") else {
        return;
    };
    let sibling = |field: &str| {
        file.located
            .sites
            .iter()
            .find(|s| s.document == site.document && *s.path == format!("{prefix}{field}"))
            .map(|s| s.value.clone())
    };
    let Some(repository) = sibling("repository") else {
        return;
    };
    let image = match sibling("registry") {
        Some(registry) if !registry.is_empty() => format!("{registry}/{repository}"),
        _ => repository,
    };
    out.push(TagUse {
        path: Arc::clone(path),
        site: index,
        image: image.into(),
        tag: Some(site.value.as_str().into()),
        kind: policy.classify(Some(&site.value)),
        tag_range: 0..site.value.len(),
        place: TagPlace::HelmTag,
        renders: Box::default(),
    });
}

/// An image that a render root leaves without a registry while overriding its siblings.
#[derive(Debug, Clone)]
pub struct MissingOverride {
    /// The render root's kustomization file, where the `images:` entry belongs.
    pub root_file: String,
    /// The image name as the base writes it (and as an `images:` entry would match it).
    pub name: String,
    /// Where the base names it: file and 1-based site index for messages.
    pub from_path: String,
    pub from_site: usize,
    /// A sibling image of the same file that this root does override: (name, newName).
    pub sibling: (String, String),
}

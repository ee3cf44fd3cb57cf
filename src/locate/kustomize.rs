//! The kustomize graph of a repository: which kustomization includes which files and bases,
//! and what its `images:` entries do to an image on the way to a rendered overlay.

use crate::yaml::{Node, ParsedFile};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One `images:` entry of a kustomization. A run holds every entry of the repository, so
/// its texts are sized exactly and its file is its kustomization's.
#[derive(Debug, Clone)]
pub struct ImageOverride {
    pub name: Box<str>,
    pub new_name: Option<Box<str>>,
    pub new_tag: Option<Box<str>>,
    pub digest: Option<Box<str>>,
    /// The entry's index in its `images:` list.
    pub index: usize,
}

#[derive(Debug, Clone)]
pub struct Kustomization {
    /// Directory, relative to the root ("" for the root itself). Shared: every image use and
    /// overlay fact of a large run that names its render root holds this one string.
    pub dir: Arc<str>,
    pub file: String,
    /// Resources and components, as root-relative paths of files or directories; moved into
    /// the graph (and so emptied) when the graph is built.
    pub includes: Vec<String>,
    pub images: Vec<ImageOverride>,
    /// The `namespace:` it sets on every resource, if any.
    pub namespace: Option<String>,
    /// Byte offset of its `images:` key, where a new entry is reported.
    pub images_key: Option<usize>,
}

impl Kustomization {
    /// What the graph needs of a kustomization file; `None` for any other file.
    pub fn read(rel: &str, parsed: &ParsedFile) -> Option<Kustomization> {
        if !is_kustomization_file(rel) {
            return None;
        }
        let root = parsed.documents.first().map(|d| &d.root)?;
        let dir = parent_dir(rel);
        let mut includes = Vec::new();
        for key in ["resources", "components", "bases"] {
            for item in root.get(key).map(Node::items).unwrap_or_default() {
                if let Some(path) = item.as_str().filter(|p| !is_remote(p)) {
                    includes.push(join(&dir, path));
                }
            }
        }
        let mut images = root
            .get("images")
            .map(Node::items)
            .unwrap_or_default()
            .iter()
            .enumerate()
            .filter_map(|(index, entry)| {
                let text = |k: &str| entry.get(k).and_then(Node::as_str).map(Box::from);
                Some(ImageOverride {
                    name: text("name")?,
                    new_name: text("newName"),
                    new_tag: text("newTag"),
                    digest: text("digest"),
                    index,
                })
            })
            .collect::<Vec<_>>();
        images.shrink_to_fit();
        let images_key = root.entries().iter().find_map(|(k, _)| match k {
            Node::Scalar(s) if s.value == "images" => Some(s.span.start),
            _ => None,
        });
        Some(Kustomization {
            dir: dir.into(),
            file: rel.to_string(),
            includes,
            images,
            namespace: root
                .get("namespace")
                .and_then(Node::as_str)
                .map(str::to_string),
            images_key,
        })
    }
}

#[derive(Debug, Default)]
pub struct Graph {
    by_dir: BTreeMap<Arc<str>, Kustomization>,
    /// For each included path (file or directory), the kustomization dirs that include it.
    parents: BTreeMap<String, Vec<Arc<str>>>,
}

/// How an image comes out of a chain of kustomizations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub name: String,
    /// The override that set the tag (or digest), when one did.
    pub tag_override: Option<(String, usize)>,
}

const KUSTOMIZATION_FILES: &[&str] = &["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// The most render chains followed from one file or directory (see `Graph::walk_up`).
const MAX_CHAINS: usize = 1024;

pub fn is_kustomization_file(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    KUSTOMIZATION_FILES.contains(&name)
}

impl Graph {
    /// Builds the graph from every parsed kustomization file among `files` (root-relative).
    pub fn build<'a>(files: impl IntoIterator<Item = (&'a str, &'a ParsedFile)>) -> Graph {
        Graph::from_kustomizations(
            files
                .into_iter()
                .filter_map(|(rel, parsed)| Kustomization::read(rel, parsed)),
        )
    }

    /// Builds the graph from kustomizations read file by file (`Kustomization::read`), so a
    /// run need not keep their parses.
    pub fn from_kustomizations(all: impl IntoIterator<Item = Kustomization>) -> Graph {
        let mut graph = Graph::default();
        for mut k in all {
            // Moved, not copied: the graph holds each included path once.
            for inc in std::mem::take(&mut k.includes) {
                graph.parents.entry(inc).or_default().push(k.dir.clone());
            }
            graph.by_dir.insert(k.dir.clone(), k);
        }
        // Most paths have one includer: no list keeps the slack of its first growth.
        for includers in graph.parents.values_mut() {
            includers.shrink_to_fit();
        }
        graph
    }

    pub fn is_empty(&self) -> bool {
        self.by_dir.is_empty()
    }

    /// Every chain of kustomizations through which `file` reaches a render root (a
    /// kustomization nothing else includes), innermost first. Empty when no kustomization
    /// includes the file.
    pub fn chains_for(&self, file: &str) -> Vec<Vec<&Kustomization>> {
        let mut out = Vec::new();
        let mut chain = Vec::new();
        let mut seen = Vec::new();
        for parent in self.parents.get(file).into_iter().flatten() {
            self.walk_up(parent, &mut chain, &mut seen, &mut out);
        }
        out
    }

    /// Chains from the kustomization in `dir` itself up to each render root.
    pub fn chains_from_dir(&self, dir: &str) -> Vec<Vec<&Kustomization>> {
        let mut out = Vec::new();
        self.walk_up(dir, &mut Vec::new(), &mut Vec::new(), &mut out);
        out
    }

    fn walk_up<'a: 'b, 'b>(
        &'a self,
        dir: &'b str,
        chain: &mut Vec<&'a Kustomization>,
        // The dirs of the chain being walked: a handful, so a list beats a set.
        seen: &mut Vec<&'b str>,
        out: &mut Vec<Vec<&'a Kustomization>>,
    ) {
        let Some(k) = self.by_dir.get(dir) else {
            return;
        };
        // Overlays that each include both of the level below make 2^levels chains: 18 levels
        // took 13 s, a few more would take hours. Real repositories have a handful per file,
        // and kustomize rejects such graphs anyway (the same resources twice).
        if out.len() >= MAX_CHAINS {
            return;
        }
        // A cycle in the graph (kustomize rejects it too) must not loop forever here.
        if seen.contains(&dir) {
            return;
        }
        seen.push(dir);
        chain.push(k);
        let parents = self.parents.get(dir).map(Vec::as_slice).unwrap_or_default();
        if parents.is_empty() {
            out.push(chain.clone());
        }
        for parent in parents {
            self.walk_up(parent, chain, seen, out);
        }
        chain.pop();
        seen.pop();
    }

    pub fn kustomization(&self, dir: &str) -> Option<&Kustomization> {
        self.by_dir.get(dir)
    }
}

/// Applies each kustomization's `images:` along `chain` to an image called `name`, the way
/// kustomize's images transformer does: an entry matches the name as it is at that point.
pub fn render(name: &str, chain: &[&Kustomization]) -> Rendered {
    let mut current = name.to_string();
    let mut tag_override = None;
    for k in chain {
        if let Some(entry) = k.images.iter().find(|e| *e.name == current) {
            if entry.new_tag.is_some() || entry.digest.is_some() {
                tag_override = Some((k.file.clone(), entry.index));
            }
            if let Some(new_name) = &entry.new_name {
                current = new_name.to_string();
            }
        }
    }
    Rendered {
        name: current,
        tag_override,
    }
}

fn is_remote(path: &str) -> bool {
    path.contains("://") || path.starts_with("github.com/") || path.starts_with("git@")
}

pub fn parent_dir(rel: &str) -> String {
    rel.rsplit_once('/')
        .map(|(d, _)| d.to_string())
        .unwrap_or_default()
}

/// Joins a kustomization-relative path to its directory, resolving `.` and `..`.
fn join(dir: &str, path: &str) -> String {
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse;

    #[test]
    fn follows_overlays_to_render_roots() {
        let base = parse("resources:\n  - wf.yaml\nimages:\n  - name: a\n    newName: reg/a\n")
            .expect("yaml");
        let prod = parse(
            "resources:\n  - ../../base\nimages:\n  - name: reg/a\n    newTag: main-latest\n",
        )
        .expect("yaml");
        let graph = Graph::build([
            ("app/base/kustomization.yaml", &base),
            ("app/overlays/prod/kustomization.yaml", &prod),
        ]);
        let chains = graph.chains_for("app/base/wf.yaml");
        assert_eq!(chains.len(), 1);
        let dirs: Vec<&str> = chains[0].iter().map(|k| &*k.dir).collect();
        assert_eq!(dirs, ["app/base", "app/overlays/prod"]);
        let r = render("a", &chains[0]);
        assert_eq!(r.name, "reg/a");
        assert_eq!(
            r.tag_override,
            Some(("app/overlays/prod/kustomization.yaml".to_string(), 0))
        );
        assert!(graph.chains_for("elsewhere.yaml").is_empty());
    }
}

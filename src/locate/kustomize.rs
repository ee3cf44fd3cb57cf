//! The kustomize graph of a repository: which kustomization includes which files and bases,
//! and what its `images:` entries do to an image on the way to a rendered overlay.

use crate::yaml::{Node, ParsedFile};
use std::collections::HashMap;
use std::sync::Arc;

/// One `images:` entry of a kustomization; its file is its kustomization's.
#[derive(Clone, PartialEq, Eq)]
pub struct ImageOverride {
    name: Box<str>,
    new_name: Option<Box<str>>,
    /// `newTag` and `digest`, one after the other (an absent one empty).
    tag_texts: Option<Box<str>>,
    /// Where `newTag` ends in `tag_texts`.
    tag_end: u32,
    /// Which of `newTag` and `digest` the entry has (bits 0 and 1).
    present: u8,
    /// The entry's index in its `images:` list.
    pub index: u32,
}

impl ImageOverride {
    /// An entry with these texts; `None` when they are too long to be indexed (over 4 GiB).
    pub fn new(
        name: &str,
        new_name: Option<&str>,
        new_tag: Option<&str>,
        digest: Option<&str>,
        index: usize,
    ) -> Option<ImageOverride> {
        let new_tag_text = new_tag.unwrap_or_default();
        let tag_texts = match (new_tag, digest) {
            (None, None) => None,
            _ => Some(format!("{new_tag_text}{}", digest.unwrap_or_default()).into_boxed_str()),
        };
        Some(ImageOverride {
            name: Box::from(name),
            new_name: new_name.map(Box::from),
            tag_texts,
            tag_end: u32::try_from(new_tag_text.len()).ok()?,
            present: u8::from(new_tag.is_some()) | (u8::from(digest.is_some()) << 1),
            index: u32::try_from(index).ok()?,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn new_name(&self) -> Option<&str> {
        self.new_name.as_deref()
    }

    pub fn new_tag(&self) -> Option<&str> {
        let texts = self.tag_texts.as_deref()?;
        (self.present & 1 != 0).then(|| texts.get(..self.tag_end as usize).unwrap_or_default())
    }

    pub fn digest(&self) -> Option<&str> {
        let texts = self.tag_texts.as_deref()?;
        (self.present & 2 != 0).then(|| texts.get(self.tag_end as usize..).unwrap_or_default())
    }
}

impl std::fmt::Debug for ImageOverride {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageOverride")
            .field("name", &self.name())
            .field("new_name", &self.new_name())
            .field("new_tag", &self.new_tag())
            .field("digest", &self.digest())
            .field("index", &self.index)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct Kustomization {
    /// Directory, relative to the root ("" for the root itself). Shared by the facts made
    /// from one lookup that name it as a render root.
    pub dir: Arc<str>,
    /// Its file's name, as an index into `KUSTOMIZATION_FILES`: its path is `file()`.
    name: u8,
    /// Resources and components, as root-relative paths of files or directories; moved into
    /// the graph (and so emptied) when the graph is built.
    pub includes: Box<[String]>,
    pub images: Box<[ImageOverride]>,
    /// The `namespace:` it sets on every resource, if any.
    pub namespace: Option<Arc<str>>,
    /// Byte offset of its `images:` key, where a new entry is reported (`images_key`).
    images_key: Option<u32>,
}

impl Kustomization {
    /// The path of its file, relative to the root.
    pub fn file(&self) -> String {
        let name = KUSTOMIZATION_FILES[usize::from(self.name)];
        if self.dir.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.dir)
        }
    }

    /// Byte offset of its `images:` key, where a new entry is reported.
    pub fn images_key(&self) -> Option<usize> {
        self.images_key.map(|at| at as usize)
    }

    /// What the graph needs of a kustomization file; `None` for any other file.
    pub fn read(rel: &str, parsed: &ParsedFile) -> Option<Kustomization> {
        let name = kustomization_file_name(rel)?;
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
        let images = root
            .get("images")
            .map(Node::items)
            .unwrap_or_default()
            .iter()
            .enumerate()
            .filter_map(|(index, entry)| {
                let text = |k: &str| entry.get(k).and_then(Node::as_str);
                ImageOverride::new(
                    text("name")?,
                    text("newName"),
                    text("newTag"),
                    text("digest"),
                    index,
                )
            })
            .collect();
        let images_key = root.entries().iter().find_map(|(k, _)| match k {
            // A file of at most 16 MiB (`engine::MAX_FILE_BYTES`) has 32-bit offsets.
            Node::Scalar(s) if s.value == "images" => u32::try_from(s.span.start).ok(),
            _ => None,
        });
        Some(Kustomization {
            dir: dir.into(),
            name,
            includes: includes.into_boxed_slice(),
            images,
            namespace: root.get("namespace").and_then(Node::as_str).map(Arc::from),
            images_key,
        })
    }
}

/// The kustomize graph: by directory, each kustomization; by path, the kustomizations that
/// include it. Lookups come from every core.
#[derive(Default)]
pub struct Graph {
    /// One per directory (the last read, as kustomize would see one file there), without its
    /// includes.
    by_dir: HashMap<Arc<str>, Arc<Kustomization>>,
    /// Each included path (file or directory), with the dirs of the kustomizations that
    /// include it, in the order they were read.
    parents: HashMap<Box<str>, Vec<Arc<str>>>,
}

impl std::fmt::Debug for Graph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Graph")
            .field("kustomizations", &self.by_dir.len())
            .finish()
    }
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
    kustomization_file_name(rel).is_some()
}

/// The name of the kustomization file at `rel`, as an index into `KUSTOMIZATION_FILES`, when
/// it is one.
fn kustomization_file_name(rel: &str) -> Option<u8> {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    let index = KUSTOMIZATION_FILES.iter().position(|&k| k == name)?;
    u8::try_from(index).ok()
}

/// Takes the kustomizations as they are read.
#[derive(Default)]
pub struct GraphBuilder {
    graph: Graph,
}

impl GraphBuilder {
    pub fn add(&mut self, mut kustomization: Kustomization) {
        let dir = Arc::clone(&kustomization.dir);
        for path in std::mem::take(&mut kustomization.includes) {
            self.graph
                .parents
                .entry(path.into_boxed_str())
                .or_default()
                .push(Arc::clone(&dir));
        }
        self.graph.by_dir.insert(dir, Arc::new(kustomization));
    }

    pub fn finish(self) -> Graph {
        self.graph
    }
}

impl Graph {
    /// Builds the graph from every parsed kustomization file among `files` (root-relative).
    pub fn build<'a>(files: impl IntoIterator<Item = (&'a str, &'a ParsedFile)>) -> Graph {
        let mut builder = GraphBuilder::default();
        for (rel, parsed) in files {
            if let Some(kustomization) = Kustomization::read(rel, parsed) {
                builder.add(kustomization);
            }
        }
        builder.finish()
    }

    /// The dirs of the kustomizations that include `path`, in the order read.
    fn includers(&self, path: &str) -> Option<&[Arc<str>]> {
        self.parents.get(path).map(Vec::as_slice)
    }

    pub fn is_empty(&self) -> bool {
        self.by_dir.is_empty()
    }

    /// Every chain of kustomizations through which `file` reaches a render root (a
    /// kustomization nothing else includes), innermost first. Empty when no kustomization
    /// includes the file.
    pub fn chains_for(&self, file: &str) -> Vec<Vec<Arc<Kustomization>>> {
        let mut out = Vec::new();
        let mut chain = Vec::new();
        let mut seen = Vec::new();
        for parent in self.includers(file).unwrap_or_default() {
            self.walk_up(parent, &mut chain, &mut seen, &mut out);
        }
        out
    }

    /// Chains from the kustomization in `dir` itself up to each render root.
    pub fn chains_from_dir(&self, dir: &str) -> Vec<Vec<Arc<Kustomization>>> {
        let mut out = Vec::new();
        self.walk_up(dir, &mut Vec::new(), &mut Vec::new(), &mut out);
        out
    }

    fn walk_up(
        &self,
        dir: &str,
        chain: &mut Vec<Arc<Kustomization>>,
        // The dirs of the chain being walked: a handful, so a list beats a set.
        seen: &mut Vec<Arc<str>>,
        out: &mut Vec<Vec<Arc<Kustomization>>>,
    ) {
        let Some(k) = self.kustomization(dir) else {
            return;
        };
        // Overlays that each include both of the level below make 2^levels chains: 18 levels
        // took 13 s, a few more would take hours. Real repositories have a handful per file,
        // and kustomize rejects such graphs anyway (the same resources twice).
        if out.len() >= MAX_CHAINS {
            return;
        }
        // A cycle in the graph (kustomize rejects it too) must not loop forever here.
        if seen.iter().any(|s| **s == *dir) {
            return;
        }
        seen.push(Arc::clone(&k.dir));
        chain.push(k);
        match self.includers(dir) {
            None => out.push(chain.clone()),
            Some(parents) => {
                for parent in parents {
                    self.walk_up(parent, chain, seen, out);
                }
            }
        }
        chain.pop();
        seen.pop();
    }

    /// The kustomization in `dir`.
    pub fn kustomization(&self, dir: &str) -> Option<Arc<Kustomization>> {
        self.by_dir.get(dir).cloned()
    }
}

/// Applies each kustomization's `images:` along `chain` to an image called `name`, the way
/// kustomize's images transformer does: an entry matches the name as it is at that point.
pub fn render(name: &str, chain: &[Arc<Kustomization>]) -> Rendered {
    let mut current = name.to_string();
    let mut tag_override = None;
    for k in chain {
        if let Some(entry) = k.images.iter().find(|e| e.name() == current) {
            if entry.new_tag().is_some() || entry.digest().is_some() {
                tag_override = Some((k.file(), entry.index as usize));
            }
            if let Some(new_name) = entry.new_name() {
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

/// A kustomization directory as reports name it: the root's is `.`.
pub fn shown_dir(dir: &str) -> &str {
    if dir.is_empty() {
        "."
    } else {
        dir
    }
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

    /// Several overlays include one base (their chains come in the order they were read, not
    /// sorted), and of two kustomizations in one directory the last read is the one kept.
    #[test]
    fn includers_keep_their_order_and_the_last_kustomization_of_a_dir_wins() {
        let yaml = |text: &str| parse(text).expect("yaml");
        let base = yaml("resources:\n  - deploy.yaml\n");
        let zeta = yaml("resources:\n  - ../../base\n");
        let alpha = yaml("resources:\n  - ../../base\n");
        let first = yaml("namespace: first\nresources:\n  - ../../base\n");
        let last = yaml("namespace: last\nresources:\n  - ../../base\n");
        let graph = Graph::build([
            ("app/base/kustomization.yaml", &base),
            ("app/overlays/zeta/kustomization.yaml", &zeta),
            ("app/overlays/alpha/kustomization.yaml", &alpha),
            ("app/overlays/dup/kustomization.yaml", &first),
            ("app/overlays/dup/kustomization.yml", &last),
        ]);
        let chains = graph.chains_for("app/base/deploy.yaml");
        let roots: Vec<&str> = chains
            .iter()
            .map(|c| &*c.last().expect("a chain").dir)
            .collect();
        assert_eq!(
            roots,
            [
                "app/overlays/zeta",
                "app/overlays/alpha",
                "app/overlays/dup",
                "app/overlays/dup"
            ]
        );
        let dup = graph.kustomization("app/overlays/dup").expect("kept");
        assert_eq!(dup.namespace.as_deref(), Some("last"));
        assert_eq!(dup.file(), "app/overlays/dup/kustomization.yml");
        assert!(graph.kustomization("app/overlays").is_none());
        assert!(graph.kustomization("app/base").is_some());
    }

    /// An entry's four texts come back as they were given, whichever of them it has, empty
    /// ones included.
    #[test]
    fn an_image_override_keeps_its_texts_apart() {
        let texts = [None, Some(""), Some("reg/a"), Some("sha256:0f")];
        for new_name in texts {
            for new_tag in texts {
                for digest in texts {
                    let entry =
                        ImageOverride::new("a", new_name, new_tag, digest, 7).expect("short texts");
                    assert_eq!(entry.name(), "a");
                    assert_eq!(entry.new_name(), new_name);
                    assert_eq!(entry.new_tag(), new_tag);
                    assert_eq!(entry.digest(), digest);
                    assert_eq!(entry.index, 7);
                }
            }
        }
        let empty = ImageOverride::new("", None, Some("v1"), None, 0).expect("short");
        assert_eq!((empty.name(), empty.new_tag()), ("", Some("v1")));
        let parsed = parse("images:\n  - name: a\n    newTag: ''\n  - newName: b\n  - name: c\n")
            .expect("yaml");
        let k = Kustomization::read("x/kustomization.yaml", &parsed).expect("kustomization");
        assert_eq!(k.file(), "x/kustomization.yaml");
        let entries: Vec<_> = k
            .images
            .iter()
            .map(|e| (e.name(), e.new_tag(), e.index))
            .collect();
        assert_eq!(
            entries,
            [("a", Some(""), 0), ("c", None, 2)],
            "an entry without a name is not kept"
        );
        let root = Kustomization::read("Kustomization", &parsed).expect("kustomization");
        assert_eq!(root.file(), "Kustomization");
    }
}

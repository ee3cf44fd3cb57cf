//! The kustomize graph of a repository: which kustomization includes which files and bases,
//! and what its `images:` entries do to an image on the way to a rendered overlay.

use crate::yaml::{Node, ParsedFile};
use std::sync::Arc;

/// One `images:` entry of a kustomization. A run holds every entry of the repository, so its
/// four texts are kept in one allocation, and its file is its kustomization's.
#[derive(Clone, PartialEq, Eq)]
pub struct ImageOverride {
    /// `name`, `newName`, `newTag` and `digest`, one after the other (an absent one empty).
    texts: Box<str>,
    /// Where each of the four ends in `texts`.
    ends: [u32; 4],
    /// Which of `newName`, `newTag` and `digest` the entry has (bits 0, 1 and 2).
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
        let mut texts = String::from(name);
        let mut ends = [0; 4];
        let mut present = 0;
        ends[0] = u32::try_from(texts.len()).ok()?;
        for (i, text) in [new_name, new_tag, digest].into_iter().enumerate() {
            if let Some(text) = text {
                texts.push_str(text);
                present |= 1 << i;
            }
            ends[i + 1] = u32::try_from(texts.len()).ok()?;
        }
        Some(ImageOverride {
            texts: texts.into_boxed_str(),
            ends,
            present,
            index: u32::try_from(index).ok()?,
        })
    }

    pub fn name(&self) -> &str {
        self.text(0)
    }

    pub fn new_name(&self) -> Option<&str> {
        self.optional(0)
    }

    pub fn new_tag(&self) -> Option<&str> {
        self.optional(1)
    }

    pub fn digest(&self) -> Option<&str> {
        self.optional(2)
    }

    /// The `which`th of the optional texts, when the entry has it.
    fn optional(&self, which: usize) -> Option<&str> {
        (self.present & (1 << which) != 0).then(|| self.text(which + 1))
    }

    /// The `i`th of the four texts.
    fn text(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.texts
            .get(start..self.ends[i] as usize)
            .unwrap_or_default()
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
    /// Directory, relative to the root ("" for the root itself). Shared: every image use and
    /// overlay fact of a large run that names its render root holds this one string.
    pub dir: Arc<str>,
    /// Its file's name (one of `KUSTOMIZATION_FILES`): its path is `file()`.
    name: &'static str,
    /// Resources and components, as root-relative paths of files or directories; moved into
    /// the graph (and so emptied) when the graph is built.
    pub includes: Box<[String]>,
    pub images: Box<[ImageOverride]>,
    /// The `namespace:` it sets on every resource, if any.
    pub namespace: Option<Box<str>>,
    /// Byte offset of its `images:` key, where a new entry is reported.
    pub images_key: Option<usize>,
}

impl Kustomization {
    /// The path of its file, relative to the root.
    pub fn file(&self) -> String {
        if self.dir.is_empty() {
            self.name.to_string()
        } else {
            format!("{}/{}", self.dir, self.name)
        }
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
            Node::Scalar(s) if s.value == "images" => Some(s.span.start),
            _ => None,
        });
        Some(Kustomization {
            dir: dir.into(),
            name,
            includes: includes.into_boxed_slice(),
            images,
            namespace: root.get("namespace").and_then(Node::as_str).map(Box::from),
            images_key,
        })
    }
}

/// Built once and then only looked up: sorted lists searched by halves rather than maps,
/// which held half-empty nodes (keys arrive in order) and were the largest part of a large
/// run's memory after its file list.
#[derive(Debug, Default)]
pub struct Graph {
    /// Sorted by directory, one per directory (the last read, as a map would keep).
    by_dir: Vec<Kustomization>,
    /// Each included path (file or directory), sorted, with the dirs of the kustomizations
    /// that include it, in the order they were read.
    parents: Vec<Included>,
}

/// An included path and the dirs of the kustomizations that include it.
type Included = (Box<str>, Box<[Arc<str>]>);

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

/// The name of the kustomization file at `rel`, when it is one.
fn kustomization_file_name(rel: &str) -> Option<&'static str> {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    KUSTOMIZATION_FILES.iter().find(|&&k| k == name).copied()
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
        let mut by_dir: Vec<Kustomization> = all.into_iter().collect();
        // Moved, not copied: the graph holds each included path once.
        let mut included: Vec<(String, Arc<str>)> = by_dir
            .iter_mut()
            .flat_map(|k| {
                let dir = &k.dir;
                std::mem::take(&mut k.includes)
                    .into_vec()
                    .into_iter()
                    .map(|inc| (inc, dir.clone()))
            })
            .collect();
        // Stable sorts: includers stay in the order read, and of two kustomizations of one
        // directory the last read is the one kept.
        included.sort_by(|a, b| a.0.cmp(&b.0));
        let mut parents = Vec::new();
        let mut included = included.into_iter().peekable();
        while let Some((path, dir)) = included.next() {
            let mut includers = vec![dir];
            while let Some((_, dir)) = included.next_if(|(next, _)| *next == path) {
                includers.push(dir);
            }
            parents.push((path.into_boxed_str(), includers.into_boxed_slice()));
        }
        crate::sorted::sort_keeping_last(&mut by_dir, |a, b| a.dir.cmp(&b.dir));
        by_dir.shrink_to_fit();
        parents.shrink_to_fit();
        Graph { by_dir, parents }
    }

    /// The kustomization in `dir`.
    fn in_dir(&self, dir: &str) -> Option<&Kustomization> {
        self.by_dir
            .binary_search_by(|k| (*k.dir).cmp(dir))
            .ok()
            .map(|at| &self.by_dir[at])
    }

    /// The dirs of the kustomizations that include `path`, in the order read.
    fn includers(&self, path: &str) -> &[Arc<str>] {
        self.parents
            .binary_search_by(|(p, _)| (**p).cmp(path))
            .map_or(&[], |at| &self.parents[at].1)
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
        for parent in self.includers(file) {
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
        let Some(k) = self.in_dir(dir) else {
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
        let parents = self.includers(dir);
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
        self.in_dir(dir)
    }
}

/// Applies each kustomization's `images:` along `chain` to an image called `name`, the way
/// kustomize's images transformer does: an entry matches the name as it is at that point.
pub fn render(name: &str, chain: &[&Kustomization]) -> Rendered {
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
        let roots: Vec<&str> = graph
            .chains_for("app/base/deploy.yaml")
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

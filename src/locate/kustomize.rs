//! The kustomize graph of a repository: which kustomization includes which files and bases,
//! and what its `images:` entries do to an image on the way to a rendered overlay.

use crate::yaml::{Node, ParsedFile};
use std::sync::Arc;

/// One `images:` entry of a kustomization. A run holds every entry of the repository: the
/// names, which a base and each of its overlays repeat, are shared (`Texts`), and its file is
/// its kustomization's.
#[derive(Clone, PartialEq, Eq)]
pub struct ImageOverride {
    name: Arc<str>,
    new_name: Option<Arc<str>>,
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
            name: Arc::from(name),
            new_name: new_name.map(Arc::from),
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

    /// Shares its names with the same names elsewhere in the run (`texts`).
    fn share(&mut self, texts: &mut Texts) {
        texts.share(&mut self.name);
        if let Some(new_name) = &mut self.new_name {
            texts.share(new_name);
        }
    }
}

/// Texts a run holds once however often the repository repeats them: image names and
/// namespaces, which a base and each of its overlays repeat.
#[derive(Debug, Default)]
pub struct Texts(std::collections::HashSet<Arc<str>>);

impl Texts {
    /// Makes `text` the run's one copy of it.
    fn share(&mut self, text: &mut Arc<str>) {
        match self.0.get(&**text) {
            Some(shared) => *text = Arc::clone(shared),
            None => {
                self.0.insert(Arc::clone(text));
            }
        }
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
    /// Its file's name, as an index into `KUSTOMIZATION_FILES`: its path is `file()`.
    name: u8,
    /// Resources and components, as root-relative paths of files or directories; moved into
    /// the graph (and so emptied) when the graph is built.
    pub includes: Box<[String]>,
    pub images: Box<[ImageOverride]>,
    /// The `namespace:` it sets on every resource, if any (shared, like image names).
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

    /// Shares its image names and namespace with the same texts elsewhere in the run: called
    /// as each kustomization is read, so that a large run never holds a copy per overlay.
    pub fn share(&mut self, texts: &mut Texts) {
        for image in &mut self.images {
            image.share(texts);
        }
        if let Some(namespace) = &mut self.namespace {
            texts.share(namespace);
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
type Included = (Box<str>, Includers);

/// The dirs of the kustomizations that include a path: almost always one, kept without a list
/// of its own.
#[derive(Debug)]
enum Includers {
    One(Arc<str>),
    Many(Box<[Arc<str>]>),
}

impl Includers {
    fn as_slice(&self) -> &[Arc<str>] {
        match self {
            Includers::One(dir) => std::slice::from_ref(dir),
            Includers::Many(dirs) => dirs,
        }
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
            let includers = match included.next_if(|(next, _)| *next == path) {
                None => Includers::One(dir),
                Some((_, second)) => {
                    let mut dirs = vec![dir, second];
                    while let Some((_, dir)) = included.next_if(|(next, _)| *next == path) {
                        dirs.push(dir);
                    }
                    Includers::Many(dirs.into_boxed_slice())
                }
            };
            parents.push((path.into_boxed_str(), includers));
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
            .map_or(&[], |at| self.parents[at].1.as_slice())
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

    /// Kustomizations that repeat an image name or a namespace share one copy of it.
    #[test]
    fn repeated_names_are_shared() {
        let text =
            "namespace: shop\nimages:\n  - name: app\n    newName: reg/app\n    newTag: v1\n";
        let parsed = parse(text).expect("yaml");
        let mut texts = Texts::default();
        let mut read = |rel: &str| {
            let mut k = Kustomization::read(rel, &parsed).expect("kustomization");
            k.share(&mut texts);
            k
        };
        let (dev, prod) = (
            read("dev/kustomization.yaml"),
            read("prod/kustomization.yaml"),
        );
        let (a, b) = (&dev.images[0], &prod.images[0]);
        assert!(Arc::ptr_eq(&a.name, &b.name));
        assert!(Arc::ptr_eq(
            a.new_name.as_ref().expect("newName"),
            b.new_name.as_ref().expect("newName")
        ));
        assert!(Arc::ptr_eq(
            dev.namespace.as_ref().expect("namespace"),
            prod.namespace.as_ref().expect("namespace")
        ));
        assert_eq!(
            (b.name(), b.new_name(), b.new_tag()),
            ("app", Some("reg/app"), Some("v1"))
        );
        assert_eq!(dev.images_key(), Some(text.find("images").expect("key")));
    }
}

//! The files a walk found: each file's entry (where it is, how users see it, what the walk
//! saw of it) and the list of them, sorted by relative path.

use crate::fsio::Seen;
use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Yaml,
    Terraform,
}

#[derive(Debug, Clone)]
pub struct FileEntry {
    /// Where the file is read and written (`abs`).
    location: Location,
    /// Relative to the run's root, `/`-separated: what users see.
    pub rel: String,
    pub kind: FileKind,
    /// What the walk saw of it, to open it again safely (`crate::fsio`).
    pub seen: Seen,
}

/// Where a file is on disk. Almost always the root joined with the file's relative path,
/// which is then not stored again for each file: a path of its own per file was a tenth of a
/// large run's memory.
#[derive(Debug, Clone)]
enum Location {
    /// A base (shared by every file under it: the root, or none when the relative path is
    /// the path walked) joined with `rel`.
    UnderRoot(Arc<Path>),
    /// The path as walked, when joining gives a different path (a path outside the root, a
    /// name that is not UTF-8, a `./` the relative path drops).
    Elsewhere(Box<Path>),
}

impl FileEntry {
    /// The entry of a file at `path` that the user named whole, whose path relative to
    /// `root` is `rel`.
    pub fn new(root: &Arc<Path>, path: &Path, rel: String, kind: FileKind) -> FileEntry {
        FileEntry::walked(root, path, rel, kind, Seen::named(path))
    }

    /// The entry of the file walked at `path`, whose path relative to `root` is `rel`.
    pub fn walked(
        root: &Arc<Path>,
        path: &Path,
        rel: String,
        kind: FileKind,
        seen: Seen,
    ) -> FileEntry {
        let location = if root.join(&rel).as_os_str() == path.as_os_str() {
            Location::UnderRoot(Arc::clone(root))
        } else if Path::new(&rel).as_os_str() == path.as_os_str() {
            // Several paths under `.` are walked as `apps/a.yaml`, not `./apps/a.yaml`.
            Location::UnderRoot(no_base())
        } else {
            Location::Elsewhere(path.into())
        };
        FileEntry {
            location,
            rel,
            kind,
            seen,
        }
    }

    /// The file's path, as it was walked.
    pub fn abs(&self) -> Cow<'_, Path> {
        match &self.location {
            Location::UnderRoot(root) => Cow::Owned(root.join(&self.rel)),
            Location::Elsewhere(path) => Cow::Borrowed(path),
        }
    }
}

/// The base of the entries that are kept as walked below `.` (see `FileEntry::new`).
fn no_base() -> Arc<Path> {
    static NO_BASE: std::sync::LazyLock<Arc<Path>> =
        std::sync::LazyLock::new(|| Arc::from(Path::new("")));
    Arc::clone(&NO_BASE)
}

/// The files a walk found, each once, in order of relative path.
#[derive(Default)]
pub struct WalkedFiles {
    files: Vec<FileEntry>,
}

impl WalkedFiles {
    pub(super) fn push(&mut self, entry: FileEntry) {
        self.files.push(entry);
    }

    /// The files in order of relative path, each once (of two walked at one relative path,
    /// by two paths given, the first kept).
    pub fn entries(mut self) -> std::vec::IntoIter<FileEntry> {
        // Stable: of the files at one relative path, the first walked comes first.
        self.files.sort_by(|a, b| a.rel.cmp(&b.rel));
        self.files.dedup_by(|later, first| later.rel == first.rel);
        self.files.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::{kind_of, relative};
    use std::path::PathBuf;

    /// Files come back from the walk's sort in order of relative path, each once, at the
    /// path they were walked at, wherever it is.
    #[test]
    fn walked_files_come_back_sorted_once_each_at_their_paths() {
        let root: Arc<Path> = Arc::from(Path::new("repo"));
        let mut walked: Vec<PathBuf> = [
            "repo/b.yaml",
            "repo/a/x.yaml",
            "repo/a.b/y.yaml",
            "elsewhere/c.yaml",
            "repo/./d.yaml",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            walked.push(PathBuf::from(std::ffi::OsStr::from_bytes(
                b"repo/\xff.yaml",
            )));
        }
        let mut files = WalkedFiles::default();
        let bare: Arc<Path> = Arc::from(Path::new("bare.yaml"));
        files.push(FileEntry::new(
            &no_base(),
            &bare,
            "bare.yaml".into(),
            FileKind::Yaml,
        ));
        // Each twice, as two overlapping paths given would walk them.
        for path in walked.iter().chain(&walked) {
            let kind = kind_of(path).unwrap_or(FileKind::Terraform);
            files.push(FileEntry::new(&root, path, relative(&root, path), kind));
        }
        let back: Vec<FileEntry> = files.entries().collect();
        let rels: Vec<&str> = back.iter().map(|f| f.rel.as_str()).collect();
        let mut want: Vec<String> = walked.iter().map(|p| relative(&root, p)).collect();
        want.push("bare.yaml".into());
        want.sort();
        assert_eq!(rels, want);
        for entry in &back {
            let at = walked.iter().find(|p| relative(&root, p) == entry.rel);
            let at = at.map_or(Path::new("bare.yaml"), |p| p.as_path());
            assert_eq!(entry.abs(), at, "{}", entry.rel);
        }
        let shared = back.iter().filter(|f| match &f.location {
            Location::UnderRoot(base) => Arc::ptr_eq(base, &root),
            Location::Elsewhere(_) => false,
        });
        assert_eq!(
            shared.count(),
            3,
            "b.yaml, a/x.yaml and a.b/y.yaml share the root"
        );
    }

    /// A file's path is given back exactly as walked, whether it is kept as the root joined
    /// with the relative path or on its own.
    #[test]
    fn a_file_is_found_again_at_the_path_it_was_walked_at() {
        let cases = [
            ("repo", "repo/apps/a.yaml", true),
            ("repo/", "repo/apps/a.yaml", true),
            ("/abs/repo", "/abs/repo/a.yaml", true),
            (".", "./a.yaml", true),
            (".", "apps/a.yaml", true),
            ("repo", "elsewhere/a.yaml", true),
            ("repo", "./repo/a.yaml", true),
            // The relative path drops what joining would not give back.
            ("repo", "repo/./a.yaml", false),
        ];
        for (root, walked, shared) in cases {
            let root: Arc<Path> = Arc::from(Path::new(root));
            let walked = Path::new(walked);
            let entry = FileEntry::new(&root, walked, relative(&root, walked), FileKind::Yaml);
            assert_eq!(entry.abs(), walked, "{root:?} {walked:?}");
            assert_eq!(
                matches!(entry.location, Location::UnderRoot(_)),
                shared,
                "{root:?} {walked:?}"
            );
        }
        // A name that is not UTF-8 is shown lossily, and kept as walked.
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let root: Arc<Path> = Arc::from(Path::new("repo"));
            let walked = Path::new(std::ffi::OsStr::from_bytes(b"repo/\xff.yaml"));
            let entry = FileEntry::new(&root, walked, relative(&root, walked), FileKind::Yaml);
            assert_eq!(entry.abs(), walked);
            assert!(matches!(entry.location, Location::Elsewhere(_)));
        }
    }
}

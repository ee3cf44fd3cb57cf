//! Finds the files a run looks at: YAML manifests (and Terraform, read only to learn accounts),
//! honouring .gitignore, never following a symlink out of the root.

use crate::external::{ExternalSort, Order, Record};
use crate::form::{Reader, Writer};
use crate::fsio::Seen;
use ignore::{WalkBuilder, WalkState};
use std::borrow::Cow;
use std::path::{Path, PathBuf};
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

    /// Writes the entry in the run's byte form (`crate::form`), its base as an index into
    /// `bases` (added there when new: a run has one base per path it was given). `false`
    /// when the entry has no such form: a walked path that is not UTF-8 outside Unix.
    pub(crate) fn encode(&self, w: &mut Writer, bases: &mut Vec<Arc<Path>>) -> bool {
        match &self.location {
            Location::UnderRoot(base) => {
                let index = match bases.iter().position(|b| Arc::ptr_eq(b, base)) {
                    Some(index) => index,
                    None => {
                        bases.push(Arc::clone(base));
                        bases.len() - 1
                    }
                };
                w.byte(0);
                w.number(index);
            }
            Location::Elsewhere(path) => {
                let Some(bytes) = path_bytes(path) else {
                    return false;
                };
                w.byte(1);
                w.bytes(bytes);
            }
        }
        w.text(&self.rel);
        write_kind(w, self.kind);
        write_seen(w, self.seen);
        true
    }

    /// An entry written by `encode` with the same `bases`; `None` when `r` does not hold one.
    pub(crate) fn decode(r: &mut Reader, bases: &[Arc<Path>]) -> Option<FileEntry> {
        let location = match r.byte()? {
            0 => Location::UnderRoot(Arc::clone(bases.get(r.number()?)?)),
            1 => Location::Elsewhere(read_path(r)?),
            _ => return None,
        };
        let rel = r.text()?;
        let kind = read_kind(r)?;
        let seen = read_seen(r)?;
        Some(FileEntry {
            location,
            rel,
            kind,
            seen,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Skipped {
    pub rel: String,
    pub reason: String,
    /// Whether it is worth a warning (a file passed over as it should be is not).
    pub warning: bool,
}

#[derive(Default)]
pub struct Discovered {
    /// Directories that could not be read: nothing in them was checked.
    pub errors: Vec<Skipped>,
    /// Sorted by relative path as they are found, on disk: a monorepo's list of files is
    /// never held in memory whole.
    pub files: WalkedFiles,
    pub skipped: Vec<Skipped>,
    /// Temporary files of a `manifix fix` that was killed while writing (see
    /// `fsio::leftover_writer`), with the process that made each.
    pub leftovers: Vec<(FileEntry, u32)>,
}

/// A path's bytes as the byte form keeps them: on Unix any path; elsewhere a path that is
/// UTF-8 (`None` for one that is not).
fn path_bytes(path: &Path) -> Option<&[u8]> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Some(path.as_os_str().as_bytes())
    }
    #[cfg(not(unix))]
    {
        path.to_str().map(str::as_bytes)
    }
}

/// A path written as `path_bytes`.
fn read_path(r: &mut Reader) -> Option<Box<Path>> {
    let bytes = r.bytes()?;
    #[cfg(unix)]
    let path: &Path = {
        use std::os::unix::ffi::OsStrExt;
        Path::new(std::ffi::OsStr::from_bytes(bytes))
    };
    #[cfg(not(unix))]
    let path: &Path = Path::new(std::str::from_utf8(bytes).ok()?);
    Some(path.into())
}

fn write_kind(w: &mut Writer, kind: FileKind) {
    w.byte(match kind {
        FileKind::Yaml => 0,
        FileKind::Terraform => 1,
    });
}

fn write_seen(w: &mut Writer, seen: Seen) {
    w.number(seen.named_len as usize);
    w.word(seen.ino);
}

fn read_seen(r: &mut Reader) -> Option<Seen> {
    Some(Seen {
        named_len: r.number_u32()?,
        ino: r.word()?,
    })
}

fn read_kind(r: &mut Reader) -> Option<FileKind> {
    match r.byte()? {
        0 => Some(FileKind::Yaml),
        1 => Some(FileKind::Terraform),
        _ => None,
    }
}

/// The base of the entries that are kept as walked below `.` (see `FileEntry::new`).
fn no_base() -> Arc<Path> {
    static NO_BASE: std::sync::LazyLock<Arc<Path>> =
        std::sync::LazyLock::new(|| Arc::from(Path::new("")));
    Arc::clone(&NO_BASE)
}

/// The files a walk found, sorted by relative path on disk as they are found
/// (`crate::external`), each once.
pub struct WalkedFiles {
    sort: ExternalSort<Walked, Order<Walked>>,
    /// The run's root as given, which most entries share.
    root: Arc<Path>,
}

impl Default for WalkedFiles {
    fn default() -> Self {
        WalkedFiles::new(Arc::from(Path::new("")))
    }
}

impl WalkedFiles {
    fn new(root: Arc<Path>) -> WalkedFiles {
        WalkedFiles {
            sort: ExternalSort::new("the list of files found", |a, b| a.rel.cmp(&b.rel)),
            root,
        }
    }

    fn push(&mut self, entry: FileEntry) {
        let at = match entry.location {
            Location::UnderRoot(base) if Arc::ptr_eq(&base, &self.root) => At::Root,
            Location::UnderRoot(base) if base.as_os_str().is_empty() => At::Bare,
            Location::UnderRoot(base) => At::Elsewhere(base.join(&entry.rel).into()),
            Location::Elsewhere(path) => At::Elsewhere(path),
        };
        self.sort.push(Walked {
            at,
            rel: entry.rel,
            kind: entry.kind,
            seen: entry.seen,
        });
    }

    /// The files in order of relative path, each once (of two walked at one relative path,
    /// by two paths given, the first kept); an error when the list cannot be read back.
    pub fn entries(self) -> impl Iterator<Item = Result<FileEntry, String>> {
        let root = self.root;
        let (mut sorted, mut failed) = match self.sort.finish() {
            Ok(sorted) => (Some(sorted.peekable()), None),
            Err(e) => (None, Some(e)),
        };
        std::iter::from_fn(move || {
            if let Some(e) = failed.take() {
                return Some(Err(e));
            }
            let sorted = sorted.as_mut()?;
            let walked = match sorted.next()? {
                Ok(walked) => walked,
                Err(e) => return Some(Err(e)),
            };
            // The later ones walked at the same relative path are passed over.
            while sorted
                .next_if(|next| matches!(next, Ok(n) if n.rel == walked.rel))
                .is_some()
            {}
            let location = match walked.at {
                At::Root => Location::UnderRoot(Arc::clone(&root)),
                At::Bare => Location::UnderRoot(no_base()),
                At::Elsewhere(path) => Location::Elsewhere(path),
            };
            Some(Ok(FileEntry {
                location,
                rel: walked.rel,
                kind: walked.kind,
                seen: walked.seen,
            }))
        })
    }
}

/// A walked file as it waits in the sort: its entry, with its base named rather than shared.
struct Walked {
    at: At,
    rel: String,
    kind: FileKind,
    seen: Seen,
}

enum At {
    /// The run's root joined with the relative path.
    Root,
    /// The relative path itself.
    Bare,
    Elsewhere(Box<Path>),
}

impl Record for Walked {
    fn encode(&self, w: &mut Writer) {
        match &self.at {
            At::Root => w.byte(0),
            At::Bare => w.byte(1),
            At::Elsewhere(path) => {
                w.byte(2);
                // Every walked path has its bytes here: outside Unix, `add_file` passes over
                // a path that is not UTF-8.
                w.bytes(path_bytes(path).unwrap_or_default());
            }
        }
        w.text(&self.rel);
        write_kind(w, self.kind);
        write_seen(w, self.seen);
    }

    fn decode(r: &mut Reader) -> Option<Walked> {
        let at = match r.byte()? {
            0 => At::Root,
            1 => At::Bare,
            2 => At::Elsewhere(read_path(r)?),
            _ => return None,
        };
        let rel = r.text()?;
        let kind = read_kind(r)?;
        let seen = read_seen(r)?;
        Some(Walked {
            at,
            rel,
            kind,
            seen,
        })
    }

    fn weight(&self) -> usize {
        self.rel.len()
            + match &self.at {
                At::Elsewhere(path) => path.as_os_str().len(),
                _ => 0,
            }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct DiscoverError {
    pub path: String,
    pub message: String,
}

pub fn kind_of(path: &Path) -> Option<FileKind> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("yaml" | "yml") => Some(FileKind::Yaml),
        Some("tf") => Some(FileKind::Terraform),
        _ => None,
    }
}

/// `root`-relative display form of `path`.
pub fn relative(root: &Path, path: &Path) -> String {
    relative_with(root, path, |name| name.to_string_lossy())
}

/// `relative`, each name shown by `show`.
fn relative_with(
    root: &Path,
    path: &Path,
    show: impl Fn(&std::ffi::OsStr) -> Cow<'_, str>,
) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let text = rel
        .components()
        .map(|c| show(c.as_os_str()))
        .collect::<Vec<_>>()
        .join("/");
    if text.is_empty() {
        ".".into()
    } else {
        text
    }
}

/// A name as text: as it is when it is UTF-8, else with each byte that is not shown as `\ooo`
/// (as git shows it), so that two names that differ there never look alike.
fn lossless(name: &std::ffi::OsStr) -> Cow<'_, str> {
    if let Some(text) = name.to_str() {
        return Cow::Borrowed(text);
    }
    let mut text = String::new();
    for chunk in name.as_encoded_bytes().utf8_chunks() {
        text.push_str(chunk.valid());
        for byte in chunk.invalid() {
            text.push_str(&format!("\\{byte:03o}"));
        }
    }
    Cow::Owned(text)
}

/// A file the run reads for its instructions (its config, its recipe): never checked or
/// edited by the run it steers, which would otherwise rewrite the recipe's own `from:`.
#[derive(Debug, Clone)]
pub struct Steering {
    /// Where it really is.
    pub real: PathBuf,
    /// What it is, for the reason it is skipped: "the config", "the recipe".
    pub what: &'static str,
    /// Its inode (0 where there is none): a walked file with another is not it.
    ino: u64,
}

impl Steering {
    /// The steering file at `path`, when there is one.
    pub fn at(path: &Path, what: &'static str) -> Option<Steering> {
        let real = path.canonicalize().ok()?;
        let meta = std::fs::metadata(&real).ok()?;
        meta.is_file().then(|| Steering {
            ino: inode(&meta),
            real,
            what,
        })
    }
}

/// The paths given, each once: a path inside (or the same as) a directory also given is
/// walked with it, not again (`check . apps/../apps` reports each finding once). Where two
/// name the same place, the first is kept; a path that cannot be resolved is kept, for the
/// walk to report.
fn distinct_paths(paths: &[PathBuf]) -> Vec<&PathBuf> {
    let real: Vec<Option<PathBuf>> = paths.iter().map(|p| p.canonicalize().ok()).collect();
    let is_dir: Vec<bool> = paths.iter().map(|p| p.is_dir()).collect();
    paths
        .iter()
        .enumerate()
        .filter(|&(i, _)| {
            let Some(mine) = &real[i] else { return true };
            !real.iter().enumerate().any(|(j, other)| {
                let Some(other) = other else { return false };
                j != i
                    && is_dir[j]
                    && (other == mine && j < i || other != mine && mine.starts_with(other))
            })
        })
        .map(|(_, p)| p)
        .collect()
}

/// Walks `paths` (files or directories) below `root`; `steering` are the files that steer
/// the run, passed over.
pub fn discover(
    root: &Path,
    paths: &[PathBuf],
    steering: &[Steering],
) -> Result<Discovered, DiscoverError> {
    let root_real = root.canonicalize().map_err(|e| DiscoverError {
        path: root.display().to_string(),
        message: format!("cannot open: {e}"),
    })?;
    let shared_root: Arc<Path> = Arc::from(root);
    let roots = Roots {
        real: &root_real,
        given: root,
        shared: &shared_root,
        steering,
    };
    let mut out = Discovered {
        files: WalkedFiles::new(Arc::clone(&shared_root)),
        ..Discovered::default()
    };
    for path in distinct_paths(paths) {
        let meta = std::fs::symlink_metadata(path).map_err(|e| DiscoverError {
            path: path.display().to_string(),
            message: format!("cannot open: {e}"),
        })?;
        // A named path that goes through a symlink (`linked-dir/x.yaml`, or a linked directory
        // among several paths) is not seen as a link below: the walk and the checks of
        // `add_file` only look at the last component. Where it really leads decides.
        if through_symlink(path) && !inside(path, &root_real) {
            out.skipped.push(Skipped {
                rel: relative(root, path),
                reason: "path through a symlink that leads outside the root: not followed".into(),
                warning: true,
            });
            continue;
        }
        if meta.is_file() || meta.file_type().is_symlink() && path.is_file() {
            // The user named the file's directory; the file itself is opened without
            // following a link.
            let seen = Seen {
                named_len: named_len(path.parent().unwrap_or(Path::new(""))),
                ino: inode(&meta),
            };
            out.add(add_file(&roots, path, meta.file_type(), true, seen));
            continue;
        }
        let named_len = named_len(path);
        // Walked on every core, each file going into the sort as it is found.
        let found = std::sync::Mutex::new(&mut out);
        WalkBuilder::new(path)
            .follow_links(false)
            // Hidden files and directories are passed over as `hidden(true)` would, except
            // manifix's own temporary files: those a killed `manifix fix` left are listed below,
            // to be cleaned up (whether their writer is gone is asked once, there).
            .hidden(false)
            .filter_entry(|entry| {
                entry.depth() == 0
                    || !is_hidden(entry.file_name())
                    || crate::fsio::temp_writer(entry.path()).is_some()
            })
            .build_parallel()
            .run(|| {
                Box::new(|entry| {
                    let added = match entry {
                        Err(err) => walk_error(root, path, &err),
                        Ok(entry) if entry.depth() > 0 && is_hidden(entry.file_name()) => {
                            match crate::fsio::leftover_writer(entry.path()) {
                                Some(pid) => Added::Leftover(
                                    FileEntry::new(
                                        &shared_root,
                                        entry.path(),
                                        relative(root, entry.path()),
                                        FileKind::Yaml,
                                    ),
                                    pid,
                                ),
                                None => Added::Nothing,
                            }
                        }
                        // The type comes from the directory listing: no stat per file.
                        Ok(entry) => match entry.file_type().filter(|t| !t.is_dir()) {
                            Some(file_type) => {
                                let seen = Seen {
                                    named_len,
                                    ino: entry.ino().unwrap_or(0),
                                };
                                add_file(&roots, entry.path(), file_type, false, seen)
                            }
                            None => Added::Nothing,
                        },
                    };
                    if !matches!(added, Added::Nothing) {
                        // A panic elsewhere in the walk leaves nothing half-added here.
                        let mut all = found
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        all.add(added);
                    }
                    WalkState::Continue
                })
            });
    }
    out.leftovers.sort_by(|a, b| a.0.rel.cmp(&b.0.rel));
    out.leftovers.dedup_by(|a, b| a.0.rel == b.0.rel);
    out.skipped.sort_by(|a, b| a.rel.cmp(&b.rel));
    out.errors.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(out)
}

/// How much of a path below `named` the user named (`Seen::named_len`): where `named` has
/// no link and no `..` on it, none, and the whole path is then opened without following any
/// link, in one call.
fn named_len(named: &Path) -> u32 {
    let plain = !through_symlink(named)
        && !named
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir));
    if plain {
        0
    } else {
        u32::try_from(named.as_os_str().len()).unwrap_or(u32::MAX)
    }
}

/// A file's inode as its metadata gives it (0 where there is none).
fn inode(meta: &std::fs::Metadata) -> u64 {
    #[cfg(unix)]
    {
        std::os::unix::fs::MetadataExt::ino(meta)
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        0
    }
}

/// What an error of the walk below `path` is: a directory that cannot be read is an error
/// of that directory (nothing in it was checked, which a CI gate must not pass as clean);
/// an ignore file that cannot be read or parsed is a warning.
fn walk_error(root: &Path, path: &Path, err: &ignore::Error) -> Added {
    let at = error_path(err).unwrap_or(path);
    let item = Skipped {
        rel: relative(root, at),
        reason: format!("cannot read: {err}"),
        warning: true,
    };
    match err.io_error() {
        Some(io) if !is_ignore_file(at) => Added::Error(Skipped {
            reason: format!("cannot read this directory, so nothing in it was checked: {io}"),
            ..item
        }),
        _ => Added::Skipped(item),
    }
}

/// The path an error of the walk is about.
fn error_path(err: &ignore::Error) -> Option<&Path> {
    match err {
        ignore::Error::WithPath { path, .. } => Some(path),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        ignore::Error::Loop { child, .. } => Some(child),
        ignore::Error::Partial(errs) => errs.iter().find_map(error_path),
        _ => None,
    }
}

/// `.gitignore` and its kin, which the walk reads to know what to pass over.
fn is_ignore_file(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n == ".gitignore" || n == ".ignore" || n == ".git")
}

/// What the walk makes of one path.
enum Added {
    File(FileEntry),
    Skipped(Skipped),
    /// A temporary file a killed `manifix fix` left, with the process that made it.
    Leftover(FileEntry, u32),
    /// A directory that cannot be read.
    Error(Skipped),
    Nothing,
}

impl Discovered {
    fn add(&mut self, added: Added) {
        match added {
            Added::File(entry) => self.files.push(entry),
            Added::Skipped(skipped) => self.skipped.push(skipped),
            Added::Leftover(entry, pid) => self.leftovers.push((entry, pid)),
            Added::Error(error) => self.errors.push(error),
            Added::Nothing => {}
        }
    }
}

/// The run's root, as each use needs it.
struct Roots<'a> {
    /// Where it really is (links resolved): what "inside the root" is judged against.
    real: &'a Path,
    /// As given: relative paths are taken from it.
    given: &'a Path,
    /// As given, shared by the entries of the files under it.
    shared: &'a Arc<Path>,
    /// The files that steer the run.
    steering: &'a [Steering],
}

fn add_file(
    roots: &Roots,
    path: &Path,
    file_type: std::fs::FileType,
    explicit: bool,
    seen: Seen,
) -> Added {
    let rel = relative(roots.given, path);
    let kind = match kind_of(path) {
        Some(k) => k,
        // A file the user named explicitly is read as YAML whatever its name.
        None if explicit => FileKind::Yaml,
        None => return Added::Nothing,
    };
    let skipped = |reason: &str| {
        Added::Skipped(Skipped {
            rel: rel.clone(),
            reason: reason.into(),
            warning: true,
        })
    };
    if file_type.is_symlink() {
        let reason = if path.exists() {
            (!inside(path, roots.real))
                .then_some("symlink that leads outside the root: not followed")
        } else {
            Some("broken symlink (its target does not exist): skipped")
        };
        // A link inside the root points at a file the walk visits itself; editing through
        // the link as well would edit that file twice.
        return reason.map_or(Added::Nothing, skipped);
    }
    if !file_type.is_file() {
        // Reading a FIFO named `x.yaml` would block forever, and a device or socket is no
        // manifest either.
        return skipped("not a regular file (FIFO, socket or device): skipped");
    }
    // Findings, reports and commits name files by text: a name that has none is listed, by
    // its bytes, rather than checked under a name that is not its own.
    if path.to_str().is_none() {
        return skipped(&format!(
            "its name is not valid UTF-8 ({}, the other bytes in octal): skipped (manifix reports, edits and commits UTF-8 paths; rename it to have it checked)",
            relative_with(roots.given, path, lossless)
        ));
    }
    if let Some(steer) = steering_file(roots.steering, path, seen) {
        return Added::Skipped(Skipped {
            rel,
            reason: format!(
                "{} of this run: read for its instructions, never checked or edited by the run",
                steer.what
            ),
            warning: false,
        });
    }
    Added::File(FileEntry::walked(roots.shared, path, rel, kind, seen))
}

/// The steering file at `path`, if it is one: the inode says at no cost whether it may be,
/// and only then is the path resolved.
fn steering_file<'a>(steering: &'a [Steering], path: &Path, seen: Seen) -> Option<&'a Steering> {
    if steering.is_empty() {
        return None;
    }
    if !steering
        .iter()
        .any(|s| seen.ino == 0 || s.ino == 0 || s.ino == seen.ino)
    {
        return None;
    }
    let real = path.canonicalize().ok()?;
    steering.iter().find(|s| s.real == real)
}

/// A dot file or directory (`.git`, `.github`, `.env.yaml`): not part of what a run reads.
fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.as_encoded_bytes().first() == Some(&b'.')
}

/// Whether `path` really lies below `root_real` (which is canonical).
fn inside(path: &Path, root_real: &Path) -> bool {
    path.canonicalize()
        .map(|real| real.starts_with(root_real))
        .unwrap_or(false)
}

/// Whether any component of `path`, as written, is a symbolic link.
fn through_symlink(path: &Path) -> bool {
    let mut prefix = PathBuf::new();
    path.components().any(|c| {
        prefix.push(c);
        std::fs::symlink_metadata(&prefix).is_ok_and(|m| m.file_type().is_symlink())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut files = WalkedFiles::new(Arc::clone(&root));
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
        let back: Vec<FileEntry> = files.entries().collect::<Result<_, _>>().expect("read");
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

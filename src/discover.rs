//! Finds the files a run looks at: YAML manifests (and Terraform, read only to learn accounts),
//! honouring .gitignore, never following a symlink out of the root.

use crate::form::{Reader, Writer};
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
    /// The entry of the file walked at `path`, whose path relative to `root` is `rel`.
    pub fn new(root: &Arc<Path>, path: &Path, rel: String, kind: FileKind) -> FileEntry {
        // Several paths under `.` are walked as `apps/a.yaml`, not `./apps/a.yaml`.
        static NO_BASE: std::sync::LazyLock<Arc<Path>> =
            std::sync::LazyLock::new(|| Arc::from(Path::new("")));
        let location = if root.join(&rel).as_os_str() == path.as_os_str() {
            Location::UnderRoot(Arc::clone(root))
        } else if Path::new(&rel).as_os_str() == path.as_os_str() {
            Location::UnderRoot(Arc::clone(&NO_BASE))
        } else {
            Location::Elsewhere(path.into())
        };
        FileEntry {
            location,
            rel,
            kind,
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
                #[cfg(unix)]
                {
                    use std::os::unix::ffi::OsStrExt;
                    w.byte(1);
                    w.bytes(path.as_os_str().as_bytes());
                }
                #[cfg(not(unix))]
                {
                    let Some(path) = path.to_str() else {
                        return false;
                    };
                    w.byte(1);
                    w.text(path);
                }
            }
        }
        w.text(&self.rel);
        w.byte(match self.kind {
            FileKind::Yaml => 0,
            FileKind::Terraform => 1,
        });
        true
    }

    /// An entry written by `encode` with the same `bases`; `None` when `r` does not hold one.
    pub(crate) fn decode(r: &mut Reader, bases: &[Arc<Path>]) -> Option<FileEntry> {
        let location = match r.byte()? {
            0 => Location::UnderRoot(Arc::clone(bases.get(r.number()?)?)),
            1 => {
                #[cfg(unix)]
                let path: &Path = {
                    use std::os::unix::ffi::OsStrExt;
                    Path::new(std::ffi::OsStr::from_bytes(r.bytes()?))
                };
                #[cfg(not(unix))]
                let path: &Path = Path::new(std::str::from_utf8(r.bytes()?).ok()?);
                Location::Elsewhere(path.into())
            }
            _ => return None,
        };
        let rel = r.text()?;
        let kind = match r.byte()? {
            0 => FileKind::Yaml,
            1 => FileKind::Terraform,
            _ => return None,
        };
        Some(FileEntry {
            location,
            rel,
            kind,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Skipped {
    pub rel: String,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct Discovered {
    pub files: Vec<FileEntry>,
    pub skipped: Vec<Skipped>,
    /// Temporary files of a `manifix fix` that was killed while writing (see
    /// `fix::leftover_writer`), with the process that made each.
    pub leftovers: Vec<(FileEntry, u32)>,
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
    let rel = path.strip_prefix(root).unwrap_or(path);
    let text = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/");
    if text.is_empty() {
        ".".into()
    } else {
        text
    }
}

/// Walks `paths` (files or directories) below `root`.
pub fn discover(root: &Path, paths: &[PathBuf]) -> Result<Discovered, DiscoverError> {
    let root_real = root.canonicalize().map_err(|e| DiscoverError {
        path: root.display().to_string(),
        message: format!("cannot open: {e}"),
    })?;
    let shared_root: Arc<Path> = Arc::from(root);
    let roots = Roots {
        real: &root_real,
        given: root,
        shared: &shared_root,
    };
    let mut out = Discovered::default();
    for path in paths {
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
            });
            continue;
        }
        if meta.is_file() || meta.file_type().is_symlink() && path.is_file() {
            add_file(&roots, path, meta.file_type(), &mut out, true);
            continue;
        }
        // Walked on every core; the order is restored by the sort below.
        let found = std::sync::Mutex::new(Discovered::default());
        WalkBuilder::new(path)
            .follow_links(false)
            // Hidden files and directories are passed over as `hidden(true)` would, except
            // manifix's own temporary files: those a killed `manifix fix` left are listed below,
            // to be cleaned up (whether their writer is gone is asked once, there).
            .hidden(false)
            .filter_entry(|entry| {
                entry.depth() == 0
                    || !is_hidden(entry.file_name())
                    || crate::fix::temp_writer(entry.path()).is_some()
            })
            .build_parallel()
            .run(|| {
                Box::new(|entry| {
                    let mut part = Discovered::default();
                    match entry {
                        Err(err) => part.skipped.push(Skipped {
                            rel: path.display().to_string(),
                            reason: format!("cannot read: {err}"),
                        }),
                        Ok(entry) if entry.depth() > 0 && is_hidden(entry.file_name()) => {
                            if let Some(pid) = crate::fix::leftover_writer(entry.path()) {
                                let file = FileEntry::new(
                                    &shared_root,
                                    entry.path(),
                                    relative(root, entry.path()),
                                    FileKind::Yaml,
                                );
                                part.leftovers.push((file, pid));
                            }
                        }
                        Ok(entry) => {
                            // The type comes from the directory listing: no stat per file.
                            if let Some(file_type) = entry.file_type().filter(|t| !t.is_dir()) {
                                add_file(&roots, entry.path(), file_type, &mut part, false);
                            }
                        }
                    }
                    if !part.files.is_empty()
                        || !part.skipped.is_empty()
                        || !part.leftovers.is_empty()
                    {
                        if let Ok(mut all) = found.lock() {
                            all.files.append(&mut part.files);
                            all.skipped.append(&mut part.skipped);
                            all.leftovers.append(&mut part.leftovers);
                        }
                    }
                    WalkState::Continue
                })
            });
        let found = found.into_inner().unwrap_or_default();
        out.files.extend(found.files);
        out.skipped.extend(found.skipped);
        out.leftovers.extend(found.leftovers);
    }
    out.leftovers.sort_by(|a, b| a.0.rel.cmp(&b.0.rel));
    out.leftovers.dedup_by(|a, b| a.0.rel == b.0.rel);
    out.files.sort_by(|a, b| a.rel.cmp(&b.rel));
    out.files.dedup_by(|a, b| a.rel == b.rel);
    out.skipped.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(out)
}

/// The run's root, as each use needs it.
struct Roots<'a> {
    /// Where it really is (links resolved): what "inside the root" is judged against.
    real: &'a Path,
    /// As given: relative paths are taken from it.
    given: &'a Path,
    /// As given, shared by the entries of the files under it.
    shared: &'a Arc<Path>,
}

fn add_file(
    roots: &Roots,
    path: &Path,
    file_type: std::fs::FileType,
    out: &mut Discovered,
    explicit: bool,
) {
    let rel = relative(roots.given, path);
    let kind = match kind_of(path) {
        Some(k) => k,
        // A file the user named explicitly is read as YAML whatever its name.
        None if explicit => FileKind::Yaml,
        None => return,
    };
    if file_type.is_symlink() {
        let reason = if path.exists() {
            (!inside(path, roots.real))
                .then_some("symlink that leads outside the root: not followed")
        } else {
            Some("broken symlink (its target does not exist): skipped")
        };
        if let Some(reason) = reason {
            out.skipped.push(Skipped {
                rel,
                reason: reason.into(),
            });
        }
        // A link inside the root points at a file the walk visits itself; editing through
        // the link as well would edit that file twice.
        return;
    }
    if !file_type.is_file() {
        // Reading a FIFO named `x.yaml` would block forever, and a device or socket is no
        // manifest either.
        out.skipped.push(Skipped {
            rel,
            reason: "not a regular file (FIFO, socket or device): skipped".into(),
        });
        return;
    }
    out.files
        .push(FileEntry::new(roots.shared, path, rel, kind));
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

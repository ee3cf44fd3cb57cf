//! Finds the files a run looks at: YAML manifests (and Terraform, read only to learn accounts),
//! honouring .gitignore, never following a symlink out of the root.

mod files;

use crate::fsio::Seen;
pub use files::{FileEntry, FileKind, WalkedFiles};
use ignore::{WalkBuilder, WalkState};
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    /// Given back in order of relative path (`WalkedFiles::entries`).
    pub files: WalkedFiles,
    pub skipped: Vec<Skipped>,
    /// Temporary files of a `manifix fix` that was killed while writing (see
    /// `fsio::leftover_writer`), with the process that made each.
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
    let mut out = Discovered::default();
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
        // Walked on every core, each file going into the list as it is found.
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

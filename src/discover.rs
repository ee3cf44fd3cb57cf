//! Finds the files a run looks at: YAML manifests (and Terraform, read only to learn accounts),
//! honouring .gitignore, never following a symlink out of the root.

use ignore::{WalkBuilder, WalkState};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Yaml,
    Terraform,
}

#[derive(Debug, Clone)]
pub struct FileEntry {
    pub abs: PathBuf,
    /// Relative to the run's root, `/`-separated: what users see.
    pub rel: String,
    pub kind: FileKind,
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
            add_file(&root_real, root, path, meta.file_type(), &mut out, true);
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
                                let file = FileEntry {
                                    abs: entry.path().to_path_buf(),
                                    rel: relative(root, entry.path()),
                                    kind: FileKind::Yaml,
                                };
                                part.leftovers.push((file, pid));
                            }
                        }
                        Ok(entry) => {
                            // The type comes from the directory listing: no stat per file.
                            if let Some(file_type) = entry.file_type().filter(|t| !t.is_dir()) {
                                add_file(
                                    &root_real,
                                    root,
                                    entry.path(),
                                    file_type,
                                    &mut part,
                                    false,
                                );
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

fn add_file(
    root_real: &Path,
    root: &Path,
    path: &Path,
    file_type: std::fs::FileType,
    out: &mut Discovered,
    explicit: bool,
) {
    let rel = relative(root, path);
    let kind = match kind_of(path) {
        Some(k) => k,
        // A file the user named explicitly is read as YAML whatever its name.
        None if explicit => FileKind::Yaml,
        None => return,
    };
    if file_type.is_symlink() {
        let reason = if path.exists() {
            (!inside(path, root_real))
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
    out.files.push(FileEntry {
        abs: path.to_path_buf(),
        rel,
        kind,
    });
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

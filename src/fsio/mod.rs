//! Every read and write of a file: size-limited reads of what the user names (config, recipe,
//! lists), reads of walked files that follow no link below the path the user named and check
//! the file opened is the one walked, and atomic writes that keep the file's metadata.
//!
//! The repository is untrusted: between the walk and a read, or a read and a write, a
//! directory of it may be swapped for a link that leads out of the root. A walked file is
//! therefore opened below the path the user named without following any link (one `openat2`
//! call on Linux, a directory handle at a time elsewhere), and a write goes through the
//! handle of the directory the file was read from (a temporary file made there, then renamed
//! over the file within it).

#[cfg(unix)]
mod beneath;
mod replace;

pub use replace::{leftover_writer, replace_walked, temp_writer, ReplaceError};

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// What the walk saw of a file, so it can be opened again safely: how much of its path the
/// user named (links there are the user's own and are followed; below it none is), and its
/// inode (0: not known, not checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    pub named_len: u32,
    pub ino: u64,
}

impl Seen {
    /// A path the user named whole (nothing below it was walked): opened as given.
    pub fn named(path: &Path) -> Seen {
        Seen {
            named_len: u32::try_from(path.as_os_str().len()).unwrap_or(u32::MAX),
            ino: 0,
        }
    }
}

/// A walked file whose path no longer leads to it: a directory on it, or the file, was
/// swapped (for a link, say) since the walk.
#[derive(Debug)]
pub struct Swapped(pub String);

impl std::fmt::Display for Swapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} since it was walked (swapped for a link?): not followed",
            self.0
        )
    }
}

impl std::error::Error for Swapped {}

fn swapped(what: &str) -> io::Error {
    io::Error::other(Swapped(what.to_string()))
}

/// A walked file replaced by another since the walk (as an editor's save replaces it): what
/// the run knows of it no longer holds.
#[derive(Debug)]
pub struct Replaced;

impl std::fmt::Display for Replaced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("changed on disk while manifix ran")
    }
}

impl std::error::Error for Replaced {}

/// Whether `e` says the walked file was replaced (`Replaced`).
pub fn is_replaced(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<Replaced>())
}

/// Reads at most `limit` bytes of a file the user named (`what` says which, for the error).
/// Devices and pipes are read too (`--repos <(...)`), and stopped at the limit.
pub fn read_named(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>, String> {
    let shown = path.display();
    let file = File::open(path).map_err(|e| format!("{what} {shown}: cannot read: {e}"))?;
    let too_big = || {
        format!(
            "{what} {shown}: larger than {} MiB, the most manifix reads of it: not read",
            limit >> 20
        )
    };
    if file
        .metadata()
        .is_ok_and(|m| m.is_file() && m.len() > limit)
    {
        return Err(too_big());
    }
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{what} {shown}: cannot read: {e}"))?;
    if bytes.len() as u64 > limit {
        return Err(too_big());
    }
    Ok(bytes)
}

/// As `read_named`, as UTF-8 text.
pub fn read_named_text(path: &Path, limit: u64, what: &str) -> Result<String, String> {
    let bytes = read_named(path, limit, what)?;
    String::from_utf8(bytes).map_err(|_| format!("{what} {}: not UTF-8", path.display()))
}

/// The walked file at `path`, opened for reading: its bytes, or `None` when it is larger than
/// `limit` (read at most a byte past it, so a file that grows meanwhile is caught too).
pub fn read_walked(path: &Path, seen: Seen, limit: u64) -> io::Result<Option<Vec<u8>>> {
    let opened = Opened::open(path, seen)?;
    opened.read(limit)
}

/// A walked file, open, with the directory it is in.
pub struct Opened {
    /// The directory it is in, when it was opened to be replaced.
    #[cfg(unix)]
    dir: Option<std::os::fd::OwnedFd>,
    file: File,
    /// Its name in `dir`.
    #[cfg(unix)]
    name: std::ffi::OsString,
    /// Its metadata when opened: the write keeps its mode, owner and group.
    #[cfg(unix)]
    stat: rustix::fs::Stat,
    len: u64,
}

impl Opened {
    /// Opens the walked file at `path` for reading: links in the part the user named are
    /// followed, below it none is, and the file must be a regular file with the inode the walk
    /// saw.
    #[cfg(unix)]
    pub fn open(path: &Path, seen: Seen) -> io::Result<Opened> {
        Opened::open_in(path, seen, false)
    }

    /// As `open`, with a handle of the directory the file is in, for replacing it there.
    #[cfg(unix)]
    fn open_with_dir(path: &Path, seen: Seen) -> io::Result<Opened> {
        Opened::open_in(path, seen, true)
    }

    #[cfg(unix)]
    fn open_in(path: &Path, seen: Seen, with_dir: bool) -> io::Result<Opened> {
        use rustix::fs::{openat, Mode, OFlags, CWD};
        use std::os::fd::AsFd;
        use std::os::unix::ffi::OsStrExt;
        let bytes = path.as_os_str().as_bytes();
        let split = (seen.named_len as usize).min(bytes.len());
        let (named, below) = bytes.split_at(split);
        let (named, below) = (
            Path::new(OsStr::from_bytes(named)),
            Path::new(OsStr::from_bytes(below)),
        );
        // Nothing named and an absolute path: no link is followed from the top down.
        let from_top = named.as_os_str().is_empty() && below.is_absolute();
        let mut names: Vec<&OsStr> = Vec::new();
        for part in below.components() {
            match part {
                std::path::Component::Normal(name) => names.push(name),
                std::path::Component::RootDir | std::path::Component::CurDir => {}
                _ => return Err(io::Error::other("`..` below the path named: not followed")),
            }
        }
        // A file the user named whole: its own directory, the last name its own.
        let (named_dir, last): (&Path, &OsStr) = match names.pop() {
            Some(last) => (named, last),
            None => {
                let name = named.file_name().ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidInput, "not a file name")
                })?;
                (named.parent().unwrap_or(Path::new("")), name)
            }
        };
        let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        // Not blocking: a FIFO swapped in for the file would hold the open forever.
        let file_flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
        // The part the user named, opened as given (an absolute path with nothing named is
        // resolved from the top, by `beneath` in the same call).
        let base = match named_dir.as_os_str().is_empty() {
            false => Some(openat(CWD, named_dir, dir_flags, Mode::empty())?),
            true => None,
        };
        let base = base.as_ref().map_or(CWD, |fd| fd.as_fd());
        let below = beneath::Below {
            from_top,
            names: &names,
            last,
        };
        let (dir, fd) = match beneath::open(base, &below, with_dir, dir_flags, file_flags) {
            Some(opened) => opened?,
            None => {
                // One directory at a time, where the system cannot resolve a path without
                // links in one call.
                let start = if from_top { "/" } else { "." };
                let mut dir = openat(base, start, dir_flags, Mode::empty())?;
                for name in &names {
                    dir = openat(&dir, *name, dir_flags | OFlags::NOFOLLOW, Mode::empty())
                        .map_err(beneath::link_error)?;
                }
                let fd =
                    openat(&dir, last, file_flags, Mode::empty()).map_err(beneath::link_error)?;
                (with_dir.then_some(dir), fd)
            }
        };
        let stat = rustix::fs::fstat(&fd)?;
        if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::RegularFile {
            return Err(swapped("it is no longer a regular file"));
        }
        if seen.ino != 0 && stat.st_ino != seen.ino {
            return Err(io::Error::other(Replaced));
        }
        Ok(Opened {
            dir,
            file: File::from(fd),
            name: last.to_os_string(),
            len: stat.st_size as u64,
            stat,
        })
    }

    #[cfg(not(unix))]
    pub fn open(path: &Path, _seen: Seen) -> io::Result<Opened> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        Ok(Opened { file, len })
    }

    /// Its bytes, or `None` when it is larger than `limit`.
    pub fn read(&self, limit: u64) -> io::Result<Option<Vec<u8>>> {
        if self.len > limit {
            return Ok(None);
        }
        // Sized from the metadata: a growing buffer would keep up to twice the file in memory.
        let mut bytes = Vec::with_capacity(self.len as usize + 1);
        (&self.file).take(limit + 1).read_to_end(&mut bytes)?;
        bytes.shrink_to_fit();
        Ok((bytes.len() as u64 <= limit).then_some(bytes))
    }
}

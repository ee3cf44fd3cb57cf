//! Every read and write of a file: size-limited reads of what the user names (config, recipe,
//! lists), reads of walked files that follow no link below the path the user named and check
//! the file opened is the one walked, and atomic writes that keep the file's metadata.
//!
//! The repository is untrusted: between the walk and a read, or a read and a write, a
//! directory of it may be swapped for a link that leads out of the root. A walked file is
//! therefore opened one directory handle at a time from the path the user named, never
//! following a link, and a write goes through the handle of the directory the file was read
//! from (a temporary file made there, then renamed over the file within it).

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
        let start: Option<&Path> = match (named_dir.as_os_str().is_empty(), from_top) {
            (false, _) => Some(named_dir),
            (true, true) => Some(Path::new("/")),
            (true, false) => None,
        };
        let base = match start {
            Some(start) => Some(openat(CWD, start, dir_flags, Mode::empty())?),
            None => None,
        };
        let base = base.as_ref().map_or(CWD, |fd| fd.as_fd());
        let (dir, fd) = match beneath::open(base, &names, last, with_dir, dir_flags, file_flags) {
            Some(opened) => opened?,
            None => {
                // One directory at a time, where the system cannot resolve a path without
                // links in one call.
                let mut dir = openat(base, ".", dir_flags, Mode::empty())?;
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

// The temporary file a write goes through: `.manifix-<pid>-<6 random>.tmp`, beside the file.
// The writer's process id in the name tells a later run whether the file is still being
// written or was left by a `manifix fix` that was killed between writing it and renaming it.
pub(crate) const TEMP_PREFIX: &str = ".manifix-";
pub(crate) const TEMP_SUFFIX: &str = ".tmp";
pub(crate) const TEMP_RANDOM: usize = 6;

/// Why a walked file was not replaced.
#[derive(Debug)]
pub enum ReplaceError {
    /// Its bytes are no longer the ones the new text was made from.
    Changed,
    /// It has other names (hard links) that a rename would split from it.
    HardLinked(u64),
    /// Its path no longer leads to the file walked (`Swapped`).
    Swapped(String),
    Io(io::Error),
}

impl From<io::Error> for ReplaceError {
    fn from(e: io::Error) -> Self {
        if is_replaced(&e) {
            return ReplaceError::Changed;
        }
        match e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<Swapped>())
        {
            Some(swapped) => ReplaceError::Swapped(swapped.to_string()),
            None => ReplaceError::Io(e),
        }
    }
}

impl From<rustix::io::Errno> for ReplaceError {
    fn from(e: rustix::io::Errno) -> Self {
        ReplaceError::Io(e.into())
    }
}

/// Replaces the walked file at `path`, whose bytes must still be `old`, with `new`: a
/// temporary file in the directory the file was opened from, with the file's mode, owner,
/// group and extended attributes (POSIX ACLs among them), then a rename within that
/// directory, so a crash leaves either the old or the new file, never half. A file with
/// more than one link is left alone unless `break_hardlinks`.
#[cfg(unix)]
pub fn replace_walked(
    path: &Path,
    seen: Seen,
    old: &[u8],
    new: &[u8],
    break_hardlinks: bool,
) -> Result<(), ReplaceError> {
    use rustix::fs::{fstat, Mode};
    use std::io::Write;
    let opened = Opened::open_with_dir(path, seen)?;
    let dir = opened
        .dir
        .as_ref()
        .ok_or_else(|| io::Error::other("no directory handle"))?;
    // Someone may have edited the file since it was read; their change wins.
    let current = opened.read(old.len() as u64)?;
    if current.as_deref() != Some(old) {
        return Err(ReplaceError::Changed);
    }
    let stat = fstat(&opened.file)?;
    if stat.st_nlink > 1 && !break_hardlinks {
        return Err(ReplaceError::HardLinked(stat.st_nlink as u64));
    }
    let mode = Mode::from_raw_mode(stat.st_mode) & Mode::from_bits_truncate(0o7777);
    if mode & (Mode::WUSR | Mode::WGRP | Mode::WOTH) == Mode::empty() {
        return Err(ReplaceError::Io(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "the file is read-only",
        )));
    }
    let (tmp_name, tmp) = create_temp(dir)?;
    let written = (|| -> Result<(), ReplaceError> {
        let mut file = File::from(tmp);
        file.write_all(new)?;
        // Owner and group first: changing them clears set-id bits, which the mode then sets.
        keep_owner(&file, stat.st_uid, stat.st_gid)?;
        rustix::fs::fchmod(&file, mode)?;
        copy_xattrs(&opened.file, &file)?;
        file.sync_all()?;
        rustix::fs::renameat(dir, &tmp_name, dir, &opened.name)?;
        Ok(())
    })();
    if written.is_err() {
        let _ = rustix::fs::unlinkat(dir, &tmp_name, rustix::fs::AtFlags::empty());
    }
    written
}

#[cfg(not(unix))]
pub fn replace_walked(
    path: &Path,
    _seen: Seen,
    old: &[u8],
    new: &[u8],
    _break_hardlinks: bool,
) -> Result<(), ReplaceError> {
    use std::io::Write;
    if std::fs::read(path)? != old {
        return Err(ReplaceError::Changed);
    }
    let meta = std::fs::metadata(path)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!("{TEMP_PREFIX}{}-", std::process::id()))
        .suffix(TEMP_SUFFIX)
        .rand_bytes(TEMP_RANDOM)
        .tempfile_in(dir)?;
    tmp.write_all(new)?;
    tmp.as_file().sync_all()?;
    std::fs::set_permissions(tmp.path(), meta.permissions())?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// A new temporary file in `dir`, made there and nowhere else (never through a link).
#[cfg(unix)]
fn create_temp(
    dir: &std::os::fd::OwnedFd,
) -> Result<(std::ffi::OsString, std::os::fd::OwnedFd), ReplaceError> {
    use rustix::fs::{openat, Mode, OFlags};
    let mut attempt = 0u64;
    loop {
        let name = format!(
            "{TEMP_PREFIX}{}-{}{TEMP_SUFFIX}",
            std::process::id(),
            temp_random(attempt)
        );
        match openat(
            dir,
            name.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::RUSR | Mode::WUSR,
        ) {
            Ok(fd) => return Ok((name.into(), fd)),
            Err(rustix::io::Errno::EXIST) if attempt < 100 => attempt += 1,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Six letters and digits, different on each attempt and in each process and moment.
#[cfg(unix)]
fn temp_random(attempt: u64) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(attempt);
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    let mut n = hasher.finish();
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    (0..TEMP_RANDOM)
        .map(|_| {
            let c = ALPHABET[(n % ALPHABET.len() as u64) as usize] as char;
            n /= ALPHABET.len() as u64;
            c
        })
        .collect()
}

/// Gives `file` the owner and group `uid`/`gid`. Only root may give a file away; anyone may
/// give it a group they are in. What cannot be kept is left as the system makes it, as an
/// editor's save would.
#[cfg(unix)]
fn keep_owner(file: &File, uid: u32, gid: u32) -> Result<(), ReplaceError> {
    use rustix::fs::{fchown, fstat, Gid, Uid};
    let now = fstat(file)?;
    if now.st_uid == uid && now.st_gid == gid {
        return Ok(());
    }
    let (uid, gid) = (Uid::from_raw(uid), Gid::from_raw(gid));
    match fchown(file, Some(uid), Some(gid)) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::PERM) => match fchown(file, None, Some(gid)) {
            Ok(()) | Err(rustix::io::Errno::PERM) => Ok(()),
            Err(e) => Err(e.into()),
        },
        Err(e) => Err(e.into()),
    }
}

/// Copies every extended attribute of `from` to `to`: user attributes, POSIX ACLs
/// (`system.posix_acl_access`), security labels. A file system without them has none to copy.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn copy_xattrs(from: &File, to: &File) -> Result<(), ReplaceError> {
    use rustix::fs::{fgetxattr, flistxattr, fsetxattr, XattrFlags};
    let unsupported = |e: &rustix::io::Errno| *e == rustix::io::Errno::NOTSUP;
    let mut names = vec![0u8; 1024];
    let len = loop {
        match flistxattr(from, &mut names[..]) {
            Ok(len) => break len,
            Err(rustix::io::Errno::RANGE) => {
                let need = rustix::fs::flistxattr_query(from)?;
                names.resize(need.max(names.len() * 2), 0);
            }
            Err(e) if unsupported(&e) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    };
    let mut value = vec![0u8; 4096];
    for name in names[..len].split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let name = {
            use std::os::unix::ffi::OsStrExt;
            OsStr::from_bytes(name)
        };
        let got = loop {
            match fgetxattr(from, name, &mut value[..]) {
                Ok(got) => break got,
                Err(rustix::io::Errno::RANGE) => {
                    let need = rustix::fs::fgetxattr_query(from, name)?;
                    value.resize(need.max(value.len() * 2), 0);
                }
                Err(e) => return Err(e.into()),
            }
        };
        fsetxattr(to, name, &value[..got], XattrFlags::empty()).map_err(|e| {
            ReplaceError::Io(io::Error::other(format!(
                "cannot keep its extended attribute {}: {e}",
                String::from_utf8_lossy(name.as_encoded_bytes())
            )))
        })?;
    }
    Ok(())
}

#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
fn copy_xattrs(_from: &File, _to: &File) -> Result<(), ReplaceError> {
    Ok(())
}

/// Resolving a path below a directory without following any link, in one call where the
/// system can (Linux's `openat2`, `RESOLVE_NO_SYMLINKS`), so that reading a walked file costs
/// no more opens than reading it by its path.
#[cfg(unix)]
mod beneath {
    use rustix::fs::OFlags;
    use std::ffi::OsStr;
    use std::io;
    use std::os::fd::{BorrowedFd, OwnedFd};

    /// A link or a file met where a directory of the path was.
    pub(super) fn link_error(e: rustix::io::Errno) -> io::Error {
        match e {
            rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR => {
                super::swapped("a directory on its path, or the file, is now a link")
            }
            e => e.into(),
        }
    }

    /// The file `names/last` below `base` (and, when `with_dir`, its directory); `None` where
    /// the system has no such call, for the caller to go a directory at a time.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub(super) fn open(
        base: BorrowedFd<'_>,
        names: &[&OsStr],
        last: &OsStr,
        with_dir: bool,
        dir_flags: OFlags,
        file_flags: OFlags,
    ) -> Option<io::Result<(Option<OwnedFd>, OwnedFd)>> {
        use rustix::fs::{openat, openat2, Mode, ResolveFlags};
        use std::os::unix::ffi::OsStrExt;
        use std::sync::atomic::{AtomicBool, Ordering};
        // Kernels before 5.6, and sandboxes that filter the call, answer ENOSYS or EPERM.
        static MISSING: AtomicBool = AtomicBool::new(false);
        if MISSING.load(Ordering::Relaxed) {
            return None;
        }
        let mut dirs = Vec::new();
        for name in names {
            dirs.extend_from_slice(name.as_bytes());
            dirs.push(b'/');
        }
        let resolve = ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
        let opened = if with_dir {
            dirs.push(b'.');
            openat2(
                base,
                OsStr::from_bytes(&dirs),
                dir_flags,
                Mode::empty(),
                resolve,
            )
            .and_then(|dir| {
                let file = openat(&dir, last, file_flags, Mode::empty())?;
                Ok((Some(dir), file))
            })
        } else {
            dirs.extend_from_slice(last.as_bytes());
            openat2(
                base,
                OsStr::from_bytes(&dirs),
                file_flags,
                Mode::empty(),
                resolve,
            )
            .map(|file| (None, file))
        };
        match opened {
            Err(rustix::io::Errno::NOSYS | rustix::io::Errno::PERM) => {
                MISSING.store(true, Ordering::Relaxed);
                None
            }
            Err(rustix::io::Errno::AGAIN) => None,
            opened => Some(opened.map_err(link_error)),
        }
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    pub(super) fn open(
        _base: BorrowedFd<'_>,
        _names: &[&OsStr],
        _last: &OsStr,
        _with_dir: bool,
        _dir_flags: OFlags,
        _file_flags: OFlags,
    ) -> Option<io::Result<(Option<OwnedFd>, OwnedFd)>> {
        None
    }
}

//! Resolving a path below a directory without following any link, in one call where the
//! system can (Linux's `openat2`, `RESOLVE_NO_SYMLINKS`), so that reading a walked file costs
//! no more opens than reading it by its path.

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

/// A path to resolve below a directory: its directories' names and the file's, from the top
/// of the file system when `from_top`.
pub(super) struct Below<'a> {
    pub(super) from_top: bool,
    pub(super) names: &'a [&'a OsStr],
    pub(super) last: &'a OsStr,
}

/// The file `below` names, below `base` (and, when `with_dir`, its directory); `None` where
/// the system has no such call, for the caller to go a directory at a time.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(super) fn open(
    base: BorrowedFd<'_>,
    below: &Below<'_>,
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
    if below.from_top {
        dirs.push(b'/');
    }
    for name in below.names {
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
            let file = openat(&dir, below.last, file_flags, Mode::empty())?;
            Ok((Some(dir), file))
        })
    } else {
        dirs.extend_from_slice(below.last.as_bytes());
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
    _below: &Below<'_>,
    _with_dir: bool,
    _dir_flags: OFlags,
    _file_flags: OFlags,
) -> Option<io::Result<(Option<OwnedFd>, OwnedFd)>> {
    None
}

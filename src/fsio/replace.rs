//! Writing a walked file: a temporary file made in the directory handle the file was opened
//! from, given the file's metadata, renamed over it within that directory; and the names of
//! those temporary files, by which a later run finds the ones a killed run left.

use super::{is_replaced, Opened, Seen, Swapped};
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::path::Path;

// The temporary file a write goes through: `.manifix-<pid>-<6 random>.tmp`, beside the file.
// The writer's process id in the name tells a later run whether the file is still being
// written or was left by a `manifix fix` that was killed between writing it and renaming it.
const TEMP_PREFIX: &str = ".manifix-";
const TEMP_SUFFIX: &str = ".tmp";
const TEMP_RANDOM: usize = 6;

/// When `path` is a temporary file of a `manifix fix` whose process is gone (killed while
/// writing), that process's id. A file of a writer still running, or of any other name, is
/// `None`: it is never touched.
pub fn leftover_writer(path: &Path) -> Option<u32> {
    let pid = temp_writer(path)?;
    (pid != std::process::id() && !process_alive(pid, path)).then_some(pid)
}

/// The process id in the name of one of manifix's temporary files, from the name alone.
pub fn temp_writer(path: &Path) -> Option<u32> {
    let name = path.file_name()?.to_str()?;
    let (pid, random) = name
        .strip_prefix(TEMP_PREFIX)?
        .strip_suffix(TEMP_SUFFIX)?
        .split_once('-')?;
    let ours = !pid.is_empty()
        && pid.bytes().all(|b| b.is_ascii_digit())
        && random.len() == TEMP_RANDOM
        && random.bytes().all(|b| b.is_ascii_alphanumeric());
    pid.parse().ok().filter(|_| ours)
}

/// Whether process `pid` may still be writing `file`. Where /proc lists processes, whether it
/// runs (a zombie, killed and not yet waited for by its parent, writes nothing more);
/// elsewhere, whether the file changed in the last hour (a write takes milliseconds).
fn process_alive(pid: u32, file: &Path) -> bool {
    if Path::new("/proc/self").exists() {
        return match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            // `pid (command) state ...`: the command may hold spaces and parentheses.
            Ok(stat) => stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next())
                .is_none_or(|state| state != 'Z'),
            Err(e) => e.kind() != std::io::ErrorKind::NotFound,
        };
    }
    std::fs::symlink_metadata(file)
        .and_then(|m| m.modified())
        .map(|t| t.elapsed().map_or(true, |age| age.as_secs() < 3600))
        .unwrap_or(true)
}

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
    use rustix::fs::Mode;
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
    let stat = &opened.stat;
    if stat.st_nlink > 1 && !break_hardlinks {
        // `nlink_t` is 64 bits here, 32 on some other systems.
        #[allow(clippy::useless_conversion)]
        return Err(ReplaceError::HardLinked(u64::from(stat.st_nlink)));
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

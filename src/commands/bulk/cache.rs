//! Clone URLs of a bulk run live in a cache directory as bare clones: cloned once, fetched on
//! later runs, so a resumed or repeated migration does not download everything again.

use crate::resolve::git::{callbacks, git_message, redact_url};
use git2::{build::RepoBuilder, AutotagOption, FetchOptions, Repository};
use std::path::{Path, PathBuf};

/// The default cache: `$XDG_CACHE_HOME/manifix/repos`, else `~/.cache/manifix/repos`.
pub fn default_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("manifix").join("repos")
}

/// Where `url` is cached: a readable name (credentials removed) and a hash of the full URL,
/// so two URLs never share a clone.
pub fn clone_dir(cache: &Path, url: &str) -> PathBuf {
    let readable: String = redact_url(url)
        .rsplit("://")
        .next()
        .unwrap_or("")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let readable = readable.trim_matches('-');
    let short: String = readable
        .chars()
        .rev()
        .take(60)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    cache.join(format!(
        "{short}-{:08x}",
        crate::text::stable_hash(url) as u32
    ))
}

/// A cache entry in use: the clone, and the lock that keeps other manifix processes sharing
/// the cache off it (they wait) until this is dropped.
pub struct Entry {
    pub dir: PathBuf,
    _lock: std::fs::File,
}

/// Locks the cache entry of `dir` (a clone directory, which need not exist yet): an exclusive
/// lock on `<dir>.lock` beside it, waited for when another process holds it. Two bulk runs
/// sharing a cache would otherwise clone into the same place or fetch into the same
/// repository at once, and one of them fail.
pub fn lock_entry(dir: &Path) -> Result<std::fs::File, String> {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    let path = dir.with_file_name(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("cannot create the cache lock {}: {e}", path.display()))?;
    file.lock()
        .map_err(|e| format!("cannot lock {}: {e}", path.display()))?;
    Ok(file)
}

/// A bare clone of `url` whose default branch matches the remote's: cloned when missing,
/// fetched otherwise, with the entry locked until the returned [`Entry`] is dropped. Under
/// `--offline` nothing is cloned or fetched.
pub fn ensure(url: &str, cache: &Path) -> Result<Entry, String> {
    let shown = redact_url(url);
    if crate::resolve::git::offline() {
        return Err(format!(
            "{shown} not cloned or fetched: {}",
            crate::resolve::git::OFFLINE_REASON
        ));
    }
    let dir = clone_dir(cache, url);
    std::fs::create_dir_all(cache)
        .map_err(|e| format!("cannot create cache {}: {e}", cache.display()))?;
    let lock = lock_entry(&dir)?;
    if dir.exists() {
        update(url, &dir).map_err(|e| format!("fetch {shown}: {e}"))?;
        return Ok(Entry { dir, _lock: lock });
    }
    // Clone beside the final place and rename: an interrupted clone never looks complete.
    let partial = tempfile::Builder::new()
        .prefix(".cloning-")
        .tempdir_in(cache)
        .map_err(|e| format!("cannot create cache {}: {e}", cache.display()))?;
    let mut fetch = FetchOptions::new();
    fetch.remote_callbacks(callbacks());
    RepoBuilder::new()
        .bare(true)
        .fetch_options(fetch)
        .clone(url, partial.path())
        .map_err(|e| format!("clone {shown}: {}", git_message(&e)))?;
    std::fs::rename(partial.path(), &dir)
        .map_err(|e| format!("cannot move the clone of {shown} into place: {e}"))?;
    // The temporary directory is gone (renamed); dropping it must not fail the run.
    let _ = partial.keep();
    Ok(Entry { dir, _lock: lock })
}

/// Fetches every branch and moves the checked-out default branch to the remote's.
fn update(url: &str, dir: &Path) -> Result<(), String> {
    let repo = Repository::open_bare(dir).map_err(|e| e.message().to_string())?;
    let mut remote = repo
        .remote_anonymous(url)
        .map_err(|e| e.message().to_string())?;
    let mut fetch = FetchOptions::new();
    fetch
        .remote_callbacks(callbacks())
        .download_tags(AutotagOption::None)
        .prune(git2::FetchPrune::On);
    remote
        .fetch(
            &["+refs/heads/*:refs/remotes/origin/*"],
            Some(&mut fetch),
            None,
        )
        .map_err(|e| git_message(&e))?;
    let head = repo
        .find_reference("HEAD")
        .map_err(|e| e.message().to_string())?;
    let Some(branch_ref) = head.symbolic_target().ok().flatten().map(str::to_string) else {
        return Ok(());
    };
    let Some(name) = branch_ref.strip_prefix("refs/heads/") else {
        return Ok(());
    };
    let tracking = repo
        .find_reference(&format!("refs/remotes/origin/{name}"))
        .and_then(|r| r.peel_to_commit())
        .map_err(|_| format!("the remote has no branch {name} any more"))?;
    repo.reference(
        &branch_ref,
        tracking.id(),
        true,
        "manifix bulk: update from remote",
    )
    .map_err(|e| e.message().to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    #[test]
    fn a_second_locker_waits_for_the_first() {
        let cache = tempfile::tempdir().unwrap();
        let dir = clone_dir(cache.path(), "https://git.example.com/team/app.git");
        let first = lock_entry(&dir).unwrap();
        assert!(
            dir.with_file_name(format!(
                "{}.lock",
                dir.file_name().unwrap().to_string_lossy()
            ))
            .is_file(),
            "the lock file sits beside the entry"
        );
        let (tx, rx) = mpsc::channel();
        let waiter = {
            let dir = dir.clone();
            std::thread::spawn(move || {
                let second = lock_entry(&dir).unwrap();
                tx.send(Instant::now()).unwrap();
                drop(second);
            })
        };
        assert!(
            rx.recv_timeout(Duration::from_millis(300)).is_err(),
            "the second locker got the lock while the first held it"
        );
        let released = Instant::now();
        drop(first);
        let got = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("second locker");
        assert!(got >= released);
        waiter.join().unwrap();
        // Once free, it is taken at once again.
        drop(lock_entry(&dir).unwrap());
    }
}

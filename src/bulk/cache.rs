//! Clone URLs of a bulk run live in a cache directory as bare clones: cloned once, fetched on
//! later runs, so a resumed or repeated migration does not download everything again.

use crate::resolve::git::{callbacks, redact_url};
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

/// A bare clone of `url` whose default branch matches the remote's: cloned when missing,
/// fetched otherwise.
pub fn ensure(url: &str, cache: &Path) -> Result<PathBuf, String> {
    let shown = redact_url(url);
    let dir = clone_dir(cache, url);
    if dir.exists() {
        update(url, &dir).map_err(|e| format!("fetch {shown}: {e}"))?;
        return Ok(dir);
    }
    std::fs::create_dir_all(cache)
        .map_err(|e| format!("cannot create cache {}: {e}", cache.display()))?;
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
        .map_err(|e| format!("clone {shown}: {}", e.message()))?;
    std::fs::rename(partial.path(), &dir)
        .map_err(|e| format!("cannot move the clone of {shown} into place: {e}"))?;
    // The temporary directory is gone (renamed); dropping it must not fail the run.
    let _ = partial.keep();
    Ok(dir)
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
        .map_err(|e| e.message().to_string())?;
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

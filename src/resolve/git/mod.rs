//! Which commit a branch points to, so a mutable image tag (`main-latest`) can be pinned to the
//! commit that built it.
//!
//! A repository is either a local path (opened with libgit2, bare or not) or a URL, which is
//! listed without cloning, as `git ls-remote` does. Results are cached per run by [`GitResolver`],
//! because a GitOps repository names the same application branch in many manifests.

mod net;

use net::{auto_proxy, redact_secrets};
pub(crate) use net::{callbacks, git_message, redact_url};
pub use net::{configure_network, offline, set_offline, timeouts, OFFLINE_REASON};

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use git2::{AutotagOption, Commit, Direction, FetchOptions, Repository, Sort};

/// A commit a branch points to, with what messages show about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    /// Full 40-hex object id.
    pub sha: String,
    /// First paragraph of the message (what `git log --format=%s` shows); None when not fetched.
    pub subject: Option<String>,
    /// `YYYY-MM-DD` in the author's own offset, as `git log --date=short` shows it.
    pub author_date: Option<String>,
    /// Author time in unix seconds.
    pub author_time: Option<i64>,
}

/// A branch and the commit it points to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchHead {
    pub branch: String,
    pub commit: CommitInfo,
}

/// Why a branch could not be resolved. `repo` is always shown with any credentials removed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GitError {
    #[error("{repo} is not a git repository: {message}")]
    NotARepository { repo: String, message: String },
    #[error("branch `{branch}` not found in {repo}; {}", list_available(.available))]
    BranchNotFound {
        repo: String,
        branch: String,
        available: Vec<String>,
    },
    #[error("{repo} has no default branch (HEAD is detached or not advertised); name the branch")]
    NoDefaultBranch { repo: String },
    #[error("cannot read branches of {repo}: {message}")]
    Remote { repo: String, message: String },
    #[error("cannot read branch `{branch}` in {repo}: {message}")]
    Repository {
        repo: String,
        branch: String,
        message: String,
    },
    #[error("history of {repo} needs a local clone; URLs are only listed, not walked")]
    NotLocal { repo: String },
    #[error("{repo} not resolved: {OFFLINE_REASON}")]
    Offline { repo: String },
}

fn list_available(available: &[String]) -> String {
    if available.is_empty() {
        "the repository has no branches".to_string()
    } else {
        format!("available branches: {}", available.join(", "))
    }
}

/// True for `scheme://...` and scp-like `[user@]host:path`, the forms git itself treats as remote.
/// As in git, a colon counts only before the first slash, and a one-letter "host" is a Windows
/// drive (`C:\repo`), so local paths stay local; a local path with a colon can be written `./a:b`.
pub fn is_url(repo: &str) -> bool {
    if let Some((scheme, rest)) = repo.split_once("://") {
        let valid_scheme = !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        return valid_scheme && !rest.is_empty();
    }
    let Some(colon) = repo.find(':') else {
        return false;
    };
    let before = &repo[..colon];
    let host = before.rsplit_once('@').map_or(before, |(_, host)| host);
    !before.contains('/') && !before.contains('\\') && host.len() > 1
}

/// Resolves `branch` (or, when None, the repository's default branch: for a local repository the
/// branch HEAD points to, for a URL the remote's HEAD symref) in `repo`.
pub fn resolve_branch(repo: &str, branch: Option<&str>) -> Result<BranchHead, GitError> {
    resolve_branch_in(repo, branch, offline())
}

fn resolve_branch_in(
    repo: &str,
    branch: Option<&str>,
    offline: bool,
) -> Result<BranchHead, GitError> {
    let branch = branch.map(|b| b.strip_prefix("refs/heads/").unwrap_or(b));
    if is_url(repo) && offline {
        return Err(GitError::Offline {
            repo: redact_url(repo),
        });
    }
    if is_url(repo) {
        resolve_remote(repo, branch)
    } else {
        resolve_local(repo, branch)
    }
}

/// Caches [`resolve_branch`] per (repo, branch) for one run. Each key is resolved exactly once,
/// even when threads ask at the same time, and errors are cached too, so an unreachable remote
/// named in a hundred manifests costs one timeout, not a hundred.
#[derive(Default)]
pub struct GitResolver {
    cache: Mutex<HashMap<CacheKey, Arc<OnceLock<Resolution>>>>,
    lookups: AtomicUsize,
}

type CacheKey = (String, Option<String>);
type Resolution = Result<BranchHead, GitError>;

impl GitResolver {
    pub fn resolve(&self, repo: &str, branch: Option<&str>) -> Result<BranchHead, GitError> {
        let key = (repo.to_string(), branch.map(str::to_string));
        // The map lock is held only to find the slot, so different keys resolve in parallel.
        let slot = {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(cache.entry(key).or_default())
        };
        slot.get_or_init(|| {
            self.lookups.fetch_add(1, Ordering::Relaxed);
            resolve_branch(repo, branch)
        })
        .clone()
    }

    /// How many real resolutions ran (cache misses).
    pub fn lookups(&self) -> usize {
        self.lookups.load(Ordering::Relaxed)
    }
}

/// The commits of `branch` from its head backwards along first parents (the merges into the
/// branch, not the commits of merged topic branches), at most `limit`. Local repositories only:
/// a remote would have to be cloned to walk it.
pub fn first_parent_history(
    repo: &str,
    branch: &str,
    limit: usize,
) -> Result<Vec<CommitInfo>, GitError> {
    if is_url(repo) {
        return Err(GitError::NotLocal {
            repo: redact_url(repo),
        });
    }
    let branch = branch.strip_prefix("refs/heads/").unwrap_or(branch);
    let git = open_local(repo)?;
    let head = local_branch_commit(&git, repo, branch)?;
    let fail = |e: git2::Error| repo_error(repo, branch, &e);
    let mut walk = git.revwalk().map_err(fail)?;
    walk.set_sorting(Sort::TOPOLOGICAL).map_err(fail)?;
    walk.simplify_first_parent().map_err(fail)?;
    walk.push(head.id()).map_err(fail)?;
    walk.take(limit)
        .map(|oid| {
            let commit = git.find_commit(oid.map_err(fail)?).map_err(fail)?;
            Ok(commit_info(&commit))
        })
        .collect()
}

fn open_local(repo: &str) -> Result<Repository, GitError> {
    Repository::open(Path::new(repo)).map_err(|e| GitError::NotARepository {
        repo: repo.to_string(),
        message: e.message().to_string(),
    })
}

fn repo_error(repo: &str, branch: &str, e: &git2::Error) -> GitError {
    GitError::Repository {
        repo: repo.to_string(),
        branch: branch.to_string(),
        message: e.message().to_string(),
    }
}

fn resolve_local(repo: &str, branch: Option<&str>) -> Result<BranchHead, GitError> {
    let git = open_local(repo)?;
    let branch = match branch {
        Some(b) => b.to_string(),
        None => local_default_branch(&git).ok_or_else(|| GitError::NoDefaultBranch {
            repo: repo.to_string(),
        })?,
    };
    let commit = local_branch_commit(&git, repo, &branch)?;
    Ok(BranchHead {
        commit: commit_info(&commit),
        branch,
    })
}

/// The branch HEAD points to; in a clone with a detached HEAD, the branch `origin/HEAD` names.
fn local_default_branch(git: &Repository) -> Option<String> {
    let symbolic = |name: &str| -> Option<String> {
        let reference = git.find_reference(name).ok()?;
        reference.symbolic_target().ok()?.map(str::to_string)
    };
    if let Some(target) = symbolic("HEAD") {
        return target.strip_prefix("refs/heads/").map(str::to_string);
    }
    symbolic("refs/remotes/origin/HEAD")?
        .strip_prefix("refs/remotes/origin/")
        .map(str::to_string)
}

/// `refs/heads/B`, else `refs/remotes/origin/B`: a CI checkout or fresh clone often has only the
/// remote-tracking branch, and that is still the commit the image was built from.
fn local_branch_commit<'r>(
    git: &'r Repository,
    repo: &str,
    branch: &str,
) -> Result<Commit<'r>, GitError> {
    for name in [
        format!("refs/heads/{branch}"),
        format!("refs/remotes/origin/{branch}"),
    ] {
        match git.find_reference(&name) {
            Ok(reference) => {
                return reference
                    .peel_to_commit()
                    .map_err(|e| repo_error(repo, branch, &e))
            }
            Err(e) if e.code() == git2::ErrorCode::NotFound => {}
            Err(e) if e.code() == git2::ErrorCode::InvalidSpec => break,
            Err(e) => return Err(repo_error(repo, branch, &e)),
        }
    }
    Err(GitError::BranchNotFound {
        repo: repo.to_string(),
        branch: branch.to_string(),
        available: local_branch_names(git),
    })
}

fn local_branch_names(git: &Repository) -> Vec<String> {
    let mut names = BTreeSet::new();
    for (glob, prefix) in [
        ("refs/heads/*", "refs/heads/"),
        ("refs/remotes/origin/*", "refs/remotes/origin/"),
    ] {
        let Ok(refs) = git.references_glob(glob) else {
            continue;
        };
        let short = |r: git2::Reference<'_>| Some(r.name().ok()?.strip_prefix(prefix)?.to_string());
        names.extend(refs.flatten().filter_map(short).filter(|s| s != "HEAD"));
    }
    names.into_iter().collect()
}

fn commit_info(commit: &Commit<'_>) -> CommitInfo {
    let when = commit.author().when();
    CommitInfo {
        sha: commit.id().to_string(),
        subject: commit
            .summary_bytes()
            .map(|s| String::from_utf8_lossy(s).into_owned()),
        author_date: Some(civil_date(when.seconds(), when.offset_minutes())),
        author_time: Some(when.seconds()),
    }
}

/// `YYYY-MM-DD` of a unix time seen at `offset_minutes` from UTC (Howard Hinnant's
/// days-to-civil), so a commit made at 23:30 in New York is dated that day, as git shows it.
fn civil_date(seconds: i64, offset_minutes: i32) -> String {
    let days = (seconds + i64::from(offset_minutes) * 60).div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn resolve_remote(url: &str, branch: Option<&str>) -> Result<BranchHead, GitError> {
    let shown = redact_url(url);
    let remote_error = |e: git2::Error| GitError::Remote {
        repo: shown.clone(),
        message: redact_secrets(&git_message(&e).replace(url, &shown)),
    };
    let mut remote = git2::Remote::create_detached(url).map_err(remote_error)?;
    let connection = remote
        .connect_auth(Direction::Fetch, Some(callbacks()), Some(auto_proxy()))
        .map_err(remote_error)?;
    let heads: HashMap<String, git2::Oid> = (connection.list().map_err(remote_error)?.iter())
        .filter_map(|h| Some((h.name().strip_prefix("refs/heads/")?.to_string(), h.oid())))
        .collect();
    // libgit2 reads the HEAD symref the server advertises, and for servers too old to advertise
    // it, picks the branch whose commit HEAD has, as git clone does.
    let default = || -> Option<String> {
        let buf = connection.default_branch().ok()?;
        Some(buf.as_str().ok()?.strip_prefix("refs/heads/")?.to_string())
    };
    let branch = match branch {
        Some(b) => b.to_string(),
        None => default().ok_or_else(|| GitError::NoDefaultBranch {
            repo: shown.clone(),
        })?,
    };
    drop(connection);
    let Some(oid) = heads.get(&branch).copied() else {
        let mut available: Vec<String> = heads.into_keys().collect();
        available.sort();
        return Err(GitError::BranchNotFound {
            repo: shown,
            branch,
            available,
        });
    };
    let commit = fetch_commit_info(url, &branch, oid).unwrap_or_else(|| CommitInfo {
        sha: oid.to_string(),
        subject: None,
        author_date: None,
        author_time: None,
    });
    Ok(BranchHead { branch, commit })
}

/// Subject and date of `oid` by fetching only `branch` into a throwaway bare repository: depth 1
/// where the transport allows it (libgit2's local `file://` transport refuses shallow fetches,
/// so that case fetches the one ref in full). Best effort: the sha from ls-remote is the answer,
/// the message only decorates it, so any failure here yields None.
fn fetch_commit_info(url: &str, branch: &str, oid: git2::Oid) -> Option<CommitInfo> {
    let dir = tempfile::Builder::new()
        .prefix("manifix-git-")
        .tempdir()
        .ok()?;
    let git = Repository::init_bare(dir.path()).ok()?;
    let refspec = format!("+refs/heads/{branch}:refs/heads/{branch}");
    for depth in [1, 0] {
        let Ok(mut remote) = git.remote_anonymous(url) else {
            return None;
        };
        let mut options = FetchOptions::new();
        options
            .remote_callbacks(callbacks())
            .download_tags(AutotagOption::None)
            .update_fetchhead(false)
            .proxy_options(auto_proxy())
            .depth(depth);
        if remote.fetch(&[&refspec], Some(&mut options), None).is_ok() {
            break;
        }
    }
    let commit = git.find_commit(oid).ok()?;
    Some(commit_info(&commit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_paths() {
        for url in [
            "https://github.com/org/app.git",
            "git://127.0.0.1:9418/app.git",
            "file:///srv/app.git",
            "ssh://git@host/app",
            "git@github.com:org/app.git",
            "host:app.git",
        ] {
            assert!(is_url(url), "{url}");
        }
        for path in ["../app", "/srv/app.git", "C:\\repo", "./a:b", "app", ""] {
            assert!(!is_url(path), "{path}");
        }
    }

    #[test]
    fn offline_refuses_urls_and_keeps_paths() {
        // The process-wide switch is left alone: other tests resolve URLs meanwhile.
        let url = resolve_branch_in("git://127.0.0.1:1/app.git", Some("main"), true);
        let path = resolve_branch_in("/nonexistent/manifix-offline-test", Some("main"), true);
        let e = url.unwrap_err();
        assert!(matches!(e, GitError::Offline { .. }), "{e}");
        assert!(e.to_string().contains("--offline"), "{e}");
        assert!(
            matches!(path, Err(GitError::NotARepository { .. })),
            "{path:?}"
        );
    }

    #[test]
    fn dates_in_author_offset() {
        assert_eq!(civil_date(0, 0), "1970-01-01");
        // 2024-03-02T04:30Z is still 1 March in UTC-5, and 2 March in UTC+5:30.
        assert_eq!(civil_date(1_709_353_800, -300), "2024-03-01");
        assert_eq!(civil_date(1_709_353_800, 330), "2024-03-02");
        assert_eq!(civil_date(951_782_400, 0), "2000-02-29");
    }
}

//! Fixes as a commit on a new branch, for a pull request: built from HEAD's content with git2,
//! without touching the working tree, the index or the checked-out branch; pushed on request.

use crate::fix::FilePlan;
use crate::resolve::git::{callbacks, redact_url};
use git2::build::TreeUpdateBuilder;
use git2::{FileMode, ObjectType, Oid, PushOptions, Repository, Signature};
use std::cell::RefCell;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum VcsError {
    #[error("{0}: not inside a git repository")]
    NotARepository(String),
    #[error("HEAD has no commit yet (unborn branch): there is nothing to branch from")]
    UnbornHead,
    #[error("branch {0:?} already exists; choose another name or pass --force to move it")]
    BranchExists(String),
    #[error("branch {0:?} is checked out: manifix never moves the checked-out branch (choose another name)")]
    CheckedOut(String),
    #[error("branch {branch:?} is checked out in the worktree at {worktree}: manifix never moves a checked-out branch (choose another name)")]
    CheckedOutElsewhere { branch: String, worktree: String },
    #[error("{0:?} is not a valid branch name")]
    BadBranchName(String),
    #[error("--author {0:?}: expected \"Name <email>\"")]
    BadAuthor(String),
    #[error("no remote named {0:?}")]
    NoRemote(String),
    #[error("push to {remote} failed: {message}")]
    Push { remote: String, message: String },
    #[error("git: {0}")]
    Git(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl From<git2::Error> for VcsError {
    fn from(e: git2::Error) -> Self {
        VcsError::Git(e.message().to_string())
    }
}

/// HEAD's files written out to a temporary directory, so the run sees exactly what HEAD holds.
pub struct HeadSnapshot {
    _dir: tempfile::TempDir,
    /// Where the user's root lies inside the snapshot.
    pub root: PathBuf,
    /// The user's root relative to the repository's top, `/`-separated ("" at the top).
    pub prefix: String,
    pub workdir: PathBuf,
    pub head: Oid,
}

impl HeadSnapshot {
    /// The path inside the repository of a file at `rel` under the root.
    pub fn repo_path(&self, rel: &str) -> String {
        if self.prefix.is_empty() {
            rel.to_string()
        } else {
            format!("{}/{rel}", self.prefix)
        }
    }
}

pub fn open(root: &Path) -> Result<Repository, VcsError> {
    Repository::discover(root).map_err(|_| VcsError::NotARepository(root.display().to_string()))
}

/// Writes HEAD's tree (regular files only; links and submodules are not manifests) to a
/// temporary directory.
pub fn snapshot_head(repo: &Repository, root: &Path) -> Result<HeadSnapshot, VcsError> {
    let head = match repo.head() {
        Ok(h) => h,
        Err(e)
            if e.code() == git2::ErrorCode::UnbornBranch
                || e.code() == git2::ErrorCode::NotFound =>
        {
            return Err(VcsError::UnbornHead)
        }
        Err(e) => return Err(e.into()),
    };
    let commit = head.peel_to_commit()?;
    let tree = commit.tree()?;
    // A bare repository (a bulk run's clone cache) has no work tree: its top is the git dir.
    let workdir = repo.workdir().unwrap_or(repo.path()).to_path_buf();
    let root_real = root.canonicalize().map_err(|source| VcsError::Io {
        path: root.display().to_string(),
        source,
    })?;
    let workdir_real = workdir.canonicalize().unwrap_or_else(|_| workdir.clone());
    let prefix = root_real
        .strip_prefix(&workdir_real)
        .map(|p| crate::discover::relative(Path::new(""), p))
        .unwrap_or_default();
    let prefix = if prefix == "." { String::new() } else { prefix };

    let dir = tempfile::Builder::new()
        .prefix("manifix-head-")
        .tempdir()
        .map_err(|source| VcsError::Io {
            path: "temporary directory".into(),
            source,
        })?;
    write_tree(repo, &tree, dir.path())?;
    let snapshot_root = dir.path().join(&prefix);
    std::fs::create_dir_all(&snapshot_root).map_err(|source| VcsError::Io {
        path: snapshot_root.display().to_string(),
        source,
    })?;
    Ok(HeadSnapshot {
        root: snapshot_root,
        _dir: dir,
        prefix,
        workdir,
        head: commit.id(),
    })
}

/// Writes `tree`'s regular files under `dir`, names as their bytes are (a name that is not
/// UTF-8 is written too, so the run lists it as `check` does).
fn write_tree(repo: &Repository, tree: &git2::Tree, dir: &Path) -> Result<(), VcsError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| VcsError::Io { path, source }
    };
    for entry in tree.iter() {
        let Some(name) = name_of(entry.name_bytes()) else {
            continue;
        };
        let path = dir.join(name);
        match entry.kind() {
            Some(ObjectType::Tree) => {
                let subtree = entry.to_object(repo)?.peel_to_tree()?;
                std::fs::create_dir_all(&path).map_err(io(&path))?;
                write_tree(repo, &subtree, &path)?;
            }
            Some(ObjectType::Blob) if matches!(entry.filemode(), 0o100644 | 0o100755) => {
                let blob = entry.to_object(repo)?.peel_to_blob()?;
                std::fs::write(&path, blob.content()).map_err(io(&path))?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// A tree entry's name as a file name; `None` for one no file may have (`..`, a slash: git
/// refuses to check such a tree out, and so does this).
fn name_of(bytes: &[u8]) -> Option<&std::ffi::OsStr> {
    if bytes.is_empty() || bytes == b"." || bytes == b".." || bytes.contains(&b'/') {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Some(std::ffi::OsStr::from_bytes(bytes))
    }
    #[cfg(not(unix))]
    {
        std::str::from_utf8(bytes).ok().map(std::ffi::OsStr::new)
    }
}

/// `Name <email>` → a signature, or the repository's configured user.
pub fn signature(repo: &Repository, author: Option<&str>) -> Result<Signature<'static>, VcsError> {
    match author {
        None => repo.signature().map_err(|e| {
            VcsError::Git(format!(
                "{} (set user.name and user.email, or pass --author \"Name <email>\")",
                e.message()
            ))
        }),
        Some(text) => {
            let (name, rest) = text
                .split_once('<')
                .ok_or_else(|| VcsError::BadAuthor(text.to_string()))?;
            let email = rest
                .strip_suffix('>')
                .ok_or_else(|| VcsError::BadAuthor(text.to_string()))?;
            let name = name.trim();
            if name.is_empty() || email.trim().is_empty() {
                return Err(VcsError::BadAuthor(text.to_string()));
            }
            Ok(Signature::now(name, email.trim())?)
        }
    }
}

/// Commits the planned files on top of HEAD and points `refs/heads/<branch>` at the commit.
/// Nothing else changes: no checkout, no index write, HEAD stays where it is.
pub fn commit_to_branch(
    repo: &Repository,
    snapshot: &HeadSnapshot,
    files: &[FilePlan],
    branch: &str,
    message: &str,
    signature: &Signature,
    force: bool,
) -> Result<Oid, VcsError> {
    if !git2::Branch::name_is_valid(branch).unwrap_or(false) {
        return Err(VcsError::BadBranchName(branch.to_string()));
    }
    check_branch(repo, branch, force)?;
    let refname = format!("refs/heads/{branch}");
    let head = repo.find_commit(snapshot.head)?;
    let new_tree = repo.find_tree(fixed_tree(repo, snapshot, files)?)?;
    let commit = repo.commit(None, signature, signature, message, &new_tree, &[&head])?;
    repo.reference(&refname, commit, force, "manifix fix --branch")?;
    Ok(commit)
}

/// HEAD's tree with the planned files' new content, written to the object database.
pub fn fixed_tree(
    repo: &Repository,
    snapshot: &HeadSnapshot,
    files: &[FilePlan],
) -> Result<Oid, VcsError> {
    let tree = repo.find_commit(snapshot.head)?.tree()?;
    let mut update = TreeUpdateBuilder::new();
    for file in files {
        let path = snapshot.repo_path(&file.path);
        let mode = match tree.get_path(Path::new(&path)).map(|e| e.filemode()) {
            Ok(0o100755) => FileMode::BlobExecutable,
            _ => FileMode::Blob,
        };
        let blob = repo.blob(file.new.as_bytes())?;
        update.upsert(path.as_str(), blob, mode);
    }
    Ok(update.create_updated(repo, &tree)?)
}

/// The commit `branch` points to when it already holds exactly `tree` on top of HEAD: the same
/// fixes committed by an earlier run, which a re-run leaves as they are.
pub fn branch_holding(repo: &Repository, branch: &str, tree: Oid, head: Oid) -> Option<Oid> {
    let commit = repo
        .find_reference(&format!("refs/heads/{branch}"))
        .ok()?
        .peel_to_commit()
        .ok()?;
    (commit.tree_id() == tree && commit.parent_id(0).ok() == Some(head)).then(|| commit.id())
}

/// Refuses a branch name that is invalid, exists (without `force`), or is checked out (even
/// with `force`: moving it would change what the user has checked out under their feet).
pub fn check_branch(repo: &Repository, branch: &str, force: bool) -> Result<(), VcsError> {
    if !git2::Branch::name_is_valid(branch).unwrap_or(false) {
        return Err(VcsError::BadBranchName(branch.to_string()));
    }
    let refname = format!("refs/heads/{branch}");
    let checked_out = repo
        .find_reference("HEAD")
        .ok()
        .and_then(|h| h.symbolic_target().ok().flatten().map(str::to_string));
    if checked_out.as_deref() == Some(refname.as_str()) {
        return Err(VcsError::CheckedOut(branch.to_string()));
    }
    if let Some(worktree) = other_worktree_with(repo, &refname) {
        return Err(VcsError::CheckedOutElsewhere {
            branch: branch.to_string(),
            worktree: crate::escape::quote_path(&worktree.display().to_string()).into_owned(),
        });
    }
    if !force && repo.find_reference(&refname).is_ok() {
        return Err(VcsError::BranchExists(branch.to_string()));
    }
    Ok(())
}

/// The top of another worktree of the repository whose HEAD is `refname`, as `git branch -f`
/// refuses: the main worktree (seen from a linked one) and every linked worktree, even one whose
/// directory is gone but not pruned, since git still counts it.
fn other_worktree_with(repo: &Repository, refname: &str) -> Option<PathBuf> {
    let here = repo.path().canonicalize().ok();
    let is_here = |git_dir: &Path| git_dir.canonicalize().ok() == here;
    let common = repo.commondir();
    if !is_here(common) {
        if let Ok(main) = Repository::open(common) {
            if !main.is_bare() && head_target(&main).as_deref() == Some(refname) {
                return Some(main.workdir().unwrap_or(common).to_path_buf());
            }
        }
    }
    let names = repo.worktrees().ok()?;
    for name in names.iter().flatten().flatten() {
        let git_dir = common.join("worktrees").join(name);
        if is_here(&git_dir) {
            continue;
        }
        let Ok(worktree) = repo.find_worktree(name) else {
            continue;
        };
        let head = Repository::open_from_worktree(&worktree)
            .ok()
            .and_then(|r| head_target(&r))
            .or_else(|| {
                let text = std::fs::read_to_string(git_dir.join("HEAD")).ok()?;
                text.strip_prefix("ref: ").map(|t| t.trim_end().to_string())
            });
        if head.as_deref() == Some(refname) {
            return Some(worktree.path().to_path_buf());
        }
    }
    None
}

/// The branch a repository's HEAD names, when it names one.
fn head_target(repo: &Repository) -> Option<String> {
    repo.find_reference("HEAD")
        .ok()?
        .symbolic_target()
        .ok()
        .flatten()
        .map(str::to_string)
}

/// Pushes `branch` to `remote`; a rejection is reported in the remote's own words.
pub fn push(repo: &Repository, remote: &str, branch: &str, force: bool) -> Result<(), VcsError> {
    let mut handle = repo
        .find_remote(remote)
        .map_err(|_| VcsError::NoRemote(remote.to_string()))?;
    let url = handle.url().unwrap_or("").to_string();
    let shown = handle
        .url()
        .map(redact_url)
        .unwrap_or_else(|_| remote.to_string());
    if is_local_url(&url) {
        return push_with_receive_pack(repo, remote, &shown, branch, force);
    }
    if crate::resolve::git::offline() {
        return Err(VcsError::Push {
            remote: shown,
            message: format!("not pushed: {}", crate::resolve::git::OFFLINE_REASON),
        });
    }
    // Declared before the callbacks that borrow them, so they outlive them.
    let rejected: RefCell<Vec<String>> = RefCell::new(Vec::new());
    let messages: RefCell<String> = RefCell::new(String::new());
    let mut cbs = callbacks();
    cbs.push_update_reference(|refname, status| {
        if let Some(message) = status {
            rejected.borrow_mut().push(format!("{refname}: {message}"));
        }
        Ok(())
    });
    cbs.sideband_progress(|data| {
        messages
            .borrow_mut()
            .push_str(&String::from_utf8_lossy(data));
        true
    });
    let mut options = PushOptions::new();
    options.remote_callbacks(cbs);
    let plus = if force { "+" } else { "" };
    let refspec = format!("{plus}refs/heads/{branch}:refs/heads/{branch}");
    let result = handle.push(&[refspec.as_str()], Some(&mut options));
    drop(options);
    let remote_said = messages.into_inner();
    let remote_said = remote_said.trim();
    let with_remote = |text: String| {
        if remote_said.is_empty() {
            text
        } else {
            format!(
                "{text}\nremote: {}",
                remote_said.replace('\n', "\nremote: ")
            )
        }
    };
    if let Err(e) = result {
        return Err(VcsError::Push {
            remote: shown,
            message: with_remote(e.message().to_string()),
        });
    }
    let rejected = rejected.into_inner();
    if !rejected.is_empty() {
        return Err(VcsError::Push {
            remote: shown,
            message: with_remote(rejected.join("; ")),
        });
    }
    Ok(())
}

/// A remote on this machine: a path or a `file://` URL.
fn is_local_url(url: &str) -> bool {
    url.starts_with("file://") || !crate::resolve::git::is_url(url)
}

/// libgit2 pushes to a local remote by writing into it directly, so that repository's
/// pre-receive and update hooks would never run. `git push` goes through git-receive-pack,
/// which runs them, as every other transport does.
fn push_with_receive_pack(
    repo: &Repository,
    remote: &str,
    shown: &str,
    branch: &str,
    force: bool,
) -> Result<(), VcsError> {
    let plus = if force { "+" } else { "" };
    let dir = repo.workdir().unwrap_or_else(|| repo.path());
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["push", "--porcelain", remote])
        .arg(format!("{plus}refs/heads/{branch}:refs/heads/{branch}"))
        .output()
        .map_err(|e| VcsError::Push {
            remote: shown.to_string(),
            message: format!("cannot run git push: {e}"),
        })?;
    if out.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&out.stderr).trim().to_string();
    Err(VcsError::Push {
        remote: shown.to_string(),
        message: if said.is_empty() {
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        } else {
            said
        },
    })
}

/// The URL of a remote, when it has one.
pub fn remote_url(repo: &Repository, remote: &str) -> Option<String> {
    repo.find_remote(remote)
        .ok()?
        .url()
        .ok()
        .map(str::to_string)
}

/// The page that opens a pull request for `branch` against `base`, for GitHub, GitLab and
/// Bitbucket remotes (https or scp-like ssh URLs).
pub fn pull_request_url(remote_url: &str, base: &str, branch: &str) -> Option<String> {
    let trimmed = remote_url.trim_end_matches('/').trim_end_matches(".git");
    let (host, path) = if let Some((_, rest)) = trimmed.split_once("://") {
        let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
        rest.split_once('/')?
    } else {
        let rest = trimmed.rsplit_once('@').map_or(trimmed, |(_, r)| r);
        rest.split_once(':')?
    };
    let host = host.split(':').next().unwrap_or(host);
    match host {
        "github.com" => Some(format!(
            "https://github.com/{path}/compare/{base}...{branch}?expand=1"
        )),
        "gitlab.com" => Some(format!(
            "https://gitlab.com/{path}/-/merge_requests/new?merge_request[source_branch]={branch}&merge_request[target_branch]={base}"
        )),
        "bitbucket.org" => Some(format!(
            "https://bitbucket.org/{path}/pull-requests/new?source={branch}&dest={base}"
        )),
        _ => None,
    }
}

/// The checked-out branch's short name, the base a pull request goes to.
pub fn current_branch(repo: &Repository) -> Option<String> {
    repo.head().ok()?.shorthand().ok().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::pull_request_url;

    #[test]
    fn pull_request_urls_for_known_hosts() {
        assert_eq!(
            pull_request_url("https://github.com/acme/gitops.git", "main", "fix").as_deref(),
            Some("https://github.com/acme/gitops/compare/main...fix?expand=1")
        );
        assert_eq!(
            pull_request_url("git@gitlab.com:acme/infra/gitops.git", "main", "fix").as_deref(),
            Some("https://gitlab.com/acme/infra/gitops/-/merge_requests/new?merge_request[source_branch]=fix&merge_request[target_branch]=main")
        );
        assert_eq!(
            pull_request_url("ssh://git@bitbucket.org/acme/gitops.git", "main", "fix").as_deref(),
            Some("https://bitbucket.org/acme/gitops/pull-requests/new?source=fix&dest=main")
        );
        assert_eq!(pull_request_url("file:///tmp/x.git", "main", "fix"), None);
    }
}

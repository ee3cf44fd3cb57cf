//! Which commit a branch points to, so a mutable image tag (`main-latest`) can be pinned to the
//! commit that built it.
//!
//! A repository is either a local path (opened with libgit2, bare or not) or a URL, which is
//! listed without cloning, as `git ls-remote` does. Results are cached per run by [`GitResolver`],
//! because a GitOps repository names the same application branch in many manifests.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use git2::{
    AutotagOption, Commit, Config, Cred, CredentialType, Direction, FetchOptions, ProxyOptions,
    RemoteCallbacks, Repository, Sort,
};

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

/// Why something that needs the network was not done under `--offline`.
pub const OFFLINE_REASON: &str = "--offline (a URL needs the network)";

/// `--offline` for this process: no URL is listed, fetched, cloned or pushed to, and no
/// registry is asked. Set from the command line only, never from a repository's files.
static OFFLINE: AtomicBool = AtomicBool::new(false);

pub fn set_offline(on: bool) {
    OFFLINE.store(on, Ordering::Relaxed);
}

pub fn offline() -> bool {
    OFFLINE.load(Ordering::Relaxed)
}

/// How long libgit2 waits to connect to a server, and for each read or write once connected:
/// without a limit a server that drops packets, or accepts and never answers, hangs the run.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// The variable that sets both limits, in seconds.
pub const TIMEOUT_VAR: &str = "MANIFIX_GIT_TIMEOUT";

/// The connect and read limits in force, in milliseconds, for messages.
static CONNECT_TIMEOUT_MS: AtomicU64 = AtomicU64::new(CONNECT_TIMEOUT.as_millis() as u64);
static READ_TIMEOUT_MS: AtomicU64 = AtomicU64::new(READ_TIMEOUT.as_millis() as u64);

/// The connect and read limits: the defaults, or both set to `MANIFIX_GIT_TIMEOUT` seconds
/// (decimals allowed); an unreadable value is an error that names it.
pub fn timeouts(var: Option<&str>) -> Result<(Duration, Duration), String> {
    let Some(text) = var.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok((CONNECT_TIMEOUT, READ_TIMEOUT));
    };
    match text.parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs <= 86_400.0 => {
            let limit = Duration::from_secs_f64(secs).max(Duration::from_millis(1));
            Ok((limit, limit))
        }
        _ => Err(format!(
            "{TIMEOUT_VAR}={text:?} is not a number of seconds between 0 and 86400; using \
             {} s to connect and {} s to read",
            CONNECT_TIMEOUT.as_secs(),
            READ_TIMEOUT.as_secs()
        )),
    }
}

/// Sets up the network side of a run, once, before it starts any thread: `--offline`, and the
/// connect and read limits of every libgit2 transport (`MANIFIX_GIT_TIMEOUT` or the defaults).
/// Returns a warning to show when the variable could not be read.
pub fn configure_network(offline: bool) -> Option<String> {
    set_offline(offline);
    let var = std::env::var(TIMEOUT_VAR).ok();
    let (limits, warning) = match timeouts(var.as_deref()) {
        Ok(limits) => (limits, None),
        Err(e) => ((CONNECT_TIMEOUT, READ_TIMEOUT), Some(e)),
    };
    CONNECT_TIMEOUT_MS.store(limits.0.as_millis() as u64, Ordering::Relaxed);
    READ_TIMEOUT_MS.store(limits.1.as_millis() as u64, Ordering::Relaxed);
    warning
}

/// Gives libgit2 the limits, once, before the run's first transport (every one is made with
/// [`callbacks`]). Not at start-up: the first call into libgit2's options initialises it and
/// its TLS library, which costs every run, most of which never touch the network, 20 ms and
/// 5 MB.
fn limits_to_libgit2() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let ms = |limit: &AtomicU64| Duration::from_millis(limit.load(Ordering::Relaxed));
        apply_timeouts(ms(&CONNECT_TIMEOUT_MS), ms(&READ_TIMEOUT_MS));
    });
}

fn apply_timeouts(connect: Duration, read: Duration) {
    let ms = |d: Duration| i32::try_from(d.as_millis()).unwrap_or(i32::MAX);
    CONNECT_TIMEOUT_MS.store(connect.as_millis() as u64, Ordering::Relaxed);
    READ_TIMEOUT_MS.store(read.as_millis() as u64, Ordering::Relaxed);
    // SAFETY: libgit2 keeps these in C globals written without synchronization; they are read
    // only when a transport connects. They are written once (`limits_to_libgit2`, under a
    // `Once` that every transport's `callbacks()` passes first), so no transport of this
    // process reads them while they are written.
    unsafe {
        let _ = git2::opts::set_server_connect_timeout_in_milliseconds(ms(connect));
        let _ = git2::opts::set_server_timeout_in_milliseconds(ms(read));
    }
}

/// A libgit2 error as shown: any token from the environment masked (a server may echo it),
/// and a timeout saying which limit ran out and how to change it.
pub(crate) fn git_message(e: &git2::Error) -> String {
    let message = redact_secrets(e.message());
    if e.code() == git2::ErrorCode::Timeout || message.contains("timed out") {
        let (what, limit) = if message.contains("connect") {
            ("no connection", &CONNECT_TIMEOUT_MS)
        } else {
            ("no answer", &READ_TIMEOUT_MS)
        };
        let secs = limit.load(Ordering::Relaxed) as f64 / 1000.0;
        format!("{message} ({what} within {secs} s; {TIMEOUT_VAR}=SECONDS sets the limit)")
    } else {
        message
    }
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

/// The proxy git would use (`http.proxy`, `https_proxy`, ...).
fn auto_proxy<'a>() -> ProxyOptions<'a> {
    let mut proxy = ProxyOptions::new();
    proxy.auto();
    proxy
}

/// Credentials as git would find them, each tried once so a rejected credential ends the attempt
/// instead of looping: the ssh agent, a token from the environment (for CI) where its host
/// policy allows it ([`token_for`]), git credential helpers from the user's config (scoped to
/// hosts by git's own rules), then a bare username for transports that only ask for one.
///
/// The URL judged is the one libgit2 is authenticating to (after any redirect), never the
/// configured one, so a redirect cannot carry a token to another host.
pub(crate) fn callbacks<'a>() -> RemoteCallbacks<'a> {
    limits_to_libgit2();
    let config = Config::open_default().ok();
    let mut tried = [false; 4];
    let mut withheld: Vec<String> = Vec::new();
    let mut callbacks = RemoteCallbacks::new();
    callbacks.credentials(move |url, username, allowed| {
        if allowed.contains(CredentialType::SSH_KEY) && !tried[0] {
            tried[0] = true;
            return Cred::ssh_key_from_agent(username.unwrap_or("git"));
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
            if !tried[1] {
                tried[1] = true;
                match token_for(url, &|var| std::env::var(var).ok()) {
                    TokenChoice::Send { user, token, .. } => {
                        return Cred::userpass_plaintext(username.unwrap_or(user), &token);
                    }
                    TokenChoice::Withheld(notes) => withheld = notes,
                }
            }
            if !tried[2] {
                tried[2] = true;
                // No helper configured is not the answer to show: the run goes on to say why
                // no token was sent.
                if let Some(Ok(cred)) = config
                    .as_ref()
                    .map(|c| Cred::credential_helper(c, url, username))
                {
                    return Ok(cred);
                }
            }
        }
        if allowed.contains(CredentialType::USERNAME) && !tried[3] {
            tried[3] = true;
            return Cred::username(username.unwrap_or("git"));
        }
        let mut message = format!(
            "authentication failed for {} (tried the ssh agent, tokens scoped to their hosts \
             and git credential helpers)",
            redact_url(url)
        );
        for note in &withheld {
            message.push_str("; ");
            message.push_str(note);
        }
        Err(git2::Error::from_str(&message))
    });
    callbacks
}

/// A token variable, the username its forge expects with a token, and the hosts it belongs to.
struct TokenVar {
    var: &'static str,
    user: &'static str,
    /// Hosts the variable always belongs to.
    fixed_hosts: &'static [&'static str],
    /// Variables naming more hosts, and how each names them.
    host_vars: &'static [(&'static str, HostVar)],
    /// How the allowed hosts are described in a message.
    described: &'static str,
}

#[derive(Clone, Copy)]
enum HostVar {
    /// A URL (`GITHUB_SERVER_URL=https://github.example.com`): its host.
    Url,
    /// A host name (`CI_SERVER_HOST=gitlab.example.com`).
    Host,
    /// Comma-separated host names.
    List,
}

const TOKEN_VARS: [TokenVar; 3] = [
    TokenVar {
        var: "MANIFIX_GIT_TOKEN",
        user: "x-access-token",
        fixed_hosts: &[],
        host_vars: &[("MANIFIX_GIT_TOKEN_HOSTS", HostVar::List)],
        described: "only the hosts in MANIFIX_GIT_TOKEN_HOSTS, over https",
    },
    TokenVar {
        var: "GITHUB_TOKEN",
        user: "x-access-token",
        fixed_hosts: &["github.com"],
        host_vars: &[("GITHUB_SERVER_URL", HostVar::Url)],
        described: "only github.com and GITHUB_SERVER_URL's host, over https",
    },
    TokenVar {
        var: "GITLAB_TOKEN",
        user: "oauth2",
        fixed_hosts: &["gitlab.com"],
        host_vars: &[("CI_SERVER_HOST", HostVar::Host)],
        described: "only gitlab.com and CI_SERVER_HOST, over https",
    },
];

/// What the token policy decides for one URL.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TokenChoice {
    /// Send this token (from `var`) with this username.
    Send {
        var: &'static str,
        user: &'static str,
        token: String,
    },
    /// No token for this URL; one note per token variable that is set, saying why it was not
    /// sent and what would allow it (empty when no token variable is set).
    Withheld(Vec<String>),
}

/// The token to send to `url`, if any: only over https, and only to the hosts the variable
/// belongs to (`GITHUB_TOKEN`: github.com and `GITHUB_SERVER_URL`'s host; `GITLAB_TOKEN`:
/// gitlab.com and `CI_SERVER_HOST`; `MANIFIX_GIT_TOKEN`: the hosts in
/// `MANIFIX_GIT_TOKEN_HOSTS`), the first variable that allows the host winning. Hosts are
/// compared whole, ignoring case. `env` reads a variable.
pub(crate) fn token_for(url: &str, env: &dyn Fn(&str) -> Option<String>) -> TokenChoice {
    let set: Vec<(&TokenVar, String)> = TOKEN_VARS
        .iter()
        .filter_map(|v| Some((v, env(v.var).filter(|t| !t.trim().is_empty())?)))
        .collect();
    if set.is_empty() {
        return TokenChoice::Withheld(Vec::new());
    }
    let target = target_host(url);
    let mut notes = Vec::new();
    for (v, token) in set {
        let host = match &target {
            Target::Https(host) => host,
            Target::Other { scheme, host } => {
                notes.push(format!(
                    "{} is set but not sent to {host} over {scheme}: tokens go only over https",
                    v.var
                ));
                continue;
            }
            Target::Unclear => {
                notes.push(format!(
                    "{} is set but not sent: the URL's host cannot be read for certain",
                    v.var
                ));
                continue;
            }
        };
        if allowed_hosts(v, env).iter().any(|h| h == host) {
            return TokenChoice::Send {
                var: v.var,
                user: v.user,
                token,
            };
        }
        notes.push(if v.var == "MANIFIX_GIT_TOKEN" {
            format!(
                "MANIFIX_GIT_TOKEN is set but not sent to {host} ({}); add {host} to \
                 MANIFIX_GIT_TOKEN_HOSTS to send it",
                v.described
            )
        } else {
            format!(
                "{} is set but not sent to {host} ({}); set MANIFIX_GIT_TOKEN with \
                 MANIFIX_GIT_TOKEN_HOSTS={host} to send one",
                v.var, v.described
            )
        });
    }
    TokenChoice::Withheld(notes)
}

/// The hosts a token variable may go to, lowercased.
fn allowed_hosts(v: &TokenVar, env: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    let mut hosts: Vec<String> = v.fixed_hosts.iter().map(|h| h.to_string()).collect();
    for (var, kind) in v.host_vars {
        let Some(value) = env(var) else { continue };
        match kind {
            HostVar::Url => hosts.extend(
                url::Url::parse(value.trim())
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_ascii_lowercase)),
            ),
            HostVar::Host => hosts.push(value.trim().to_ascii_lowercase()),
            HostVar::List => hosts.extend(value.split(',').map(|h| h.trim().to_ascii_lowercase())),
        }
    }
    hosts.retain(|h| !h.is_empty());
    hosts
}

/// Where a URL authenticates to, as far as tokens are concerned.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    /// https to this host (lowercase).
    Https(String),
    /// Another scheme (http, git, ssh...) to this host.
    Other { scheme: String, host: String },
    /// No host, or one two readings of the URL disagree on: nothing is sent.
    Unclear,
}

/// The host of `url` as the `url` crate (WHATWG rules) reads it, checked against a plain
/// reading of the authority (after the last `@`, before any port). libgit2 parses URLs with
/// code of its own, so a URL the two could read differently (a backslash, a space, a
/// percent-encoded host) is refused rather than guessed at.
fn target_host(url: &str) -> Target {
    let Ok(parsed) = url::Url::parse(url) else {
        return Target::Unclear;
    };
    let Some(host) = parsed.host_str().map(str::to_ascii_lowercase) else {
        return Target::Unclear;
    };
    if plain_host(url).as_deref() != Some(host.as_str()) {
        return Target::Unclear;
    }
    match parsed.scheme() {
        "https" => Target::Https(host),
        scheme => Target::Other {
            scheme: scheme.to_string(),
            host,
        },
    }
}

/// The host of `scheme://[userinfo@]host[:port][/...]` read by hand, lowercased; None when the
/// authority holds anything but the plain characters of host names, ports and user names.
fn plain_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let plain = |c: char| c.is_ascii_alphanumeric() || "-._~:@[]".contains(c);
    if authority.is_empty() || !authority.chars().all(plain) {
        return None;
    }
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => format!("[{}]", v6.split_once(']')?.0),
        None => host_port.split(':').next()?.to_string(),
    };
    Some(host.to_ascii_lowercase())
}

/// The URL without its `user:password@` part (over http, without any user part: that is usually
/// a token, `https://TOKEN@github.com/...`), so a credential written into a URL is never shown.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let http = scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http");
    match rest[..authority_end].rfind('@') {
        Some(at) if http || rest[..at].contains(':') => {
            format!("{scheme}://***@{}", &rest[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// A remote's message with any token from the environment masked, in case a server echoes it.
fn redact_secrets(message: &str) -> String {
    TOKEN_VARS
        .iter()
        .filter_map(|v| std::env::var(v.var).ok().filter(|t| t.trim().len() >= 4))
        .fold(message.to_string(), |m, token| m.replace(&token, "***"))
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

    fn env_of<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    fn sent(url: &str, vars: &[(&str, &str)]) -> Option<&'static str> {
        match token_for(url, &env_of(vars)) {
            TokenChoice::Send { var, .. } => Some(var),
            TokenChoice::Withheld(_) => None,
        }
    }

    #[test]
    fn tokens_go_only_over_https_to_their_own_hosts() {
        let gh = [("GITHUB_TOKEN", "ghs_x")];
        for url in [
            "https://github.com/org/app.git",
            "https://GitHub.COM/org/app.git",
            "https://github.com:443/org/app.git",
            "https://x-access-token@github.com/org/app.git",
        ] {
            assert_eq!(sent(url, &gh), Some("GITHUB_TOKEN"), "{url}");
        }
        for url in [
            "http://github.com/org/app.git",
            "git://github.com/org/app.git",
            "ssh://git@github.com/org/app.git",
            "https://github.com.evil.net/org/app.git",
            "https://evil.net/github.com",
            "https://evil.net/?github.com",
            "https://evil.net#github.com",
            "https://github.com@evil.net/org/app.git",
            "https://github.com:443@evil.net/org/app.git",
            "https://user:github.com@evil.net/",
            "https://evil.net\\@github.com/org/app.git",
            "https://evil.net%2f@github.com/",
            "https://gith%75b.com/org/app.git",
            "https://github.com./org/app.git",
            "https://notgithub.com/org/app.git",
            "https://github.co/org/app.git",
            "https://127.0.0.1/evil.git",
            "https://[::1]/evil.git",
            "https:github.com/org/app.git",
            "https://ghithub.com /org",
            "github.com:org/app.git",
            "not a url",
            "",
        ] {
            assert_eq!(sent(url, &gh), None, "{url}");
        }
        // GitHub Enterprise: GITHUB_SERVER_URL's host, and nothing that merely contains it.
        let ghe = [
            ("GITHUB_TOKEN", "ghs_x"),
            ("GITHUB_SERVER_URL", "https://GHE.example.com/"),
        ];
        assert_eq!(
            sent("https://ghe.example.com/org/app.git", &ghe),
            Some("GITHUB_TOKEN")
        );
        assert_eq!(sent("https://ghe.example.com.evil.net/app.git", &ghe), None);
        assert_eq!(sent("https://example.com/app.git", &ghe), None);
        // GitLab: gitlab.com and CI_SERVER_HOST, with GitLab's username for tokens.
        let gl = [
            ("GITLAB_TOKEN", "glpat"),
            ("CI_SERVER_HOST", "gitlab.corp.net"),
        ];
        for url in [
            "https://gitlab.com/g/app.git",
            "https://gitlab.corp.net/g/app.git",
        ] {
            assert_eq!(
                token_for(url, &env_of(&gl)),
                TokenChoice::Send {
                    var: "GITLAB_TOKEN",
                    user: "oauth2",
                    token: "glpat".into()
                },
                "{url}"
            );
        }
        assert_eq!(sent("https://github.com/g/app.git", &gl), None);
        assert_eq!(sent("http://gitlab.corp.net/g/app.git", &gl), None);
        // MANIFIX_GIT_TOKEN: only the listed hosts, and none without the list.
        let own = [
            ("MANIFIX_GIT_TOKEN", "t"),
            ("MANIFIX_GIT_TOKEN_HOSTS", " git.corp.net, 127.0.0.1 ,,"),
        ];
        assert_eq!(
            sent("https://git.corp.net/app.git", &own),
            Some("MANIFIX_GIT_TOKEN")
        );
        assert_eq!(
            sent("https://127.0.0.1:8443/app.git", &own),
            Some("MANIFIX_GIT_TOKEN")
        );
        assert_eq!(sent("http://127.0.0.1/app.git", &own), None);
        assert_eq!(sent("https://corp.net/app.git", &own), None);
        assert_eq!(sent("https://github.com/app.git", &own), None);
        assert_eq!(
            sent(
                "https://git.corp.net/app.git",
                &[("MANIFIX_GIT_TOKEN", "t")]
            ),
            None
        );
        // Several set: each goes to its own host.
        let all = [
            ("MANIFIX_GIT_TOKEN", "m"),
            ("MANIFIX_GIT_TOKEN_HOSTS", "git.corp.net"),
            ("GITHUB_TOKEN", "g"),
            ("GITLAB_TOKEN", "l"),
        ];
        assert_eq!(sent("https://gitlab.com/a", &all), Some("GITLAB_TOKEN"));
        assert_eq!(sent("https://github.com/a", &all), Some("GITHUB_TOKEN"));
        assert_eq!(
            sent("https://git.corp.net/a", &all),
            Some("MANIFIX_GIT_TOKEN")
        );
        assert_eq!(sent("https://a.example/a", &[("GITHUB_TOKEN", " ")]), None);
    }

    #[test]
    fn a_withheld_token_says_which_variable_would_allow_it() {
        let notes = |url: &str, vars: &[(&str, &str)]| match token_for(url, &env_of(vars)) {
            TokenChoice::Withheld(notes) => notes.join("; "),
            other => panic!("{url}: {other:?}"),
        };
        let https = notes("https://git.corp.net/a.git", &[("GITHUB_TOKEN", "g")]);
        assert_eq!(
            https,
            "GITHUB_TOKEN is set but not sent to git.corp.net (only github.com and \
             GITHUB_SERVER_URL's host, over https); set MANIFIX_GIT_TOKEN with \
             MANIFIX_GIT_TOKEN_HOSTS=git.corp.net to send one"
        );
        let plain = notes(
            "http://127.0.0.1:9/evil.git",
            &[
                ("MANIFIX_GIT_TOKEN", "m"),
                ("MANIFIX_GIT_TOKEN_HOSTS", "127.0.0.1"),
            ],
        );
        assert!(plain.contains("MANIFIX_GIT_TOKEN is set but not sent to 127.0.0.1 over http"));
        assert!(plain.contains("only over https"), "{plain}");
        let own = notes("https://b.example/x", &[("MANIFIX_GIT_TOKEN", "m")]);
        assert!(
            own.contains("add b.example to MANIFIX_GIT_TOKEN_HOSTS"),
            "{own}"
        );
        assert_eq!(notes("https://b.example/x", &[]), "");
        for url in ["https://evil.net\\@github.com/", "https:github.com/x"] {
            let unclear = notes(url, &[("GITHUB_TOKEN", "g")]);
            assert!(
                unclear.contains("cannot be read for certain"),
                "{url}: {unclear}"
            );
            assert!(!unclear.contains('g') || unclear.contains("GITHUB_TOKEN"));
        }
    }

    #[test]
    fn timeouts_default_or_from_the_variable() {
        assert_eq!(timeouts(None), Ok((CONNECT_TIMEOUT, READ_TIMEOUT)));
        assert_eq!(timeouts(Some(" ")), Ok((CONNECT_TIMEOUT, READ_TIMEOUT)));
        let two = Duration::from_secs(2);
        assert_eq!(timeouts(Some("2")), Ok((two, two)));
        let half = Duration::from_millis(500);
        assert_eq!(timeouts(Some("0.5")), Ok((half, half)));
        for bad in ["0", "-1", "ten", "1e9", "NaN"] {
            let e = timeouts(Some(bad)).unwrap_err();
            assert!(e.contains("MANIFIX_GIT_TIMEOUT"), "{bad}: {e}");
        }
    }

    /// The limits reach libgit2 (the only test in this crate that sets them).
    #[test]
    fn timeouts_are_set_in_libgit2() {
        apply_timeouts(Duration::from_millis(1500), Duration::from_secs(7));
        // SAFETY: reads of the globals just set; no other test touches them.
        let (connect, read) = unsafe {
            (
                git2::opts::get_server_connect_timeout_in_milliseconds().unwrap(),
                git2::opts::get_server_timeout_in_milliseconds().unwrap(),
            )
        };
        assert_eq!((connect, read), (1500, 7000));
        apply_timeouts(CONNECT_TIMEOUT, READ_TIMEOUT);
        let (connect, read) = unsafe {
            (
                git2::opts::get_server_connect_timeout_in_milliseconds().unwrap(),
                git2::opts::get_server_timeout_in_milliseconds().unwrap(),
            )
        };
        assert_eq!((connect, read), (10_000, 60_000));
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

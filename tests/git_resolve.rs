//! Branch resolution against real repositories built with the `git` CLI: a working repository,
//! a bare remote, a clone that only has remote-tracking branches, the bare remote over `file://`
//! and over `git://` from a `git daemon` on 127.0.0.1.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use manifix::resolve::git::{
    first_parent_history, resolve_branch, BranchHead, GitError, GitResolver,
};
use tempfile::TempDir;

/// Runs git with a fixed identity and no user or system config, so commits (and shas) are the
/// same on every machine; returns trimmed stdout.
fn git_at(dir: &Path, args: &[&str], date: &str) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "tag.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Ada Author")
        .env("GIT_AUTHOR_EMAIL", "ada@example.com")
        .env("GIT_COMMITTER_NAME", "Cy Committer")
        .env("GIT_COMMITTER_EMAIL", "cy@example.com")
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn git(dir: &Path, args: &[&str]) -> String {
    git_at(dir, args, "2024-01-01T00:00:00+0000")
}

fn commit(dir: &Path, file: &str, message: &str, date: &str) {
    std::fs::write(dir.join(file), message).unwrap();
    git_at(dir, &["add", file], date);
    git_at(dir, &["commit", "-q", "-m", message], date);
}

/// History (oldest first), main's first-parent line being C5 C4 C2 C1:
/// C1 Initial commit, C2 Add deployment (tag v1.0), C3 on develop, C4 on main, C5 merges develop.
struct Fixture {
    _tmp: TempDir,
    root: PathBuf,
    work: PathBuf,
    bare: PathBuf,
    clone: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let work = root.join("work");
        std::fs::create_dir(&work).unwrap();
        git(&work, &["init", "-q"]);
        commit(&work, "a.txt", "Initial commit", "2024-01-10T09:00:00+0000");
        commit(&work, "b.txt", "Add deployment", "2024-02-01T12:00:00+0100");
        git(&work, &["tag", "-a", "v1.0", "-m", "Release 1.0"]);
        git(&work, &["checkout", "-q", "-b", "develop"]);
        // 23:30 in New York is already 2 March in UTC: the date must follow the author's offset.
        commit(
            &work,
            "c.txt",
            "Develop: feature flag\n\nLonger body that is not the subject.",
            "2024-03-01T23:30:00-0500",
        );
        git(&work, &["checkout", "-q", "main"]);
        commit(&work, "d.txt", "Fix probe", "2024-03-05T01:15:00+0530");
        git_at(
            &work,
            &[
                "merge",
                "-q",
                "--no-ff",
                "-m",
                "Merge branch 'develop'",
                "develop",
            ],
            "2024-03-06T10:00:00+0000",
        );
        let bare = root.join("remote.git");
        git(&root, &["clone", "-q", "--bare", "work", "remote.git"]);
        // A fresh clone has a local `main` only; develop exists as refs/remotes/origin/develop.
        let clone = root.join("clone");
        git(&root, &["clone", "-q", "remote.git", "clone"]);
        Fixture {
            _tmp: tmp,
            root,
            work,
            bare,
            clone,
        }
    }

    fn sha(&self, rev: &str) -> String {
        git(&self.work, &["rev-parse", rev])
    }

    fn file_url(&self) -> String {
        format!("file://{}", self.bare.display())
    }
}

fn check(head: &BranchHead, branch: &str, sha: &str, subject: &str, date: &str) {
    assert_eq!(head.branch, branch);
    assert_eq!(head.commit.sha, sha);
    assert_eq!(head.commit.sha.len(), 40);
    assert_eq!(head.commit.subject.as_deref(), Some(subject));
    assert_eq!(head.commit.author_date.as_deref(), Some(date));
}

#[test]
fn local_repository_branches_and_default() {
    let fx = Fixture::new();
    let work = fx.work.to_str().unwrap();
    let main = resolve_branch(work, Some("main")).unwrap();
    check(
        &main,
        "main",
        &fx.sha("main"),
        "Merge branch 'develop'",
        "2024-03-06",
    );
    assert_eq!(main.commit.author_time, Some(1_709_719_200));

    let develop = resolve_branch(work, Some("develop")).unwrap();
    check(
        &develop,
        "develop",
        &fx.sha("develop"),
        "Develop: feature flag",
        "2024-03-01",
    );
    assert_eq!(develop.commit.author_time, Some(1_709_353_800));

    // No branch: the one HEAD points to; a full ref name is accepted too.
    assert_eq!(resolve_branch(work, None).unwrap(), main);
    assert_eq!(
        resolve_branch(work, Some("refs/heads/develop")).unwrap(),
        develop
    );

    // A bare repository opens the same way.
    let bare = resolve_branch(fx.bare.to_str().unwrap(), None).unwrap();
    assert_eq!(bare, main);
}

#[test]
fn clone_falls_back_to_remote_tracking_branch() {
    let fx = Fixture::new();
    let clone = fx.clone.to_str().unwrap();
    assert!(!git(&fx.clone, &["branch", "--list", "develop"]).contains("develop"));
    let develop = resolve_branch(clone, Some("develop")).unwrap();
    check(
        &develop,
        "develop",
        &fx.sha("develop"),
        "Develop: feature flag",
        "2024-03-01",
    );
    assert_eq!(
        resolve_branch(clone, Some("main")).unwrap().commit.sha,
        fx.sha("main")
    );
    // First-parent history works in the clone too; 01:15 at +05:30 is still 4 March in UTC.
    let history = first_parent_history(clone, "main", 2).unwrap();
    assert_eq!(history[1].subject.as_deref(), Some("Fix probe"));
    assert_eq!(history[1].author_date.as_deref(), Some("2024-03-05"));
}

#[test]
fn local_errors_are_clear() {
    let fx = Fixture::new();
    let work = fx.work.to_str().unwrap();
    let err = resolve_branch(work, Some("release")).unwrap_err();
    assert_eq!(
        err,
        GitError::BranchNotFound {
            repo: work.to_string(),
            branch: "release".into(),
            available: vec!["develop".into(), "main".into()],
        }
    );
    let text = err.to_string();
    assert!(text.contains("`release`") && text.contains(work), "{text}");
    assert!(text.contains("available branches: develop, main"), "{text}");

    // A tag is not a branch.
    assert!(matches!(
        resolve_branch(work, Some("v1.0")),
        Err(GitError::BranchNotFound { .. })
    ));

    let plain = fx.root.join("plain");
    std::fs::create_dir(&plain).unwrap();
    for path in [plain.clone(), fx.root.join("missing")] {
        let path = path.to_str().unwrap();
        let err = resolve_branch(path, Some("main")).unwrap_err();
        assert!(matches!(err, GitError::NotARepository { .. }), "{err:?}");
        assert!(err.to_string().contains(path), "{err}");
        assert!(err.to_string().contains("not a git repository"), "{err}");
    }
}

#[test]
fn file_url_lists_remote_and_fetches_subject() {
    let fx = Fixture::new();
    let url = fx.file_url();
    let main = resolve_branch(&url, Some("main")).unwrap();
    check(
        &main,
        "main",
        &fx.sha("main"),
        "Merge branch 'develop'",
        "2024-03-06",
    );
    assert_eq!(main.commit.author_time, Some(1_709_719_200));

    // The default branch is whatever the remote's HEAD names, not an assumed `main`.
    git(&fx.bare, &["symbolic-ref", "HEAD", "refs/heads/develop"]);
    let default = resolve_branch(&url, None).unwrap();
    check(
        &default,
        "develop",
        &fx.sha("develop"),
        "Develop: feature flag",
        "2024-03-01",
    );

    let err = resolve_branch(&url, Some("release")).unwrap_err();
    assert_eq!(
        err,
        GitError::BranchNotFound {
            repo: url.clone(),
            branch: "release".into(),
            available: vec!["develop".into(), "main".into()],
        }
    );
    assert!(matches!(
        first_parent_history(&url, "main", 5),
        Err(GitError::NotLocal { .. })
    ));
}

/// `git daemon` on a free port of 127.0.0.1, killed when dropped.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_daemon(base: &Path, extra: &[&str]) -> (Daemon, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base_str = base.to_str().unwrap();
    let child = Command::new(git_daemon_program())
        .args([
            "--listen=127.0.0.1",
            &format!("--port={port}"),
            &format!("--base-path={base_str}"),
            "--export-all",
            "--reuseaddr",
        ])
        .args(extra)
        .arg(base_str)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("git daemon starts");
    let daemon = Daemon(child);
    for _ in 0..100 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (daemon, port);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("git daemon did not listen on 127.0.0.1:{port} within 5 s");
}

#[test]
fn git_daemon_url_lists_remote_and_fetches_subject() {
    let fx = Fixture::new();
    let (_daemon, port) = start_daemon(&fx.root, &[]);
    let url = format!("git://127.0.0.1:{port}/remote.git");
    let main = resolve_branch(&url, None).unwrap();
    check(
        &main,
        "main",
        &fx.sha("main"),
        "Merge branch 'develop'",
        "2024-03-06",
    );
    let develop = resolve_branch(&url, Some("develop")).unwrap();
    check(
        &develop,
        "develop",
        &fx.sha("develop"),
        "Develop: feature flag",
        "2024-03-01",
    );
    // The server's own words reach the user.
    let absent = format!("git://127.0.0.1:{port}/absent.git");
    let err = resolve_branch(&absent, None).unwrap_err();
    assert!(matches!(err, GitError::Remote { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&absent), "{text}");
    assert!(
        text.contains("access denied or repository not exported"),
        "{text}"
    );
    let missing = resolve_branch(&url, Some("release")).unwrap_err();
    assert!(
        missing
            .to_string()
            .contains("available branches: develop, main"),
        "{missing}"
    );
}

/// When listing works but the follow-up fetch is refused, the sha is still the answer and only
/// subject and date are missing. The daemon's access hook admits the first connection only.
#[test]
fn refused_fetch_still_returns_the_sha() {
    use std::os::unix::fs::PermissionsExt;
    let fx = Fixture::new();
    let hook = fx.root.join("admit-once.sh");
    let marker = fx.root.join("admitted");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\n[ -e '{m}' ] && exit 1\ntouch '{m}'\n",
            m = marker.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let access_hook = format!("--access-hook={}", hook.display());
    let (_daemon, port) = start_daemon(&fx.root, &[&access_hook]);
    // The readiness probe connects without a request, so the hook has not run yet.
    let url = format!("git://127.0.0.1:{port}/remote.git");
    let head = resolve_branch(&url, Some("develop")).unwrap();
    assert!(marker.exists());
    assert_eq!(head.branch, "develop");
    assert_eq!(head.commit.sha, fx.sha("develop"));
    assert_eq!(head.commit.subject, None);
    assert_eq!(head.commit.author_date, None);
    assert_eq!(head.commit.author_time, None);
}

#[test]
fn unreachable_url_fails_fast_without_showing_credentials() {
    let started = Instant::now();
    let url = "git://127.0.0.1:1/none.git";
    let err = resolve_branch(url, Some("main")).unwrap_err();
    assert!(matches!(err, GitError::Remote { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("cannot read branches of {url}: ")),
        "{text}"
    );

    let err = resolve_branch("https://user:s3cret-token@127.0.0.1:1/none.git", None).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, GitError::Remote { .. }), "{err:?}");
    assert!(!text.contains("s3cret"), "{text}");
    assert!(text.contains("https://***@127.0.0.1:1/none.git"), "{text}");
    // Over https a bare user part is a token too (`https://TOKEN@github.com/...`).
    let err = resolve_branch("https://ghp_s3cret@127.0.0.1:1/none.git", None).unwrap_err();
    assert!(!err.to_string().contains("s3cret"), "{err}");
    // ssh user names are not secrets and help the reader.
    let err = resolve_branch("ssh://git@127.0.0.1:1/none.git", None).unwrap_err();
    assert!(
        err.to_string().contains("ssh://git@127.0.0.1:1/none.git"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn resolver_caches_per_repo_and_branch() {
    let fx = Fixture::new();
    let work = fx.work.to_str().unwrap();
    let resolver = GitResolver::default();
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| resolver.resolve(work, Some("main")).unwrap());
        }
    });
    assert_eq!(resolver.lookups(), 1);
    let again = resolver.resolve(work, Some("main")).unwrap();
    assert_eq!(again.commit.sha, fx.sha("main"));
    assert_eq!(resolver.lookups(), 1);

    resolver.resolve(work, Some("develop")).unwrap();
    resolver.resolve(work, None).unwrap();
    assert_eq!(resolver.lookups(), 3);

    // Failures are cached too: an unreachable remote is tried once per run.
    let url = "git://127.0.0.1:1/none.git";
    assert!(resolver.resolve(url, Some("main")).is_err());
    assert!(resolver.resolve(url, Some("main")).is_err());
    assert_eq!(resolver.lookups(), 4);
}

#[test]
fn first_parent_history_follows_merges_not_topic_commits() {
    let fx = Fixture::new();
    let work = fx.work.to_str().unwrap();
    let history = first_parent_history(work, "main", 10).unwrap();
    let subjects: Vec<_> = history.iter().map(|c| c.subject.as_deref()).collect();
    assert_eq!(
        subjects,
        [
            Some("Merge branch 'develop'"),
            Some("Fix probe"),
            Some("Add deployment"),
            Some("Initial commit"),
        ]
    );
    assert_eq!(history[0].sha, fx.sha("main"));
    assert_eq!(history[1].sha, fx.sha("main^1"));
    assert_eq!(history[2].sha, fx.sha("v1.0^{commit}"));
    assert_eq!(history[2].author_date.as_deref(), Some("2024-02-01"));

    assert_eq!(first_parent_history(work, "main", 2).unwrap().len(), 2);
    assert!(first_parent_history(work, "main", 0).unwrap().is_empty());
    let develop = first_parent_history(work, "develop", 10).unwrap();
    assert_eq!(develop.len(), 3);
    assert_eq!(develop[0].sha, fx.sha("develop"));
    assert!(matches!(
        first_parent_history(work, "nope", 1),
        Err(GitError::BranchNotFound { .. })
    ));
}

/// The `git-daemon` program itself: `git daemon` runs it as a child, which killing `git`
/// would leave running (and holding the test's output pipes).
fn git_daemon_program() -> std::path::PathBuf {
    let out = Command::new("git")
        .arg("--exec-path")
        .output()
        .expect("git --exec-path");
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    std::path::Path::new(&dir).join("git-daemon")
}

//! Real git repositories for tests: built with the git CLI, deterministic dates, served over
//! file:// or by `git daemon` on 127.0.0.1.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

/// Runs git in `dir` with fixed identities and dates; returns trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "protocol.file.allow=always",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Ada Builder")
        .env("GIT_AUTHOR_EMAIL", "ada@example.com")
        .env("GIT_COMMITTER_NAME", "Ada Builder")
        .env("GIT_COMMITTER_EMAIL", "ada@example.com")
        .env("GIT_AUTHOR_DATE", "2025-11-07T10:00:00+07:00")
        .env("GIT_COMMITTER_DATE", "2025-11-07T10:00:00+07:00")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The application repository of the seed: `ml-fashion-recommender`, with history on `main`,
/// a `develop` branch ahead of it, and an annotated release tag.
pub struct AppRepo {
    pub path: PathBuf,
    pub main_sha: String,
    pub develop_sha: String,
}

pub fn make_app_repo(parent: &Path) -> AppRepo {
    let path = parent.join("ml-fashion-recommender");
    std::fs::create_dir_all(&path).expect("mkdir");
    git(&path, &["init", "-q"]);
    for (file, subject) in [
        ("ingest.py", "Add data ingestion"),
        ("train.py", "Add training step"),
        ("eda.py", "Train on the November catalogue"),
    ] {
        std::fs::write(path.join(file), subject).expect("write");
        git(&path, &["add", file]);
        git(&path, &["commit", "-q", "-m", subject]);
    }
    git(&path, &["tag", "-a", "v1.0.0", "-m", "release 1.0.0"]);
    let main_sha = git(&path, &["rev-parse", "main"]);
    git(&path, &["checkout", "-q", "-b", "develop"]);
    std::fs::write(path.join("wip.py"), "wip").expect("write");
    git(&path, &["add", "wip.py"]);
    git(&path, &["commit", "-q", "-m", "Experiment with embeddings"]);
    let develop_sha = git(&path, &["rev-parse", "develop"]);
    git(&path, &["checkout", "-q", "main"]);
    AppRepo {
        path,
        main_sha,
        develop_sha,
    }
}

/// A bare clone of `repo` at `parent/NAME.git`.
pub fn bare_clone(repo: &Path, parent: &Path, name: &str) -> PathBuf {
    let bare = parent.join(format!("{name}.git"));
    git(
        parent,
        &[
            "clone",
            "-q",
            "--bare",
            repo.to_str().expect("utf-8"),
            bare.to_str().expect("utf-8"),
        ],
    );
    bare
}

/// `git daemon` serving every repository under `base` on 127.0.0.1; killed on drop.
pub struct GitDaemon {
    child: Child,
    pub port: u16,
}

impl GitDaemon {
    pub fn start(base: &Path) -> GitDaemon {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let mut child = Command::new(git_daemon_program())
            .args([
                "--listen=127.0.0.1",
                &format!("--port={port}"),
                &format!("--base-path={}", base.display()),
                "--export-all",
                "--reuseaddr",
                &base.display().to_string(),
            ])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("git daemon starts");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return GitDaemon { child, port };
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("git daemon did not listen on 127.0.0.1:{port}");
    }

    pub fn url(&self, name: &str) -> String {
        format!("git://127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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

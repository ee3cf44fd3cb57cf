//! Credentials and the network on untrusted repositories (issue 19, points 1 and 13): tokens go
//! only over https to their own hosts, `--offline` reaches no server, a server that never
//! answers times out, and two bulk runs sharing a cache do not trip over each other.
//!
//! Every server here is real and on 127.0.0.1: a small HTTP server that answers 401 with
//! `WWW-Authenticate: Basic` and records what it is sent, `git daemon` behind a proxy that counts
//! connections, and a listener that accepts and never answers.

mod common;

use common::git::{bare_clone, git, GitDaemon};
use common::{bulk_dry_run, PLACEHOLDER, REAL};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TOKEN: &str = "ghs_T0KEN-for-ci-only";
const IMAGE: &str = "reg.example.com/team/web:main-latest";

/// Every variable that could carry or steer a credential, removed from each run.
const CLEARED: [&str; 14] = [
    "GITHUB_TOKEN",
    "GITLAB_TOKEN",
    "MANIFIX_GIT_TOKEN",
    "MANIFIX_GIT_TOKEN_HOSTS",
    "GITHUB_SERVER_URL",
    "CI_SERVER_HOST",
    "MANIFIX_GIT_TIMEOUT",
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "GIT_CONFIG_GLOBAL",
];

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Out {
    fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs manifix in `cwd` with a clean environment: `home` as HOME (no user git config but
/// what a test writes there), no token but those in `env`.
fn run(args: &[&str], cwd: &Path, home: &Path, env: &[(&str, &str)]) -> Out {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_manifix"));
    cmd.args(args)
        .current_dir(cwd)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in CLEARED {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let mut child = cmd.spawn().expect("run manifix");
    // A hang is a failure of its own, not a test that never ends.
    let (mut stdout, mut stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("manifix {args:?} still running after 90 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = Out {
        code: status.code().unwrap_or(-1),
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
        elapsed: start.elapsed(),
    };
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    out
}

fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// An HTTP server on 127.0.0.1 that answers every request with 401 and
/// `WWW-Authenticate: Basic realm=x`, and keeps the request heads it was sent.
struct AuthServer {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl AuthServer {
    fn start() -> AuthServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, stopped) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                let seen = seen.clone();
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                    // Keep-alive: answer each request on the connection until it closes.
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                            match stream.read(&mut chunk) {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                        buf.drain(..end);
                        seen.lock().unwrap().push(head);
                        let body = "authentication required\n";
                        let reply = format!(
                            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=x\r\n\
                             Content-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if stream.write_all(reply.as_bytes()).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        AuthServer {
            port,
            requests,
            stop,
        }
    }

    fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}", self.port)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// The `Authorization` headers received.
    fn authorizations(&self) -> Vec<String> {
        self.requests()
            .iter()
            .flat_map(|r| {
                r.lines()
                    .filter(|l| l.to_ascii_lowercase().starts_with("authorization:"))
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Asserts the server was asked (so the test means something) and never sent `token`, in
    /// any header, with any username.
    fn assert_never_sent(&self, token: &str, context: &str) {
        let requests = self.requests();
        assert!(
            !requests.is_empty(),
            "{context}: the server was never asked"
        );
        let encoded: Vec<String> = ["x-access-token", "oauth2", "git", ""]
            .iter()
            .map(|user| base64(format!("{user}:{token}").as_bytes()))
            .collect();
        for r in &requests {
            assert!(
                !r.contains(token),
                "{context}: token sent in the clear:\n{r}"
            );
            for e in &encoded {
                assert!(!r.contains(e.as_str()), "{context}: token sent:\n{r}");
            }
        }
        assert_eq!(
            self.authorizations(),
            Vec::<String>::new(),
            "{context}: credentials sent"
        );
    }
}

impl Drop for AuthServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// A GitOps repository whose manifix.yaml maps its mutable image to `repo`.
fn gitops(dir: &Path, repo: &str) -> PathBuf {
    let root = dir.join("gitops");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(
        root.join("manifix.yaml"),
        format!("sources:\n  - image: \"*/team/*\"\n    repo: \"{repo}\"\n"),
    )
    .unwrap();
    std::fs::write(
        root.join("pod.yaml"),
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n    - name: web\n      image: {IMAGE}\n"
        ),
    )
    .unwrap();
    root
}

/// The token variables the issue names, each with what makes it "set" and the variable the
/// message must name.
fn token_envs() -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    vec![
        ("GITHUB_TOKEN", vec![("GITHUB_TOKEN", TOKEN)]),
        ("GITLAB_TOKEN", vec![("GITLAB_TOKEN", TOKEN)]),
        ("MANIFIX_GIT_TOKEN", vec![("MANIFIX_GIT_TOKEN", TOKEN)]),
        (
            "MANIFIX_GIT_TOKEN",
            vec![
                ("MANIFIX_GIT_TOKEN", TOKEN),
                ("MANIFIX_GIT_TOKEN_HOSTS", "127.0.0.1"),
            ],
        ),
        // A GitHub Enterprise host list naming the hostile host: still plain http.
        (
            "GITHUB_TOKEN",
            vec![
                ("GITHUB_TOKEN", TOKEN),
                ("GITHUB_SERVER_URL", "http://127.0.0.1"),
            ],
        ),
    ]
}

#[test]
fn check_sends_no_token_to_a_hostile_http_source_and_says_which_variable() {
    let tmp = tempfile::tempdir().unwrap();
    for (var, env) in token_envs() {
        let server = AuthServer::start();
        let root = gitops(tmp.path(), &server.url("evil.git"));
        let out = run(&["check", "."], &root, tmp.path(), &env);
        let context = format!("check with {env:?}");
        server.assert_never_sent(TOKEN, &context);
        assert_eq!(out.code, 2, "{context}: {}", out.all());
        let said = out.all();
        assert!(
            said.contains(&format!("{var} is set but not sent to 127.0.0.1")),
            "{context}: {said}"
        );
        assert!(said.contains("only over https"), "{context}: {said}");
        assert!(!said.contains(TOKEN), "{context}: {said}");
    }
}

#[test]
fn bulk_sends_no_token_to_a_hostile_http_clone_url() {
    let tmp = tempfile::tempdir().unwrap();
    for (var, env) in token_envs() {
        let server = AuthServer::start();
        std::fs::write(
            tmp.path().join("repos.txt"),
            format!("{}\n", server.url("evil.git")),
        )
        .unwrap();
        let cache = tmp.path().join("cache");
        let args = bulk_dry_run(&["--cache", cache.to_str().unwrap()]);
        let out = run(&args, tmp.path(), tmp.path(), &env);
        let context = format!("bulk with {env:?}");
        server.assert_never_sent(TOKEN, &context);
        assert_eq!(out.code, 2, "{context}: {}", out.all());
        assert!(
            out.all()
                .contains(&format!("{var} is set but not sent to 127.0.0.1")),
            "{context}: {}",
            out.all()
        );
    }
}

/// Credential helpers keep working as git uses them: git scopes them to hosts itself.
#[test]
fn git_credential_helpers_still_answer() {
    let tmp = tempfile::tempdir().unwrap();
    let server = AuthServer::start();
    std::fs::write(
        tmp.path().join(".gitconfig"),
        "[credential]\n\thelper = \"!f() { echo username=helper-user; echo password=helper-pass; }; f\"\n",
    )
    .unwrap();
    let root = gitops(tmp.path(), &server.url("app.git"));
    let out = run(
        &["check", "."],
        &root,
        tmp.path(),
        &[("GITHUB_TOKEN", TOKEN)],
    );
    assert_eq!(out.code, 2, "{}", out.all());
    let expected = format!("Basic {}", base64(b"helper-user:helper-pass"));
    let sent = server.authorizations();
    assert!(
        sent.iter().any(|h| h.contains(&expected)),
        "the helper's credential was not sent: {sent:?}\n{}",
        out.all()
    );
    assert!(sent
        .iter()
        .all(|h| !h.contains(&base64(format!("x-access-token:{TOKEN}").as_bytes()))));
}

/// Forwards 127.0.0.1:port to `target`, counting connections.
struct CountingProxy {
    port: u16,
    connections: Arc<AtomicUsize>,
}

impl CountingProxy {
    fn start(target: u16) -> CountingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let count = connections.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                count.fetch_add(1, Ordering::SeqCst);
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(Shutdown::Write);
                    });
                }
            }
        });
        CountingProxy { port, connections }
    }

    fn count(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// An application repository served by `git daemon` (through a counting proxy), and a local
/// clone of it.
struct Served {
    _daemon: GitDaemon,
    proxy: CountingProxy,
    local: PathBuf,
    sha: String,
}

fn served(tmp: &Path) -> Served {
    let app = tmp.join("app");
    std::fs::create_dir_all(&app).unwrap();
    git(&app, &["init", "-q"]);
    std::fs::write(app.join("main.go"), "package main\n").unwrap();
    git(&app, &["add", "-A"]);
    git(&app, &["commit", "-qm", "first"]);
    let sha = git(&app, &["rev-parse", "main"]);
    let base = tmp.join("served");
    std::fs::create_dir_all(&base).unwrap();
    bare_clone(&app, &base, "app");
    let daemon = GitDaemon::start(&base);
    let proxy = CountingProxy::start(daemon.port);
    Served {
        _daemon: daemon,
        proxy,
        local: app,
        sha,
    }
}

impl Served {
    fn url(&self) -> String {
        format!("git://127.0.0.1:{}/app.git", self.proxy.port)
    }
}

#[test]
fn offline_reaches_no_server_and_local_repositories_still_resolve() {
    let tmp = tempfile::tempdir().unwrap();
    let s = served(tmp.path());
    let root = gitops(tmp.path(), &s.url());
    // A second image whose source is a local path.
    let mut config = std::fs::read_to_string(root.join("manifix.yaml")).unwrap();
    config.push_str(&format!(
        "  - image: \"*/local/*\"\n    repo: \"{}\"\n",
        s.local.display()
    ));
    std::fs::write(root.join("manifix.yaml"), config).unwrap();
    std::fs::write(
        root.join("local.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: l\nspec:\n  containers:\n    - name: l\n      image: reg.example.com/local/api:main-latest\n",
    )
    .unwrap();

    // Online, the URL is resolved through the proxy: the test can see connections.
    let online = run(&["fix", "--dry-run", "."], &root, tmp.path(), &[]);
    assert_eq!(online.code, 0, "{}", online.all());
    assert!(online.stdout.contains(&format!("main-{}", s.sha)));
    let after_online = s.proxy.count();
    assert!(after_online > 0, "the daemon was not reached online");

    for args in [
        vec!["check", "--offline", "."],
        vec!["check", "--offline", "--format", "json", "."],
        vec!["fix", "--dry-run", "--offline", "."],
    ] {
        let out = run(&args, &root, tmp.path(), &[("GITHUB_TOKEN", TOKEN)]);
        assert_eq!(s.proxy.count(), after_online, "{args:?} connected");
        assert!(out.all().contains("--offline"), "{args:?}: {}", out.all());
        assert_eq!(out.code, 2, "{args:?}: {}", out.all());
        if args[0] == "fix" {
            // The local source still pins; the URL's image is left as it is.
            assert!(
                out.stdout
                    .contains(&format!("reg.example.com/local/api:main-{}", s.sha)),
                "{}",
                out.all()
            );
            assert!(!out.stdout.contains("team/web:main-"), "{}", out.stdout);
        }
    }
}

#[test]
fn offline_bulk_clones_and_pushes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let s = served(tmp.path());
    // A local GitOps repository with a placeholder, whose origin is the daemon.
    let local = tmp.path().join("ops");
    std::fs::create_dir_all(&local).unwrap();
    std::fs::write(
        local.join("sa.yaml"),
        format!("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n  annotations:\n    eks.amazonaws.com/role-arn: arn:aws:iam::{PLACEHOLDER}:role/a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\ndata:\n  role: arn:aws:iam::{REAL}:role/b\n"),
    )
    .unwrap();
    git(&local, &["init", "-q"]);
    git(&local, &["add", "-A"]);
    git(&local, &["commit", "-qm", "ops"]);
    git(&local, &["remote", "add", "origin", &s.url()]);
    std::fs::write(tmp.path().join("repos.txt"), format!("{}\nops\n", s.url())).unwrap();
    let cache = tmp.path().join("cache");
    let bulk = |extra: &[&str]| {
        let mut args = vec![
            "bulk",
            "--offline",
            "--recipe",
            "fix-placeholder-accounts",
            "--repos",
            "repos.txt",
            "--cache",
            cache.to_str().unwrap(),
        ];
        args.extend(extra);
        run(&args, tmp.path(), tmp.path(), &[])
    };
    let dry = bulk(&["--dry-run"]);
    assert_eq!(dry.code, 2, "{}", dry.all());
    assert!(dry.all().contains("--offline"), "{}", dry.all());
    assert!(dry.stdout.contains("would-change"), "{}", dry.all());
    let pushed = bulk(&[
        "--branch",
        "manifix/offline",
        "--push",
        "origin",
        "--author",
        "Bot <bot@example.com>",
    ]);
    assert_eq!(pushed.code, 2, "{}", pushed.all());
    assert!(
        pushed.all().contains("not pushed: --offline"),
        "{}",
        pushed.all()
    );
    assert_eq!(s.proxy.count(), 0, "a connection was made under --offline");
    assert!(
        !cache.exists() || std::fs::read_dir(&cache).unwrap().count() == 0,
        "nothing is cloned"
    );
    // The commit itself is local, and made.
    git(&local, &["rev-parse", "--verify", "manifix/offline"]);

    // fix --branch --push under --offline: the same.
    let pushed = run(
        &[
            "fix",
            "--offline",
            "--branch",
            "manifix/offline-2",
            "--push",
            "origin",
            "--author",
            "Bot <bot@example.com>",
            ".",
        ],
        &local,
        tmp.path(),
        &[],
    );
    assert_eq!(pushed.code, 2, "{}", pushed.all());
    assert!(pushed.all().contains("--offline"), "{}", pushed.all());
    assert_eq!(s.proxy.count(), 0, "fix --push connected under --offline");
}

/// A listener that counts connections and never answers.
fn silent_listener() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            seen.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    (port, count)
}

#[test]
fn offline_asks_no_registry() {
    let tmp = tempfile::tempdir().unwrap();
    let (port, connections) = silent_listener();
    let root = tmp.path().join("ops");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(
        root.join("deploy.yaml"),
        format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\nspec:\n  containers:\n    - name: a\n      image: {REAL}.dkr.ecr.eu-west-1.amazonaws.com/team/a:v1.2.3\n"),
    )
    .unwrap();
    let endpoint = format!("http://127.0.0.1:{port}");
    let env = [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "AKIAOFFLINE"),
        ("AWS_SECRET_ACCESS_KEY", "offline"),
        ("AWS_REGION", "eu-west-1"),
        ("MANIFIX_GIT_TIMEOUT", "2"),
    ];
    for args in [
        vec!["check", "--offline", "--registry", "."],
        vec!["fix", "--dry-run", "--offline", "--require-image", "."],
    ] {
        let out = run(&args, &root, tmp.path(), &env);
        assert_eq!(connections.load(Ordering::SeqCst), 0, "{args:?} connected");
        if args.contains(&"--registry") {
            assert!(out.stderr.contains("not checked"), "{}", out.all());
            assert!(out.stderr.contains("--offline"), "{}", out.all());
            assert!(
                !out.stdout.contains("ecr-repository-missing"),
                "{}",
                out.all()
            );
            assert!(!out.stdout.contains("ecr-tag-missing"), "{}", out.all());
        }
    }
}

/// `offline` is a flag of the command line, not of the repository being read.
#[test]
fn offline_cannot_be_set_by_the_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let root = gitops(tmp.path(), "git://127.0.0.1:1/app.git");
    let mut config = std::fs::read_to_string(root.join("manifix.yaml")).unwrap();
    config.push_str("offline: true\n");
    std::fs::write(root.join("manifix.yaml"), config).unwrap();
    let out = run(&["check", "."], &root, tmp.path(), &[]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("offline"), "{}", out.all());
    assert!(out.stderr.contains("manifix.yaml"), "{}", out.all());
}

#[test]
fn a_server_that_never_answers_times_out() {
    let tmp = tempfile::tempdir().unwrap();
    let (port, connections) = silent_listener();
    let url = format!("http://127.0.0.1:{port}/slow.git");
    let root = gitops(tmp.path(), &url);
    let env = [("MANIFIX_GIT_TIMEOUT", "2")];
    let out = run(&["check", "."], &root, tmp.path(), &env);
    assert!(connections.load(Ordering::SeqCst) > 0, "never connected");
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.all().contains("timed out"), "{}", out.all());
    assert!(out.all().contains("MANIFIX_GIT_TIMEOUT"), "{}", out.all());
    assert!(
        out.elapsed < Duration::from_secs(30),
        "took {:?}",
        out.elapsed
    );

    std::fs::write(tmp.path().join("repos.txt"), format!("{url}\n")).unwrap();
    let cache = tmp.path().join("cache");
    let args = bulk_dry_run(&["--cache", cache.to_str().unwrap()]);
    let out = run(&args, tmp.path(), tmp.path(), &env);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.all().contains("timed out"), "{}", out.all());
    assert!(
        out.elapsed < Duration::from_secs(30),
        "took {:?}",
        out.elapsed
    );

    // A value that is not a number of seconds is said so, and the defaults apply.
    let out = run(
        &["check", "--offline", "."],
        &root,
        tmp.path(),
        &[("MANIFIX_GIT_TIMEOUT", "soon")],
    );
    assert!(
        out.stderr.contains("MANIFIX_GIT_TIMEOUT=\"soon\""),
        "{}",
        out.all()
    );
}

/// Two bulk runs over one cache at once, several times: fresh (both clone) and warm (both
/// fetch). Each must succeed with the same results as a run alone.
#[test]
fn two_bulk_runs_share_one_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let served = tmp.path().join("served");
    std::fs::create_dir_all(&served).unwrap();
    let mut list = String::new();
    for i in 0..4 {
        let work = tmp.path().join(format!("work-{i}"));
        std::fs::create_dir_all(&work).unwrap();
        std::fs::write(
            work.join("sa.yaml"),
            format!("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n  annotations:\n    eks.amazonaws.com/role-arn: arn:aws:iam::{PLACEHOLDER}:role/a{i}\n"),
        )
        .unwrap();
        for n in 0..30 {
            std::fs::write(
                work.join(format!("filler-{n}.txt")),
                format!("{n}\n").repeat(200),
            )
            .unwrap();
        }
        git(&work, &["init", "-q"]);
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "-qm", "ops"]);
        let bare = bare_clone(&work, &served, &format!("ops-{i}"));
        list.push_str(&format!("file://{}\n", bare.display()));
    }
    std::fs::write(tmp.path().join("repos.txt"), list).unwrap();
    let args = |cache: &Path, report: &str| -> Vec<String> {
        [
            "bulk",
            "--recipe",
            "migrate-account",
            "--set",
            &format!("from={PLACEHOLDER}"),
            "--set",
            &format!("to={REAL}"),
            "--repos",
            "repos.txt",
            "--dry-run",
            "--jobs",
            "4",
            "--report",
            report,
            "--cache",
            cache.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let statuses = |report: &str| -> Vec<(String, String)> {
        let text = std::fs::read_to_string(tmp.path().join(report)).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut out: Vec<(String, String)> = value["repos"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["repo"].as_str().unwrap().to_string(),
                    r["status"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        out.sort();
        out
    };
    for round in 0..6 {
        // Rounds 0, 2, 4 start from an empty cache; the others from the last round's.
        let cache = tmp.path().join(format!("cache-{}", round / 2));
        let spawn = |report: &str| {
            Command::new(env!("CARGO_BIN_EXE_manifix"))
                .args(args(&cache, report))
                .current_dir(tmp.path())
                .env("HOME", tmp.path())
                .env("NO_COLOR", "1")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (ra, rb) = (format!("a-{round}.json"), format!("b-{round}.json"));
        let (a, b) = (spawn(&ra), spawn(&rb));
        for (name, child) in [("a", a), ("b", b)] {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "round {round}, run {name}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let (a, b) = (statuses(&ra), statuses(&rb));
        assert_eq!(a, b, "round {round}");
        assert_eq!(a.len(), 4);
        assert!(
            a.iter().all(|(_, status)| status == "would-change"),
            "round {round}: {a:?}"
        );
        let entries: Vec<String> = std::fs::read_dir(&cache)
            .unwrap_or_else(|e| panic!("round {round}: {}: {e}", cache.display()))
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            entries.iter().filter(|e| !e.ends_with(".lock")).count(),
            4,
            "one clone per repository, no leftovers: {entries:?}"
        );
    }
}

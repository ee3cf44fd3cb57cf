//! Security: symlinks out of the root are neither followed nor written, whichever way a path
//! reaches them; config paths cannot name places outside the root; a token written into a
//! source URL never appears in any output. (Links named directly inside the walked tree are
//! covered in cli_edge.rs.)

mod common;
use common::git::git;
use common::*;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const OVERLAY: &str = "apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../base
images:
  - name: data-ingestion
    newName: 123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/ml-fashion-recommender/data_ingestion
    newTag: main-5f2c1a7
";

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, bytes).expect("write");
}

fn read(root: &Path, rel: &str) -> Vec<u8> {
    std::fs::read(root.join(rel)).expect("read")
}

fn fixed() -> Vec<u8> {
    OVERLAY.replace(PLACEHOLDER, REAL).into_bytes()
}

/// A repository with one good overlay, and a directory outside it holding a placeholder that
/// must never be written.
struct Setup {
    _tmp: tempfile::TempDir,
    root: std::path::PathBuf,
    outside: std::path::PathBuf,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("repo");
    let outside = tmp.path().join("outside");
    write(&root, "good/kustomization.yaml", OVERLAY.as_bytes());
    write(&outside, "secret/kustomization.yaml", OVERLAY.as_bytes());
    Setup {
        _tmp: tmp,
        root,
        outside,
    }
}

#[cfg(unix)]
#[test]
fn symlinked_directories_out_of_the_root_are_never_followed_or_written() {
    use std::os::unix::fs::symlink;
    let s = setup();
    let secret = s.outside.join("secret");
    symlink(&secret, s.root.join("linked")).expect("symlink");
    // A directory link whose name looks like a manifest.
    symlink(&secret, s.root.join("evil.yaml")).expect("symlink");
    symlink(
        secret.join("kustomization.yaml"),
        s.root.join("file-link.yaml"),
    )
    .expect("symlink");
    let untouched = |what: &str| {
        assert_eq!(
            read(&secret, "kustomization.yaml"),
            OVERLAY.as_bytes(),
            "{what}: the file outside the root was written"
        );
    };

    let run = manifix(&["fix", "--account", REAL, "."], &s.root);
    assert_eq!(run.code, 0, "{}", run.stderr);
    untouched("fix .");
    assert!(
        run.stderr
            .contains("evil.yaml: warning: symlink that leads outside the root"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("fixed 1 finding in 1 file"),
        "{}",
        run.stdout
    );
    assert_eq!(read(&s.root, "good/kustomization.yaml"), fixed());

    // Named on the command line, beside another path (so the root stays `.`): the walk would
    // start inside the link and see only plain files.
    write(&s.root, "good/kustomization.yaml", OVERLAY.as_bytes());
    let run = manifix(&["fix", "--account", REAL, "good", "linked"], &s.root);
    assert_eq!(run.code, 0, "{}", run.stderr);
    untouched("fix good linked");
    assert!(
        run.stderr
            .contains("linked: warning: path through a symlink that leads outside the root"),
        "{}",
        run.stderr
    );
    assert_eq!(read(&s.root, "good/kustomization.yaml"), fixed());

    // A file below the linked directory, and a file link, named directly.
    for path in [
        "linked/kustomization.yaml",
        "./linked/kustomization.yaml",
        "file-link.yaml",
    ] {
        let run = manifix(&["fix", "--account", REAL, path], &s.root);
        assert_eq!(run.code, 0, "{path}: {}", run.stderr);
        untouched(path);
        assert!(
            run.stderr.contains("that leads outside the root"),
            "{path}: {}",
            run.stderr
        );
        assert!(
            run.stdout.contains("fixed 0 findings in 0 files"),
            "{path}: {}",
            run.stdout
        );
    }

    // check reports nothing from outside either.
    let run = manifix(
        &[
            "check",
            "--format",
            "json",
            "--account",
            REAL,
            ".",
            "linked",
        ],
        &s.root,
    );
    assert!(!run.stdout.contains("secret"), "{}", run.stdout);
    assert!(!run.stdout.contains("\"linked/"), "{}", run.stdout);
}

/// The fix plan of the setup's tree, in this process: its one fixed file, not yet written.
#[cfg(unix)]
fn plan_the_one_fix(s: &Setup) -> manifix::fix::FixPlan {
    use manifix::engine::{analyze, RunOptions};
    use manifix::fix::{plan_fixes, FixChoice};
    let run = analyze(&RunOptions {
        root: s.root.clone(),
        account: Some(REAL.into()),
        ..RunOptions::default()
    })
    .expect("analyze");
    let plan = plan_fixes(&run, FixChoice::default());
    assert_eq!(plan.files.len(), 1);
    plan
}

/// A file swapped for a link to the outside after manifix read it (same bytes, so the
/// changed-on-disk check would pass through the link): the write is refused, never goes
/// through the link, and leaves the link as it is.
#[cfg(unix)]
#[test]
fn a_file_swapped_for_an_outside_link_before_the_write_is_not_written_through() {
    use manifix::fix::{write_file, WriteError};
    let s = setup();
    let plan = plan_the_one_fix(&s);
    let target = s.root.join("good/kustomization.yaml");
    std::fs::remove_file(&target).expect("remove");
    std::os::unix::fs::symlink(s.outside.join("secret/kustomization.yaml"), &target)
        .expect("symlink");
    let err = write_file(&plan.files[0]).expect_err("the write must be refused");
    assert!(matches!(err, WriteError::Moved { .. }), "{err}");
    assert_eq!(
        read(&s.outside, "secret/kustomization.yaml"),
        OVERLAY.as_bytes()
    );
    let meta = std::fs::symlink_metadata(&target).expect("meta");
    assert!(meta.file_type().is_symlink(), "the link is left as it is");
}

/// A directory swapped for a link to the outside between plan and write (the file behind the
/// link has the same bytes, so the changed-on-disk check passes): nothing is written there.
#[cfg(unix)]
#[test]
fn a_directory_swapped_for_an_outside_link_before_the_write_is_refused() {
    use manifix::fix::{write_file, WriteError};
    let s = setup();
    let plan = plan_the_one_fix(&s);
    let dir = s.root.join("good");
    std::fs::rename(&dir, s.root.join("good-moved")).expect("move the directory away");
    std::os::unix::fs::symlink(s.outside.join("secret"), &dir).expect("symlink");
    let err = write_file(&plan.files[0]).expect_err("the write must be refused");
    assert!(matches!(err, WriteError::Moved { .. }), "{err}");
    assert!(err.to_string().contains("good/kustomization.yaml"), "{err}");
    assert_eq!(
        read(&s.outside, "secret/kustomization.yaml"),
        OVERLAY.as_bytes()
    );
    let leftovers: Vec<_> = std::fs::read_dir(s.outside.join("secret"))
        .expect("list")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".manifix-"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary file left outside");
}

#[test]
fn config_paths_outside_the_root_are_rejected_with_their_line() {
    for glob in [
        "../outside/**",
        "/etc/**",
        "overlays/../../outside/**",
        "C:/repos/**",
    ] {
        let s = setup();
        write(
            &s.root,
            "manifix.yaml",
            format!(
                "accounts:\n  target: \"{REAL}\"\n  paths:\n    - path: \"{glob}\"\n      target: \"210987654321\"\n"
            )
            .as_bytes(),
        );
        for cmd in ["check", "fix"] {
            let run = manifix(&[cmd, "."], &s.root);
            assert_eq!(run.code, 2, "{glob}: {}", run.stderr);
            let line = run
                .stderr
                .lines()
                .find(|l| l.contains("manifix.yaml"))
                .unwrap_or_else(|| panic!("{glob}: no config error: {}", run.stderr));
            assert!(line.contains("line 4: accounts.paths"), "{line}");
            assert!(line.contains("leaves the repository"), "{line}");
            assert!(line.contains(glob), "{line}");
        }
        assert_eq!(
            read(&s.root, "good/kustomization.yaml"),
            OVERLAY.as_bytes(),
            "{glob}"
        );
    }
    // Paths inside the root still work.
    let s = setup();
    write(
        &s.root,
        "manifix.yaml",
        format!("accounts:\n  paths:\n    - path: \"good/**\"\n      target: \"{REAL}\"\n")
            .as_bytes(),
    );
    let run = manifix(&["fix", "."], &s.root);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(read(&s.root, "good/kustomization.yaml"), fixed());
}

const TOKEN: &str = "s3cr3t-T0KEN-do-not-print";
const ENV_TOKEN: &str = "ghp_envT0KEN-do-not-print";

/// Runs manifix with a token in the environment too, and checks neither token is printed.
fn run_secret(args: &[&str], cwd: &Path) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_manifix"))
        .args(args)
        .current_dir(cwd)
        .env("GITHUB_TOKEN", ENV_TOKEN)
        .output()
        .expect("run manifix");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    for secret in [TOKEN, ENV_TOKEN] {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "{args:?} printed a token:\nstdout: {}\nstderr: {}",
            run.stdout,
            run.stderr
        );
    }
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    run
}

/// Every command and output format, over a repository whose mutable tag sends manifix to the
/// source; returns all that was printed.
fn all_outputs(root: &Path, source: &[&str]) -> String {
    let mut printed = String::new();
    let mut runs: Vec<Vec<&str>> = ["text", "json", "sarif", "github", "markdown"]
        .iter()
        .map(|f| vec!["check", "--format", f])
        .collect();
    runs.push(vec!["fix", "--dry-run"]);
    runs.push(vec!["fix"]);
    for mut args in runs {
        args.extend_from_slice(source);
        args.push(".");
        let run = run_secret(&args, root);
        printed.push_str(&run.stdout);
        printed.push_str(&run.stderr);
    }
    printed
}

fn tagged_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "web/pod.yaml",
        b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n    - name: web\n      image: reg.example.com/team/web:main-latest\n",
    );
    dir
}

#[test]
fn tokens_in_unreachable_source_urls_never_appear_in_output() {
    let dir = tagged_repo();
    // Port 1 of the loopback address: refused at once.
    for url in [
        format!("https://user:{TOKEN}@127.0.0.1:1/app.git"),
        format!("https://{TOKEN}@127.0.0.1:1/app.git"),
    ] {
        let flag = format!("*/team/*={url}");
        let printed = all_outputs(dir.path(), &["--source", &flag]);
        assert!(
            printed.contains("https://***@127.0.0.1:1/app.git"),
            "the failing source is named, redacted:\n{printed}"
        );
        // The same source from manifix.yaml.
        write(
            dir.path(),
            "manifix.yaml",
            format!("sources:\n  - image: \"*/team/*\"\n    repo: \"{url}\"\n").as_bytes(),
        );
        let printed = all_outputs(dir.path(), &[]);
        assert!(
            printed.contains("https://***@127.0.0.1:1/app.git"),
            "{printed}"
        );
        std::fs::remove_file(dir.path().join("manifix.yaml")).expect("rm");

        // A flag without its glob is an error that quotes the flag: redacted.
        let run = run_secret(&["check", "--source", &url, "."], dir.path());
        assert_eq!(run.code, 2);
        assert!(
            run.stderr.contains("expected GLOB=PATH_OR_URL"),
            "{}",
            run.stderr
        );
        // A bad glob is too.
        let bad = format!("[z-a]={url}");
        let run = run_secret(&["check", "--source", &bad, "."], dir.path());
        assert_eq!(run.code, 2, "{}", run.stderr);
    }
}

/// `git daemon` on a free loopback port, killed when dropped.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_daemon(base: &Path) -> (Daemon, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let exec_path = Command::new("git")
        .arg("--exec-path")
        .output()
        .expect("git --exec-path");
    let program = Path::new(String::from_utf8_lossy(&exec_path.stdout).trim()).join("git-daemon");
    let child = Command::new(program)
        .args([
            "--listen=127.0.0.1",
            &format!("--port={port}"),
            &format!("--base-path={}", base.display()),
            "--export-all",
            "--reuseaddr",
        ])
        .arg(base)
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
fn tokens_in_reachable_source_urls_never_appear_in_pins() {
    let served = tempfile::tempdir().expect("tempdir");
    let app = served.path().join("app.git");
    std::fs::create_dir_all(&app).expect("mkdir");
    git(&app, &["init", "-q"]);
    git(&app, &["commit", "-q", "--allow-empty", "-m", "Build web"]);
    let sha = git(&app, &["rev-parse", "HEAD"]);
    let (_daemon, port) = start_daemon(served.path());
    let dir = tagged_repo();
    let url = format!("git://user:{TOKEN}@127.0.0.1:{port}/app.git");
    let flag = format!("*/team/*={url}");
    let printed = all_outputs(dir.path(), &["--source", &flag]);
    // The pin resolved through the URL, and the URL is shown without its credentials.
    assert!(printed.contains(&format!("main-{sha}")), "{printed}");
    assert!(
        printed.contains(&format!("of git://***@127.0.0.1:{port}/app.git")),
        "{printed}"
    );
    assert_eq!(
        read(dir.path(), "web/pod.yaml"),
        format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n    - name: web\n      image: reg.example.com/team/web:main-{sha}\n").into_bytes()
    );
}

//! Bad input: files manifix cannot or must not handle, and runs that are interrupted. Each case
//! drives the real binary over a temp tree with a good file beside the bad one, and asserts a
//! clear message naming the file (with line:column where there is a position), no panic or
//! crash (exit 0, 1 or 2 only), the bad file byte-identical, and the good file still fixed.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

fn fixed(text: &str) -> Vec<u8> {
    text.replace(PLACEHOLDER, REAL).into_bytes()
}

/// A tree with the good overlay at `good/kustomization.yaml` and `files` beside it.
fn tree(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "good/kustomization.yaml", OVERLAY.as_bytes());
    for (rel, bytes) in files {
        write(dir.path(), rel, bytes);
    }
    dir
}

/// No crash: the documented exit codes only (`manifix()` already fails on "panicked").
fn assert_sane(run: &Run) {
    assert!(
        matches!(run.code, 0..=2),
        "exit {} (killed or crashed?)\nstdout: {}\nstderr: {}",
        run.code,
        run.stdout,
        run.stderr
    );
    for bad in ["stack overflow", "RUST_BACKTRACE", "fatal runtime error"] {
        assert!(!run.stderr.contains(bad), "{bad}: {}", run.stderr);
    }
}

fn assert_good_fixed(root: &Path) {
    assert_eq!(
        read(root, "good/kustomization.yaml"),
        fixed(OVERLAY),
        "the good file beside the bad one was not fixed"
    );
}

/// The stderr line about `rel`, which must exist.
fn line_about<'a>(run: &'a Run, rel: &str) -> &'a str {
    run.stderr
        .lines()
        .find(|l| l.starts_with(&format!("{rel}:")))
        .unwrap_or_else(|| panic!("no message about {rel}:\n{}", run.stderr))
}

/// `rel:LINE:COL: error: ...` with the position checked when one is given.
fn assert_error_at(run: &Run, rel: &str, at: Option<(usize, usize)>, needle: &str) {
    let line = line_about(run, rel);
    let parts: Vec<&str> = line.splitn(4, ':').collect();
    let pos = (parts[1].parse::<usize>(), parts[2].parse::<usize>());
    let (Ok(l), Ok(c)) = pos else {
        panic!("no line:column in {line:?}");
    };
    if let Some(want) = at {
        assert_eq!((l, c), want, "{line}");
    }
    assert!(parts[3].starts_with(" error: "), "{line}");
    assert!(line.contains(needle), "{line:?} should say {needle:?}");
}

/// Runs the binary with a deadline: a hang (a FIFO read, a quadratic loop) fails the test
/// instead of stalling CI.
fn manifix_within(args: &[&str], cwd: &Path, limit: Duration) -> (Run, Duration) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_manifix"))
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn manifix");
    // Drain the pipes on threads so a chatty run cannot block on a full pipe.
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out, &mut s).ok();
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut err, &mut s).ok();
        s
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > limit {
            child.kill().ok();
            child.wait().ok();
            panic!("manifix {args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let run = Run {
        code: status.code().unwrap_or(-1),
        stdout: out_t.join().expect("stdout thread"),
        stderr: err_t.join().expect("stderr thread"),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "manifix panicked: {}",
        run.stderr
    );
    (run, started.elapsed())
}

#[test]
fn truncated_files_are_reported_or_fixed_whole() {
    // Every kind of node, so the cuts land inside quotes, flow collections, block scalars,
    // comments, multi-byte characters and between documents.
    let full = format!(
        "{OVERLAY}---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: \"web-é\" # ünïcode\n  labels: {{app: web, tier: [front, \"back\"]}}\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.2.3'\n          args:\n            - |\n              --flag=1\n              --other\n"
    );
    let bytes = full.as_bytes();
    let cuts: Vec<usize> = (1..40).map(|i| i * bytes.len() / 40).collect();
    let mut files = Vec::new();
    for (i, &cut) in cuts.iter().enumerate() {
        files.push((format!("cut/t{i:02}.yaml"), bytes[..cut].to_vec()));
    }
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect();
    let dir = tree(&refs);
    let run = manifix(&["fix", "--account", REAL, "."], dir.path());
    assert_sane(&run);
    assert_good_fixed(dir.path());
    let mut errors = 0;
    let mut fixed_files = 0;
    for (rel, before) in &files {
        let after = read(dir.path(), rel);
        match std::str::from_utf8(before) {
            Err(_) => {
                // Cut inside a multi-byte character: skipped as not UTF-8, untouched.
                assert_eq!(&after, before, "{rel}");
                assert!(line_about(&run, rel).contains("not UTF-8"), "{rel}");
            }
            Ok(text) => match manifix::yaml::parse(text) {
                Err(e) => {
                    errors += 1;
                    assert_eq!(&after, before, "{rel}: invalid YAML must be left untouched");
                    assert_error_at(&run, rel, Some((e.line, e.column)), &e.message);
                }
                Ok(_) => {
                    // Still valid YAML: untouched, or fixed whole (never a partial rewrite).
                    fixed_files += usize::from(after != *before);
                    assert!(
                        after == *before || after == fixed(text),
                        "{rel}: neither the original nor its fix:\n{}",
                        String::from_utf8_lossy(&after)
                    );
                }
            },
        }
    }
    assert!(errors >= 3, "only {errors} cuts were invalid YAML");
    assert!(
        fixed_files >= 10,
        "only {fixed_files} truncated files were fixed"
    );
    assert_eq!(run.code, 2, "file errors make the run exit 2");
}

#[test]
fn tabs_duplicate_keys_and_deep_nesting_are_reported_with_positions() {
    let tab_indent =
        b"images:\n\t- name: x\n\t  newName: 123456789012.dkr.ecr.us-east-1.amazonaws.com/x\n";
    // A tab as separation after a colon is valid YAML and stays where it is.
    let tab_separator =
        "images:\n  - name: x\n    newName:\t123456789012.dkr.ecr.us-east-1.amazonaws.com/x\n";
    let duplicate = b"images:\n  - name: x\n    newName: 123456789012.dkr.ecr.us-east-1.amazonaws.com/x\n    newName: 111111111111.dkr.ecr.us-east-1.amazonaws.com/x\n";
    let deep_open = "[".repeat(100_000);
    let deep_closed = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_map = format!("{}x{}", "{a: ".repeat(50_000), "}".repeat(50_000));
    let deep_block: String = (0..3000)
        .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
        .collect();
    // Ten levels of aliases, each naming the level below ten times ("billion laughs"): the
    // model keeps aliases as aliases, so nothing expands.
    let mut laughs = String::from("a0: &a0 [\"123456789012\"]\n");
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        laughs.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    let dir = tree(&[
        ("tab_indent.yaml", tab_indent),
        ("tab_separator.yaml", tab_separator.as_bytes()),
        ("duplicate.yaml", duplicate),
        ("deep_open.yaml", deep_open.as_bytes()),
        ("deep_closed.yaml", deep_closed.as_bytes()),
        ("deep_map.yaml", deep_map.as_bytes()),
        ("deep_block.yaml", deep_block.as_bytes()),
        ("laughs.yaml", laughs.as_bytes()),
    ]);
    let (run, took) = manifix_within(
        &["fix", "--account", REAL, "."],
        dir.path(),
        Duration::from_secs(60),
    );
    assert_sane(&run);
    assert!(took < Duration::from_secs(20), "took {took:?}");
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_good_fixed(dir.path());

    assert_error_at(&run, "tab_indent.yaml", Some((2, 2)), "tabs");
    assert_eq!(read(dir.path(), "tab_indent.yaml"), tab_indent);
    assert_eq!(read(dir.path(), "tab_separator.yaml"), fixed(tab_separator));

    // kubectl rejects a key written twice; which value wins is anybody's guess, so nothing in
    // the file is fixed.
    assert_error_at(
        &run,
        "duplicate.yaml",
        Some((4, 5)),
        "duplicate key `newName` (first at line 3)",
    );
    assert_eq!(read(dir.path(), "duplicate.yaml"), duplicate);

    for (rel, text) in [
        ("deep_open.yaml", &deep_open),
        ("deep_closed.yaml", &deep_closed),
        ("deep_map.yaml", &deep_map),
        ("deep_block.yaml", &deep_block),
    ] {
        assert_error_at(&run, rel, None, "recursion limit exceeded");
        assert_eq!(read(dir.path(), rel), text.as_bytes(), "{rel}");
    }
    // The aliases' anchor is found and fixed once, at the anchor.
    assert_eq!(
        read(dir.path(), "laughs.yaml"),
        laughs.as_bytes(),
        "a bare number is no ARN"
    );
}

#[test]
fn ten_thousand_documents_are_fixed_in_one_pass() {
    let doc = |i: usize| {
        format!(
            "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p{i}\nspec:\n  containers:\n    - name: c\n      image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/app{i}:v1\n"
        )
    };
    let text: String = (0..10_000).map(doc).collect();
    let dir = tree(&[("many.yaml", text.as_bytes())]);
    // Planning verified each fix with a re-parse of the whole file: 10k fixes took over ten
    // minutes. Now the file is re-parsed once (about 2 s in the debug profile).
    let (run, took) = manifix_within(
        &["fix", "--account", REAL, "."],
        dir.path(),
        Duration::from_secs(120),
    );
    assert_sane(&run);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert!(
        run.stdout.contains("fixed 10001 findings in 2 files"),
        "{}",
        run.stdout
    );
    assert_eq!(read(dir.path(), "many.yaml"), fixed(&text));
    assert_good_fixed(dir.path());
}

/// Forty levels of overlays, each including both of the level below: 2^40 ways up from the
/// base. kustomize rejects such a graph (the same resources twice); manifix must still finish.
#[test]
fn a_diamond_graph_of_overlays_does_not_explode() {
    let mut files = vec![
        ("l0a/kustomization.yaml".to_string(), format!("resources:\n  - pod.yaml\n{}", &OVERLAY[OVERLAY.find("images:").expect("images")..])),
        ("l0a/pod.yaml".to_string(), "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: data-ingestion}]}\n".to_string()),
        ("l0b/kustomization.yaml".to_string(), "resources:\n  - ../l0a\n".to_string()),
    ];
    for level in 1..40 {
        for side in ["a", "b"] {
            files.push((
                format!("l{level}{side}/kustomization.yaml"),
                format!("resources:\n  - ../l{0}a\n  - ../l{0}b\n", level - 1),
            ));
        }
    }
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_bytes()))
        .collect();
    let dir = tree(&refs);
    let (run, took) = manifix_within(
        &["fix", "--account", REAL, "."],
        dir.path(),
        Duration::from_secs(60),
    );
    assert_sane(&run);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(
        run.stdout.contains("fixed 2 findings in 2 files"),
        "{}",
        run.stdout
    );
    assert_good_fixed(dir.path());
}

#[test]
fn a_100_mb_file_is_skipped_quickly_with_a_warning() {
    let dir = tree(&[]);
    let line = "      image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/app:v1\n";
    let doc = format!("---\nkind: Pod\nspec:\n  containers:\n    - name: c\n{line}");
    let path = dir.path().join("huge.yaml");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
        let mut written = 0;
        while written < 100 << 20 {
            f.write_all(doc.as_bytes()).expect("write");
            written += doc.len();
        }
    }
    let size = std::fs::metadata(&path).expect("meta").len();
    let (run, took) = manifix_within(
        &["fix", "--account", REAL, "."],
        dir.path(),
        Duration::from_secs(60),
    );
    assert_sane(&run);
    assert!(
        took < Duration::from_secs(5),
        "took {took:?} on a skipped file"
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        line_about(&run, "huge.yaml").contains("warning: larger than 16 MiB: skipped"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::metadata(&path).expect("meta").len(), size);
    let head = std::fs::read(&path).expect("read");
    assert!(head.starts_with(doc.as_bytes()), "huge.yaml was rewritten");
    assert_good_fixed(dir.path());

    // Named explicitly, it is skipped all the same.
    let (run, _) = manifix_within(
        &["check", "--account", REAL, "huge.yaml"],
        dir.path(),
        Duration::from_secs(60),
    );
    assert_sane(&run);
    assert!(
        run.stderr
            .contains("huge.yaml: warning: larger than 16 MiB"),
        "{}",
        run.stderr
    );
}

#[test]
fn invalid_utf8_is_skipped_with_its_position() {
    let middle = b"images:\n  - name: x\n    newName: 123456789012.dkr.ecr.us-east-1.amazonaws.com/caf\xc3\x28\n";
    let cut_char = "kind: Kustomization\nimages:\n  - name: é".as_bytes();
    let cut_char = &cut_char[..cut_char.len() - 1];
    let utf16 = b"\xff\xfei\x00m\x00a\x00g\x00e\x00:\x00 \x00x\x00\n\x00";
    let dir = tree(&[
        ("middle.yaml", middle),
        ("cut_char.yaml", cut_char),
        ("utf16.yaml", utf16),
    ]);
    let run = manifix(&["fix", "--account", REAL, "."], dir.path());
    assert_sane(&run);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_good_fixed(dir.path());
    for (rel, bytes, at) in [
        ("middle.yaml", &middle[..], "line 3, column 62"),
        ("cut_char.yaml", cut_char, "line 3, column 11"),
        ("utf16.yaml", &utf16[..], "line 1, column 1"),
    ] {
        let line = line_about(&run, rel);
        let what = if rel == "utf16.yaml" {
            "warning: UTF-16 or UTF-32"
        } else {
            "warning: not UTF-8"
        };
        assert!(line.contains(what), "{line}");
        assert!(line.contains(at), "{line:?} should say {at}");
        assert_eq!(read(dir.path(), rel), bytes, "{rel}");
    }
}

#[cfg(unix)]
#[test]
fn fifos_and_broken_links_are_skipped_without_hanging() {
    let dir = tree(&[]);
    let status = Command::new("mkfifo")
        .arg(dir.path().join("pipe.yaml"))
        .status()
        .expect("mkfifo");
    assert!(status.success());
    std::os::unix::fs::symlink(dir.path().join("gone.yaml"), dir.path().join("broken.yaml"))
        .expect("symlink");
    // Reading the FIFO would block until a writer comes: the deadline catches a hang.
    let (run, _) = manifix_within(
        &["fix", "--account", REAL, "."],
        dir.path(),
        Duration::from_secs(30),
    );
    assert_sane(&run);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        line_about(&run, "pipe.yaml").contains("warning: not a regular file"),
        "{}",
        run.stderr
    );
    assert!(
        line_about(&run, "broken.yaml").contains("warning: broken symlink"),
        "{}",
        run.stderr
    );
    assert_good_fixed(dir.path());
    // Named on the command line, the FIFO is skipped all the same.
    let (run, _) = manifix_within(&["check", "pipe.yaml"], dir.path(), Duration::from_secs(30));
    assert_sane(&run);
    assert!(
        run.stderr
            .contains("pipe.yaml: warning: not a regular file"),
        "{}",
        run.stderr
    );
}

/// Whether this process runs as root (then permission bits do not stop reads or writes).
#[cfg(unix)]
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    let probe = tempfile::NamedTempFile::new().expect("probe");
    probe.as_file().metadata().expect("meta").uid() == 0
}

/// The binary, run as an unprivileged user when the tests run as root (permission bits mean
/// nothing to root). The binary is copied beside the tree, since the build directory may not
/// be reachable for that user. `None` when the system cannot switch users.
#[cfg(unix)]
fn unprivileged(dir: &Path, args: &[&str]) -> Option<Run> {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let mut cmd = if running_as_root() {
        let bin = dir.join("manifix-bin");
        std::fs::copy(env!("CARGO_BIN_EXE_manifix"), &bin).expect("copy binary");
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let mut cmd = Command::new(bin);
        cmd.uid(65534).gid(65534);
        cmd
    } else {
        Command::new(env!("CARGO_BIN_EXE_manifix"))
    };
    let out = match cmd.args(args).current_dir(dir.join("repo")).output() {
        Ok(out) => out,
        Err(e) => {
            eprintln!("cannot run manifix as an unprivileged user ({e}): case not run");
            return None;
        }
    };
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    Some(run)
}

#[cfg(unix)]
#[test]
fn unreadable_files_and_unwritable_directories_are_reported_and_kept() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).expect("chmod")
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    write(&repo, "good/kustomization.yaml", OVERLAY.as_bytes());
    write(&repo, "secret.yaml", OVERLAY.as_bytes());
    write(&repo, "locked/kustomization.yaml", OVERLAY.as_bytes());
    // The unprivileged user may walk and write everywhere but into `locked/`, and may not
    // read `secret.yaml`.
    mode(dir.path(), 0o755);
    mode(&repo, 0o777);
    mode(&repo.join("good"), 0o777);
    mode(&repo.join("good/kustomization.yaml"), 0o666);
    mode(&repo.join("secret.yaml"), 0o000);
    mode(&repo.join("locked"), 0o555);
    mode(&repo.join("locked/kustomization.yaml"), 0o666);
    let Some(run) = unprivileged(dir.path(), &["fix", "--account", REAL, "."]) else {
        return;
    };
    assert_sane(&run);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_error_at(
        &run,
        "secret.yaml",
        Some((1, 1)),
        "cannot read: Permission denied",
    );
    assert!(
        run.stderr
            .contains("locked/kustomization.yaml: cannot write"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("fixed 1 finding in 1 file"),
        "{}",
        run.stdout
    );
    mode(&repo.join("secret.yaml"), 0o644);
    assert_eq!(read(&repo, "secret.yaml"), OVERLAY.as_bytes());
    assert_eq!(read(&repo, "locked/kustomization.yaml"), OVERLAY.as_bytes());
    assert_eq!(read(&repo, "good/kustomization.yaml"), fixed(OVERLAY));
    let leftovers: Vec<_> = walk_files(&repo)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".manifix-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[cfg(unix)]
#[test]
fn read_only_file_among_others_is_reported_and_the_rest_fixed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tree(&[
        ("ro/kustomization.yaml", OVERLAY.as_bytes()),
        ("other/kustomization.yaml", OVERLAY.as_bytes()),
    ]);
    let ro = dir.path().join("ro/kustomization.yaml");
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o444)).expect("chmod");
    let run = manifix(&["fix", "--account", REAL, "."], dir.path());
    assert_sane(&run);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("ro/kustomization.yaml: cannot write: the file is read-only"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("fixed 2 findings in 2 files"),
        "{}",
        run.stdout
    );
    assert_eq!(std::fs::read(&ro).expect("read"), OVERLAY.as_bytes());
    assert_eq!(read(dir.path(), "other/kustomization.yaml"), fixed(OVERLAY));
    assert_good_fixed(dir.path());
    let mode = std::fs::metadata(&ro).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o444);
}

/// A file edited by someone else after manifix read it: its change wins, the other files are
/// written. (The binary reads and writes within milliseconds; the library lets the test step
/// in between, as an editor or a concurrent run would.)
#[test]
fn a_file_changed_between_read_and_write_is_not_overwritten() {
    use manifix::engine::{analyze, RunOptions};
    use manifix::fix::{plan_fixes, write_file, FixChoice, WriteError};
    let dir = tree(&[
        ("a/kustomization.yaml", OVERLAY.as_bytes()),
        ("b/kustomization.yaml", OVERLAY.as_bytes()),
    ]);
    let run = analyze(&RunOptions {
        root: dir.path().to_path_buf(),
        account: Some(REAL.into()),
        ..RunOptions::default()
    })
    .expect("analyze");
    let plan = plan_fixes(&run, FixChoice::default());
    assert_eq!(plan.files.len(), 3);
    let theirs = format!("{OVERLAY}# edited meanwhile\n");
    write(dir.path(), "b/kustomization.yaml", theirs.as_bytes());
    let mut changed = Vec::new();
    for file in &plan.files {
        match write_file(file) {
            Ok(()) => {}
            Err(e @ WriteError::Changed(_)) => changed.push(e.to_string()),
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(
        changed,
        ["b/kustomization.yaml: changed on disk while manifix ran; not written (run again)"]
    );
    assert_eq!(read(dir.path(), "b/kustomization.yaml"), theirs.as_bytes());
    assert_eq!(read(dir.path(), "a/kustomization.yaml"), fixed(OVERLAY));
    assert_good_fixed(dir.path());
}

/// The same end to end: a big file keeps the run busy while `z.yaml`, read at the start, is
/// replaced (atomically, as editors save) before manifix gets to write it. The edit must
/// survive: reported as changed on disk, or, had manifix read it in time, fixed along.
#[test]
fn a_file_edited_while_fix_runs_keeps_the_edit() {
    let big: String = (0..5000)
        .map(|i| format!("---\nkind: Pod\nmetadata:\n  name: p{i}\nspec:\n  containers:\n    - name: c\n      image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/app{i}:v1\n"))
        .collect();
    let theirs = format!("{OVERLAY}# edited while manifix ran\n");
    let mut seen = false;
    for attempt in 1..=3 {
        let dir = tree(&[
            ("a-big.yaml", big.as_bytes()),
            ("z.yaml", OVERLAY.as_bytes()),
        ]);
        let child = Command::new(env!("CARGO_BIN_EXE_manifix"))
            .args(["fix", "--account", REAL, "."])
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        std::thread::sleep(Duration::from_millis(100 * attempt));
        write(dir.path(), "z.tmp", theirs.as_bytes());
        std::fs::rename(dir.path().join("z.tmp"), dir.path().join("z.yaml")).expect("rename");
        let out = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
        let z = read(dir.path(), "z.yaml");
        assert_eq!(read(dir.path(), "a-big.yaml"), fixed(&big));
        if z == theirs.as_bytes() {
            assert_eq!(out.status.code(), Some(2));
            // Caught when the rules read it again, or when the fix is written.
            assert!(
                stderr
                    .contains("z.yaml: changed on disk while manifix ran; not written (run again)")
                    || stderr.contains(
                        "z.yaml:1:1: error: changed on disk while manifix ran: not checked or fixed (run again)"
                    ),
                "{stderr}"
            );
            seen = true;
            break;
        }
        // Read after the edit: then the edit is fixed along, never lost.
        assert_eq!(
            z,
            fixed(&theirs),
            "attempt {attempt}: the concurrent edit was lost"
        );
    }
    assert!(
        seen,
        "the edit never landed between manifix's read and write"
    );
}

fn walk_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// kill -9 in the middle of writing: every file is exactly the old or exactly the new text,
/// and a second run finishes the job. The kill is timed by watching the files: after the
/// first, a quarter, half and most of them have been written, and once during analysis. The
/// run's own temporary file (the facts it keeps between reading and fixing) has no name, so
/// a kill leaves nothing in its TMPDIR either.
#[cfg(unix)]
#[test]
fn kill_9_during_fix_leaves_every_file_old_or_new() {
    const FILES: usize = 300;
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let name = |i: usize| format!("f{i:04}.yaml");
    // Each file different, so a mixed-up write would show.
    let old = |i: usize| OVERLAY.replace("data-ingestion", &format!("app-{i}"));
    let new = |i: usize| fixed(&old(i));
    let reset = || {
        for i in 0..FILES {
            write(root, &name(i), old(i).as_bytes());
        }
    };
    let spill_dir = tempfile::tempdir().expect("tempdir");
    let mut mixed_runs = 0;
    for watch in [
        None,
        Some(0),
        Some(FILES / 4),
        Some(FILES / 2),
        Some(FILES * 9 / 10),
    ] {
        reset();
        let mut child = Command::new(env!("CARGO_BIN_EXE_manifix"))
            .args(["fix", "--account", REAL, "."])
            .current_dir(root)
            .env("TMPDIR", spill_dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let started = Instant::now();
        match watch {
            // During analysis: before anything can have been written.
            None => std::thread::sleep(Duration::from_millis(5)),
            Some(k) => {
                let target = new(k);
                while std::fs::read(root.join(name(k))).ok().as_deref() != Some(&target[..]) {
                    if child.try_wait().expect("wait").is_some() {
                        break;
                    }
                    assert!(started.elapsed() < Duration::from_secs(60), "no progress");
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
        }
        child.kill().expect("SIGKILL");
        let status = child.wait().expect("wait");
        let (mut olds, mut news) = (0, 0);
        for i in 0..FILES {
            let now = std::fs::read(root.join(name(i))).expect("read");
            if now == old(i).as_bytes() {
                olds += 1;
            } else if now == new(i) {
                news += 1;
            } else {
                panic!(
                    "{}: half-written after kill -9 (watch {watch:?}):\n{}",
                    name(i),
                    String::from_utf8_lossy(&now)
                );
            }
        }
        if let Some(k) = watch {
            assert!(news > k, "watch {k}: only {news} new");
        }
        mixed_runs += usize::from(olds > 0 && news > 0);
        let in_tmpdir = walk_files(spill_dir.path());
        assert!(in_tmpdir.is_empty(), "left in TMPDIR: {in_tmpdir:?}");
        // Writes are one at a time: at most the one in flight leaves its temporary file, named
        // for the killed process, and it is no .yaml file a later run would read.
        let leftovers: Vec<PathBuf> = walk_files(root)
            .into_iter()
            .filter(|p| !p.to_string_lossy().ends_with(".yaml"))
            .collect();
        assert!(leftovers.len() <= 1, "{leftovers:?}");
        let temp_name = format!(".manifix-{}-", child.id());
        assert!(
            leftovers.iter().all(|p| p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&temp_name))),
            "{leftovers:?}"
        );
        eprintln!(
            "watch {watch:?}: {status}, {news} new, {olds} old, {} temporary file(s) left",
            leftovers.len()
        );
        // A second run finishes what the first began, and removes what it left.
        let again = manifix(&["fix", "--account", REAL, "."], root);
        assert_eq!(again.code, 0, "{}", again.stderr);
        for left in &leftovers {
            assert!(!left.exists(), "{left:?} still there:\n{}", again.stderr);
            let name = left.file_name().expect("name").to_string_lossy();
            assert!(
                again.stderr.contains(&format!("note: removed {name}")),
                "{}",
                again.stderr
            );
        }
        for i in 0..FILES {
            assert_eq!(
                read(root, &name(i)),
                new(i),
                "{} after the second run",
                name(i)
            );
        }
    }
    assert!(
        mixed_runs >= 2,
        "only {mixed_runs} kills landed while files were being written"
    );
}

/// The temporary file of a `manifix fix` killed while writing is reported by `check` and
/// `fix --dry-run`, and removed by the next `fix`; a temporary file of a writer still running,
/// and any other dot file, is left alone (and no hidden file is read).
#[cfg(unix)]
#[test]
fn temporary_files_of_a_killed_fix_are_removed_by_the_next_fix() {
    // A process id that is certainly gone: a child that has exited and been waited for.
    let mut gone = Command::new("true").spawn().expect("spawn true");
    gone.wait().expect("wait");
    let dead = gone.id();
    let alive = std::process::id();
    let left = format!("good/.manifix-{dead}-a1B2c3.tmp");
    let running = format!("good/.manifix-{alive}-a1B2c3.tmp");
    let others = [
        format!("good/.manifix-{dead}-abc.tmp"),
        "good/.manifix-report-a1B2c3".to_string(),
        format!("good/manifix-{dead}-a1B2c3.tmp"),
    ];
    let hidden = "good/.hidden/kustomization.yaml";
    let dir = tree(&[
        (left.as_str(), b"half of a new file"),
        (running.as_str(), b"being written"),
        (others[0].as_str(), b"x"),
        (others[1].as_str(), b"x"),
        (others[2].as_str(), b"x"),
        (hidden, OVERLAY.as_bytes()),
    ]);
    let root = dir.path();
    let leftover_name = left.trim_start_matches("good/");

    let check = manifix(&["check", "."], root);
    assert_sane(&check);
    assert_eq!(check.code, 1, "{}", check.stderr);
    assert!(
        check.stderr.contains(&format!(
            "{left}: warning: temporary file of a manifix fix that was interrupted (process {dead} is gone)"
        )),
        "{}",
        check.stderr
    );
    assert_eq!(
        check.stderr.matches("temporary file").count(),
        1,
        "{}",
        check.stderr
    );
    assert!(!check.stdout.contains(".hidden"), "{}", check.stdout);

    let dry = manifix(&["fix", "--dry-run", "--account", REAL, "."], root);
    assert_sane(&dry);
    assert!(root.join(&left).exists(), "a dry run removes nothing");
    assert!(
        dry.stderr
            .contains(&format!("{left}: warning: temporary file of a manifix fix")),
        "{}",
        dry.stderr
    );

    let fix = manifix(&["fix", "--account", REAL, "."], root);
    assert_sane(&fix);
    assert_eq!(fix.code, 0, "{}", fix.stderr);
    assert!(
        fix.stderr.contains(&format!(
            "note: removed {left}, a temporary file of a manifix fix that was interrupted (process {dead})"
        )),
        "{}",
        fix.stderr
    );
    assert!(
        !root.join(&left).exists(),
        "{leftover_name} was not removed"
    );
    assert_eq!(read(root, &running), b"being written");
    for other in &others {
        assert_eq!(read(root, other), b"x", "{other}");
    }
    assert_eq!(
        read(root, hidden),
        OVERLAY.as_bytes(),
        "a hidden file was read"
    );
    assert_good_fixed(root);
}

/// A run keeps each file's facts in an unnamed temporary file between reading the file and
/// running its rules. Where no temporary file can be made (TMPDIR gone), it keeps them in
/// memory instead: the same findings, diff and exit status, and nothing left anywhere.
#[test]
fn without_a_temporary_directory_a_run_says_the_same() {
    let (_dir, root) = temp_fixture("seed-gitops");
    let gone = root.join("no-such-tmp");
    let run = |args: &[&str], tmp: Option<&Path>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_manifix"));
        command.args(args).current_dir(&root).env_remove("NO_COLOR");
        if let Some(tmp) = tmp {
            command.env("TMPDIR", tmp);
        }
        let out = command.output().expect("run manifix");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!stderr.contains("panicked"), "{stderr}");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr,
        )
    };
    let before = snapshot_tree(&root);
    for args in [
        &["check", "--format", "json", "."][..],
        &["fix", "--dry-run", "--account", REAL, "."][..],
    ] {
        let usual = run(args, None);
        let without = run(args, Some(&gone));
        assert!(matches!(usual.0, Some(0 | 1)), "{args:?}: {}", usual.2);
        assert!(usual.1.contains(PLACEHOLDER), "{args:?}: {}", usual.1);
        assert_eq!(without, usual, "{args:?}");
    }
    assert!(!gone.exists());
    assert_eq!(
        snapshot_tree(&root),
        before,
        "a check or dry run changed a file"
    );
}

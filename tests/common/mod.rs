//! Shared helpers for the CLI tests: run the real binary, copy fixtures into temp dirs,
//! render kustomize overlays with the real kubectl.
#![allow(dead_code)]

pub mod git;
pub mod shape;
pub mod suite;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const REAL: &str = "465002806239";
pub const PLACEHOLDER: &str = "123456789012";

/// `manifix bulk` of the built-in placeholder recipe over `repos.txt`, as a dry run, with
/// `extra` arguments after.
pub fn bulk_dry_run<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "bulk",
        "--recipe",
        "fix-placeholder-accounts",
        "--repos",
        "repos.txt",
        "--dry-run",
    ];
    args.extend_from_slice(extra);
    args
}

/// The text-output lines of `rule`'s findings (`path:line:col: rule: message`).
pub fn lines_of<'a>(stdout: &'a str, rule: &str) -> Vec<&'a str> {
    stdout
        .lines()
        .filter(|l| l.contains(&format!(": {rule}: ")))
        .collect()
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// Copies a directory tree (files and directories only).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// A temp copy of a fixture; the copy is at `dir.path().join(name)`.
pub fn temp_fixture(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join(name);
    copy_dir(&fixture(name), &root);
    (dir, root)
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn manifix(args: &[&str], cwd: &Path) -> Run {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_manifix"))
        .args(args)
        .current_dir(cwd)
        .env_remove("NO_COLOR")
        .output()
        .expect("run manifix");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "manifix panicked: {}",
        run.stderr
    );
    run
}

/// `kubectl kustomize DIR`, which must succeed.
pub fn kustomize(dir: &Path) -> String {
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("kubectl must be installed (it renders the kustomize overlays)");
    assert!(
        out.status.success(),
        "kubectl kustomize {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 render")
}

/// Every file below `root` with its bytes, keyed by relative path.
pub fn snapshot_tree(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .expect("prefix")
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, std::fs::read(&path).expect("read"));
            }
        }
    }
    walk(root, root, &mut out);
    out
}

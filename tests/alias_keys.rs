//! Duplicate mapping keys are judged as kubectl judges them, after alias resolution: a key
//! written as an alias (`? *x`) is the value its anchor holds. `check` reports a file that names
//! a key twice that way, and `fix` refuses an edit that would make it so, leaving the file
//! byte-identical — the original renders with `kubectl kustomize`, the naive fix does not.

mod common;
use common::*;

use std::path::Path;
use std::process::Command;

/// `a` anchors the placeholder ARN, `? *x` uses it as a key, and the real ARN is a key too:
/// distinct keys until the placeholder is replaced.
const BLOCK: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: roles
data:
  a: &x arn:aws:iam::123456789012:role/a
  ? *x
  : v
  \"arn:aws:iam::465002806239:role/a\": w
";

const FLOW: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: roles
data: {a: &x arn:aws:iam::123456789012:role/a, ? *x : v, \"arn:aws:iam::465002806239:role/a\": w}
";

/// A kustomization rendering `cm.yaml` holding `text`.
fn tree(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("repo");
    std::fs::create_dir_all(&root).expect("mkdir");
    std::fs::write(root.join("cm.yaml"), text).expect("write");
    std::fs::write(root.join("kustomization.yaml"), "resources:\n- cm.yaml\n").expect("write");
    (tmp, root)
}

/// `kubectl kustomize DIR`: whether it rendered, and what it said.
fn render(dir: &Path) -> (bool, String) {
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("kubectl must be installed");
    (
        out.status.success(),
        String::from_utf8_lossy(if out.status.success() {
            &out.stdout
        } else {
            &out.stderr
        })
        .into_owned(),
    )
}

#[test]
fn a_fix_that_would_make_an_alias_key_a_duplicate_is_refused() {
    for text in [BLOCK, FLOW] {
        let (_tmp, root) = tree(text);
        let (ok, said) = render(&root);
        assert!(ok, "the original renders: {said}");

        // What the fix would write, as kubectl sees it: rejected.
        let (_naive_tmp, naive) = tree(&text.replace(PLACEHOLDER, REAL));
        let (ok, said) = render(&naive);
        assert!(!ok, "the naively fixed file is rejected by kubectl");
        assert!(said.contains("already defined"), "{said}");

        let run = manifix(&["fix", "--account", REAL, "."], &root);
        assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
        assert_eq!(
            std::fs::read_to_string(root.join("cm.yaml")).expect("read"),
            text,
            "left byte-identical"
        );
        let why = run
            .stderr
            .lines()
            .find(|l| l.starts_with("cm.yaml:") && l.contains("file left untouched"))
            .unwrap_or_else(|| panic!("a refusal for cm.yaml: {}", run.stderr));
        assert!(
            why.contains("duplicate key") && why.contains("`*x` is an alias"),
            "says why: {why}"
        );
        assert!(
            why.contains(&format!("arn:aws:iam::{REAL}:role/a")),
            "{why}"
        );
        assert!(run.stdout.contains("1 file refused"), "{}", run.stdout);
        assert!(render(&root).0, "still renders");
    }
}

#[test]
fn check_reports_a_key_named_twice_through_an_alias() {
    let text = BLOCK.replace(PLACEHOLDER, REAL);
    let (_tmp, root) = tree(&text);
    assert!(!render(&root).0, "kubectl rejects it");
    let run = manifix(&["check", "."], &root);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    let line = run
        .stderr
        .lines()
        .find(|l| l.starts_with("cm.yaml:9:3: error: duplicate key"))
        .unwrap_or_else(|| panic!("a duplicate-key error at 9:3: {}", run.stderr));
    assert!(
        line.contains("first at line 7") && line.contains("`*x` is an alias"),
        "{line}"
    );
    assert!(run.stdout.contains("1 file error"), "{}", run.stdout);

    // Two aliases of one anchor as keys of one mapping are one key written twice, too.
    let twice = "k: &y name\nm:\n  ? *y\n  : 1\n  ? *y\n  : 2\n";
    let (_tmp2, root2) = tree(twice);
    let run = manifix(&["check", "."], &root2);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("cm.yaml:5:5: error: duplicate key `name`"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_alias_key_that_stays_distinct_is_fixed() {
    let text = BLOCK.replace("  \"arn:aws:iam::465002806239:role/a\": w\n", "  b: w\n");
    let (_tmp, root) = tree(&text);
    let run = manifix(&["fix", "--account", REAL, "."], &root);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        std::fs::read_to_string(root.join("cm.yaml")).expect("read"),
        text.replace(PLACEHOLDER, REAL)
    );
    let (ok, rendered) = render(&root);
    assert!(ok, "{rendered}");
    assert!(
        rendered.contains(&format!("arn:aws:iam::{REAL}:role/a: v")),
        "{rendered}"
    );
}

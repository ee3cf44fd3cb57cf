//! Pinning mutable tags to the immutable tag of the commit a branch points to, resolved from
//! real git repositories: local paths, a bare remote over file://, and git daemon.

mod common;
use common::git::*;
use common::*;
use std::path::Path;

const OVERLAYS: &[&str] = &[
    "apps/ml-recommendation-inference/overlays/production",
    "apps/ml-training-workflow-circle/overlays/production",
    "apps/ml-training-workflow-circle/overlays/staging",
];

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn read(root: &Path, rel: &str) -> String {
    std::fs::read_to_string(root.join(rel)).expect("read")
}

/// The seed fixture next to its application repository, with a manifix.yaml naming `repo`.
fn seed_with_source(repo: &str) -> (tempfile::TempDir, std::path::PathBuf, AppRepo) {
    let (tmp, root) = temp_fixture("seed-gitops");
    let app = make_app_repo(tmp.path());
    let repo = repo.replace("{app}", app.path.to_str().expect("utf-8"));
    write(
        &root,
        "manifix.yaml",
        &format!("sources:\n  - image: \"*/ml-fashion-recommender/*\"\n    repo: {repo}\n"),
    );
    (tmp, root, app)
}

#[test]
fn seed_overlays_pin_to_the_app_repository_main_and_render_only_new_tags() {
    let (_tmp, root, app) = seed_with_source("../ml-fashion-recommender");
    let renders: Vec<String> = OVERLAYS.iter().map(|o| kustomize(&root.join(o))).collect();

    let check = manifix(&["check", "."], &root);
    let pins: Vec<&str> = check
        .stdout
        .lines()
        .filter(|l| l.contains(": mutable-tag: "))
        .collect();
    assert_eq!(pins.len(), 3, "{}", check.stdout);
    let pinned = format!("main-{}", app.main_sha);
    for line in &pins {
        assert!(line.contains(&format!("pin to `{pinned}`")), "{line}");
        assert!(
            line.contains(&format!(
                "commit {} \"Train on the November catalogue\" (2025-11-07)",
                &app.main_sha[..7]
            )),
            "{line}"
        );
        // The seed's own immutable tag tells how CI spells tags.
        assert!(line.contains("template {branch}-{sha} inferred from the tag main-a0f13477eca7bfd3c908afdfff2fa18d1b6be5c0"), "{line}");
    }
    // The base's `inference:latest` is overridden by its overlay: not judged in the base.
    assert!(
        !check.stdout.contains("base/deployment.yaml"),
        "{}",
        check.stdout
    );

    let dry = manifix(&["fix", "--dry-run", "."], &root);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    let hunk_note = format!("main-latest -> {pinned}: commit {}", &app.main_sha[..7]);
    assert!(dry.stdout.contains(&hunk_note), "{}", dry.stdout);

    let fix = manifix(&["fix", "--account", REAL, "."], &root);
    assert_eq!(fix.code, 0, "{}", fix.stderr);
    assert!(
        fix.stdout.contains("fixed 7 findings in 3 files"),
        "{}",
        fix.stdout
    );
    for (overlay, before) in OVERLAYS.iter().zip(&renders) {
        let after = kustomize(&root.join(overlay));
        let expected = before
            .replace(PLACEHOLDER, REAL)
            .replace("main-latest", &pinned);
        assert_eq!(after, expected, "{overlay}");
    }
    // A pinned tag is never pinned again.
    let snapshot = snapshot_tree(&root);
    let again = manifix(&["fix", "."], &root);
    assert!(
        again.stdout.contains("fixed 0 findings in 0 files"),
        "{}",
        again.stdout
    );
    assert_eq!(snapshot, snapshot_tree(&root));
    let check = manifix(&["check", "."], &root);
    assert!(!check.stdout.contains("mutable-tag"), "{}", check.stdout);
}

#[test]
fn bare_remote_over_file_url_and_git_daemon() {
    let (tmp, root, app) = seed_with_source("{app}");
    let served = tmp.path().join("served");
    std::fs::create_dir_all(&served).expect("mkdir");
    let bare = bare_clone(&app.path, &served, "ml-fashion-recommender");
    let file_url = format!("file://{}", bare.display());
    let daemon = GitDaemon::start(&served);
    let daemon_url = daemon.url("ml-fashion-recommender.git");
    for url in [file_url, daemon_url] {
        let run = manifix(
            &[
                "fix",
                "--dry-run",
                "--source",
                &format!("*/ml-fashion-recommender/*={url}"),
                ".",
            ],
            &root,
        );
        assert_eq!(run.code, 0, "{url}: {}", run.stderr);
        let plus: Vec<&str> = run
            .stdout
            .lines()
            .filter(|l| l.starts_with("+    newTag:"))
            .collect();
        assert_eq!(plus.len(), 3, "{url}: {}", run.stdout);
        for line in plus {
            assert_eq!(line, format!("+    newTag: main-{}", app.main_sha), "{url}");
        }
    }
}

#[test]
fn branch_comes_from_the_tag_then_the_source_then_the_default_branch() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let app = make_app_repo(tmp.path());
    let root = tmp.path().join("gitops");
    write(
        &root,
        "apps/api.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n        - name: a\n          image: reg.example.com/team/api:develop-latest\n        - name: b\n          image: reg.example.com/team/api:latest # moves\n        - name: c\n          image: reg.example.com/team/worker\n        - name: d\n          image: reg.example.com/team/api:v1.2.3\n",
    );
    write(
        &root,
        "manifix.yaml",
        &format!(
            "sources:\n  - image: \"reg.example.com/team/worker\"\n    repo: {}\n    branch: develop\n    tag: \"sha-{{sha7}}\"\n  - image: \"reg.example.com/team/*\"\n    repo: {}\n",
            app.path.display(),
            app.path.display()
        ),
    );
    let run = manifix(&["fix", "."], &root);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = read(&root, "apps/api.yaml");
    assert!(
        text.contains(&format!(
            "image: reg.example.com/team/api:develop-{}\n",
            app.develop_sha
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "image: reg.example.com/team/api:main-{} # moves\n",
            app.main_sha
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "image: reg.example.com/team/worker:sha-{}\n",
            &app.develop_sha[..7]
        )),
        "{text}"
    );
    assert!(
        text.contains("image: reg.example.com/team/api:v1.2.3\n"),
        "{text}"
    );

    let strict = manifix(&["check", "--strict", "."], &root);
    assert!(
        strict.stdout.contains("semver tag `v1.2.3`"),
        "{}",
        strict.stdout
    );
    let lenient = manifix(&["check", "."], &root);
    assert!(!lenient.stdout.contains("v1.2.3"), "{}", lenient.stdout);
}

#[test]
fn unresolved_images_say_which_config_would_resolve_them() {
    let (_tmp, root) = temp_fixture("seed-gitops");
    let run = manifix(&["check", "."], &root);
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains("overlays/production/kustomization.yaml") && l.contains("mutable-tag"))
        .expect("mutable-tag finding");
    assert!(
        line.contains("unresolved: no source maps this image"),
        "{line}"
    );
    assert!(
        line.contains("image: \"*/ml-fashion-recommender/data_ingestion\""),
        "{line}"
    );
}

#[test]
fn a_broken_source_is_an_error_for_that_source_and_the_rest_is_still_fixed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let app = make_app_repo(tmp.path());
    let root = tmp.path().join("gitops");
    let text = "kind: Kustomization\nimages:\n  - name: a\n    newName: reg.example.com/team/a\n    newTag: main-latest\n  - name: b\n    newName: reg.example.com/other/b\n    newTag: release-latest\n  - name: c\n    newName: reg.example.com/gone/c\n    newTag: main-latest\n";
    write(&root, "kustomization.yaml", text);
    write(
        &root,
        "manifix.yaml",
        &format!(
            "sources:\n  - image: \"*/team/*\"\n    repo: {app}\n  - image: \"*/other/*\"\n    repo: {app}\n  - image: \"*/gone/*\"\n    repo: {missing}\n",
            app = app.path.display(),
            missing = tmp.path().join("does-not-exist").display()
        ),
    );
    let run = manifix(&["fix", "."], &root);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("release"),
        "missing branch named: {}",
        run.stderr
    );
    assert!(run.stderr.contains("does-not-exist"), "{}", run.stderr);
    let after = read(&root, "kustomization.yaml");
    assert_eq!(
        after,
        text.replacen("main-latest", &format!("main-{}", app.main_sha), 1)
    );
}

#[test]
fn images_a_base_leaves_unset_are_judged_where_they_render() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    write(
        root,
        "base/kustomization.yaml",
        "resources:\n  - deploy.yaml\n",
    );
    write(
        root,
        "base/deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: web:latest\n        - name: proxy\n          image: nginx:stable\n",
    );
    write(
        root,
        "overlays/prod/kustomization.yaml",
        "resources:\n  - ../../base\nimages:\n  - name: web\n    newName: reg.example.com/web\n    newTag: main-0123456789abcdef0123456789abcdef01234567\n",
    );
    let run = manifix(&["check", "."], root);
    let tags: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.contains("mutable-tag"))
        .collect();
    // web:latest is set by the overlay; nginx:stable renders as written, so it is reported.
    assert_eq!(tags.len(), 1, "{}", run.stdout);
    assert!(tags[0].starts_with("base/deploy.yaml:12:"), "{}", tags[0]);
    assert!(
        tags[0].contains("`stable` on image `nginx` (renders in overlays/prod)"),
        "{}",
        tags[0]
    );
}

#[test]
fn helm_values_tags_and_configured_mutable_patterns_are_pinned() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let app = make_app_repo(tmp.path());
    let root = tmp.path().join("gitops");
    let values = "# values for the api chart\nimage:\n  repository: reg.example.com/team/api\n  tag: \"main\" # follows main\nworker:\n  image:\n    registry: reg.example.com\n    repository: team/worker\n    tag: nightly-snapshot\n";
    write(&root, "charts/api/values.yaml", values);
    write(
        &root,
        "manifix.yaml",
        &format!(
            "tags:\n  mutable: [\"*-snapshot\"]\nsources:\n  - image: \"reg.example.com/team/*\"\n    repo: {}\n    branch: develop\n",
            app.path.display()
        ),
    );
    let run = manifix(&["fix", "."], &root);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let after = read(&root, "charts/api/values.yaml");
    let expected = values
        .replace("tag: \"main\"", &format!("tag: \"main-{}\"", app.main_sha))
        .replace(
            "tag: nightly-snapshot",
            &format!("tag: develop-{}", app.develop_sha),
        );
    assert_eq!(after, expected);
}

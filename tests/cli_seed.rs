//! The seed repository end to end: `check` reports every placeholder the seed audit lists,
//! `fix --dry-run` shows exactly the fix, and after `fix` every kustomize overlay renders the
//! same as before except for the account digits.

mod common;
use common::*;

const OVERLAYS: &[&str] = &[
    "apps/ml-recommendation-inference/overlays/production",
    "apps/ml-training-workflow-circle/overlays/production",
    "apps/ml-training-workflow-circle/overlays/staging",
];

#[test]
fn check_reports_every_placeholder_the_seed_lists() {
    let root = fixture("seed-gitops");
    let run = manifix(&["check", root.to_str().expect("utf-8")], &root);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let locations: Vec<&str> = lines
        .iter()
        .filter(|l| l.contains(": placeholder-account: "))
        .map(|l| l.split(": placeholder-account: ").next().expect("location"))
        .collect();
    assert_eq!(
        locations,
        [
            "apps/ml-recommendation-inference/overlays/production/kustomization.yaml:23:30",
            "apps/ml-training-workflow-circle/overlays/production/kustomization.yaml:12:14",
            "apps/ml-training-workflow-circle/overlays/staging/kustomization.yaml:12:14",
            "apps/ml-training-workflow-circle/overlays/staging/kustomization.yaml:15:14",
        ]
    );
    // The IRSA finding explains the role correctly: app credentials, not image pulls.
    let placeholders: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.contains(": placeholder-account: "))
        .collect();
    let irsa = placeholders[0];
    assert!(
        irsa.contains("IRSA role ARN of ServiceAccount `ml-inference-sa`"),
        "{irsa}"
    );
    assert!(irsa.contains("image pulls are not affected"), "{irsa}");
    assert!(irsa.contains("inline kustomize patch"), "{irsa}");
    assert!(placeholders[1].contains("kustomize image override `data-ingestion`"));
    assert!(placeholders[1].contains("ImagePullBackOff"));
    assert!(placeholders[1].contains("the real account is 465002806239"));
    assert_eq!(
        lines.last().copied(),
        Some("13 findings (9 errors, 3 warnings, 1 info; 9 fixable) in 11 files; 0 skipped; 0 file errors")
    );
    // The inferred account is announced, with the reason.
    assert!(
        run.stderr.contains("note: target account 465002806239 inferred: the only real account in the repository, seen at apps/ml-recommendation-inference/base/serviceaccount.yaml:8"),
        "{}",
        run.stderr
    );
}

#[test]
fn check_json_lists_findings_with_fix_replacements() {
    let root = fixture("seed-gitops");
    let run = manifix(&["check", "--format", "json", "."], &root);
    assert_eq!(run.code, 1);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    let all = json["findings"].as_array().expect("findings");
    let findings: Vec<_> = all
        .iter()
        .filter(|f| f["rule"] == "placeholder-account")
        .collect();
    assert_eq!(findings.len(), 4);
    // Without a source, the three main-latest tags are reported but cannot be pinned.
    let tags: Vec<_> = all.iter().filter(|f| f["rule"] == "mutable-tag").collect();
    assert_eq!(tags.len(), 3);
    assert!(tags
        .iter()
        .all(|f| f.get("fix").is_none() && f["severity"] == "warning"));
    for f in findings {
        assert_eq!(f["rule"], "placeholder-account");
        assert_eq!(f["severity"], "error");
        assert_eq!(f["fix"]["replacement"], REAL);
        assert!(f["line"].as_u64().expect("line") > 0);
        assert!(f["column"].as_u64().expect("column") > 0);
    }
    assert_eq!(json["summary"]["findings"], 13);
    assert_eq!(json["summary"]["errors"], 9);
}

#[test]
fn dry_run_diff_is_stable_and_writes_nothing() {
    let (_tmp, root) = temp_fixture("seed-gitops");
    let before = snapshot_tree(&root);
    let run = manifix(&["fix", "--dry-run", "."], &root);
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!("seed_dry_run_diff", run.stdout);
    assert!(
        run.stderr.contains("would fix 4 findings in 3 files"),
        "{}",
        run.stderr
    );
    assert_eq!(before, snapshot_tree(&root), "dry run must write nothing");

    let with_exit = manifix(&["fix", "--dry-run", "--exit-code", "."], &root);
    assert_eq!(with_exit.code, 1);
    assert_eq!(with_exit.stdout, run.stdout);
}

#[test]
fn fix_changes_only_account_digits_in_rendered_overlays_and_is_idempotent() {
    let (_tmp, root) = temp_fixture("seed-gitops");
    let renders_before: Vec<String> = OVERLAYS.iter().map(|o| kustomize(&root.join(o))).collect();
    let before = snapshot_tree(&root);

    let run = manifix(&["fix", "."], &root);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("fixed 4 findings in 3 files"),
        "{}",
        run.stdout
    );

    let after = snapshot_tree(&root);
    for (path, old) in &before {
        let new = &after[path];
        let old = String::from_utf8(old.clone()).expect("utf-8");
        let new = String::from_utf8(new.clone()).expect("utf-8");
        // Byte for byte the same, but for the placeholder digits in manifests; the fixture's
        // README (not a manifest) keeps them.
        let expected = if path.ends_with(".yaml") {
            old.replace(PLACEHOLDER, REAL)
        } else {
            old
        };
        assert_eq!(expected, new, "{path}");
    }
    for (overlay, old) in OVERLAYS.iter().zip(&renders_before) {
        let new = kustomize(&root.join(overlay));
        assert_ne!(&new, old, "{overlay} should change");
        assert_eq!(old.replace(PLACEHOLDER, REAL), new, "{overlay}");
        assert!(!new.contains(PLACEHOLDER));
    }

    let again = manifix(&["fix", "."], &root);
    assert_eq!(again.code, 0);
    assert!(
        again.stdout.contains("fixed 0 findings in 0 files"),
        "{}",
        again.stdout
    );
    assert_eq!(
        after,
        snapshot_tree(&root),
        "second fix must change nothing"
    );
    let check = manifix(&["check", "."], &root);
    // The missing image overrides remain (they have no automatic fix); no placeholder does.
    assert_eq!(check.code, 1, "{}", check.stdout);
    assert!(
        !check.stdout.contains("placeholder-account"),
        "{}",
        check.stdout
    );
}

#[test]
fn check_reports_the_image_overrides_each_overlay_forgot() {
    let root = fixture("seed-gitops");
    let run = manifix(&["check", "."], &root);
    let missing: Vec<(String, String)> = run
        .stdout
        .lines()
        .filter(|l| l.contains(": missing-image-override: "))
        .map(|l| {
            let path = l.split(':').next().expect("path").to_string();
            let image = l.split('`').nth(1).expect("image name").to_string();
            (path, image)
        })
        .collect();
    let prod = "apps/ml-training-workflow-circle/overlays/production/kustomization.yaml";
    let staging = "apps/ml-training-workflow-circle/overlays/staging/kustomization.yaml";
    let expected: Vec<(String, String)> = [
        (prod, "data-processing"),
        (prod, "data-eda"),
        (prod, "train-model"),
        (staging, "data-eda"),
        (staging, "train-model"),
    ]
    .iter()
    .map(|(p, i)| (p.to_string(), i.to_string()))
    .collect();
    assert_eq!(missing, expected, "{}", run.stdout);
    assert!(run.stdout.contains(
        "newName: 465002806239.dkr.ecr.ap-southeast-2.amazonaws.com/ml-fashion-recommender/data_eda"
    ));
}

#[test]
fn add_missing_overrides_appends_the_entries_and_renders_every_image_from_ecr() {
    let (_tmp, root) = temp_fixture("seed-gitops");
    let plain = manifix(&["fix", "--dry-run", "."], &root);
    assert!(
        plain
            .stderr
            .contains("5 held back (opt-in: --add-missing-overrides"),
        "{}",
        plain.stderr
    );

    let run = manifix(&["fix", "--add-missing-overrides", "."], &root);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for overlay in &OVERLAYS[1..] {
        let render = kustomize(&root.join(overlay));
        for line in render
            .lines()
            .filter(|l| l.trim_start().starts_with("image:"))
        {
            assert!(
                line.contains(
                    "465002806239.dkr.ecr.ap-southeast-2.amazonaws.com/ml-fashion-recommender/"
                ),
                "{overlay}: {line}"
            );
        }
    }
    let prod =
        std::fs::read_to_string(root.join(OVERLAYS[1]).join("kustomization.yaml")).expect("read");
    assert!(prod.contains("  - name: data-eda\n    newName: 465002806239.dkr.ecr.ap-southeast-2.amazonaws.com/ml-fashion-recommender/data_eda\n"), "{prod}");
    let check = manifix(&["check", "."], &root);
    assert!(
        !check.stdout.contains("missing-image-override"),
        "{}",
        check.stdout
    );
    let snapshot = snapshot_tree(&root);
    let again = manifix(&["fix", "--add-missing-overrides", "."], &root);
    assert_eq!(again.code, 0);
    assert_eq!(snapshot, snapshot_tree(&root), "second run changes nothing");
}

//! The promises around the edges: every YAML spelling gets the right fix, files manifix cannot
//! handle are reported and left untouched, and the account is never guessed.

mod common;
use common::*;
use std::path::Path;

fn write(root: &Path, rel: &str, text: &[u8]) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn read(root: &Path, rel: &str) -> Vec<u8> {
    std::fs::read(root.join(rel)).expect("read")
}

const OVERLAY: &str = "apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../base
# Staging tracks the latest main build
images:
  - name: data-ingestion
    newName: 123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/ml-fashion-recommender/data_ingestion
    newTag: main-latest # mutable
";

/// Runs `fix --account REAL` on a one-file repository and returns the file afterwards.
fn fix_one(rel: &str, text: &[u8]) -> (Run, Vec<u8>) {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), rel, text);
    let run = manifix(&["fix", "--account", REAL, "."], dir.path());
    (run, read(dir.path(), rel))
}

fn swapped(text: &str) -> Vec<u8> {
    text.replace(PLACEHOLDER, REAL).into_bytes()
}

#[test]
fn every_spelling_of_the_fixture_gets_the_same_fix() {
    let variants: Vec<(&str, String)> = vec![
        ("plain", OVERLAY.to_string()),
        ("crlf", OVERLAY.replace('\n', "\r\n")),
        ("bom", format!("\u{feff}{OVERLAY}")),
        ("no final newline", OVERLAY.trim_end().to_string()),
        (
            "single-quoted",
            OVERLAY.replace(
                "newName: 123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/ml-fashion-recommender/data_ingestion",
                "newName: '123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/ml-fashion-recommender/data_ingestion'",
            ),
        ),
        (
            "double-quoted",
            OVERLAY.replace(
                "newName: 123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/ml-fashion-recommender/data_ingestion",
                "newName: \"123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/ml-fashion-recommender/data_ingestion\"",
            ),
        ),
        (
            "flow",
            "kind: Kustomization\nimages: [{name: data-ingestion, newName: 123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/ml/data_ingestion, newTag: main-latest}]\n".to_string(),
        ),
        (
            "block literal",
            "kind: Kustomization\nimages:\n  - name: data-ingestion\n    newName: |-\n      123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/ml/data_ingestion\n".to_string(),
        ),
        (
            "multi-document",
            format!("{OVERLAY}---\n# second\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: sa\n  annotations:\n    eks.amazonaws.com/role-arn: arn:aws:iam::123456789012:role/r # irsa\n"),
        ),
    ];
    for (name, text) in variants {
        let (run, after) = fix_one("overlays/staging/kustomization.yaml", text.as_bytes());
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        assert_eq!(
            String::from_utf8_lossy(&after),
            String::from_utf8_lossy(&swapped(&text)),
            "{name}"
        );
    }
}

#[test]
fn crlf_and_bom_survive_a_real_write() {
    let text = format!("\u{feff}{}", OVERLAY.replace('\n', "\r\n"));
    let (_, after) = fix_one("k.yaml", text.as_bytes());
    assert!(after.starts_with("\u{feff}".as_bytes()));
    assert_eq!(
        after.iter().filter(|&&b| b == b'\r').count(),
        OVERLAY.lines().count()
    );
}

#[test]
fn malformed_yaml_is_reported_with_position_and_left_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broken = b"kind: Kustomization\nimages:\n  - name: x\n    newName: [123456789012.dkr.ecr.us-east-1.amazonaws.com/x\n";
    write(dir.path(), "a/broken.yaml", broken);
    write(dir.path(), "b/good.yaml", OVERLAY.as_bytes());
    let check = manifix(&["check", "--account", REAL, "."], dir.path());
    assert_eq!(check.code, 2);
    let line = check
        .stderr
        .lines()
        .find(|l| l.starts_with("a/broken.yaml:"))
        .expect("error line");
    let parts: Vec<&str> = line.splitn(4, ':').collect();
    assert!(
        parts[1].parse::<usize>().is_ok() && parts[2].parse::<usize>().is_ok(),
        "{line}"
    );
    assert!(parts[3].starts_with(" error: "), "{line}");
    assert!(
        check
            .stdout
            .contains("b/good.yaml:8:14: placeholder-account"),
        "{}",
        check.stdout
    );

    let fix = manifix(&["fix", "--account", REAL, "."], dir.path());
    assert_eq!(fix.code, 2);
    assert_eq!(read(dir.path(), "a/broken.yaml"), broken);
    assert_eq!(read(dir.path(), "b/good.yaml"), swapped(OVERLAY));
}

#[test]
fn templates_binary_and_non_utf8_files_are_skipped_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let template =
        b"image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/{{ .Values.name }}:latest\n";
    let latin1 = b"image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/caf\xe9:1\n";
    let binary = b"image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/x\0\n";
    write(dir.path(), "chart/templates/deploy.yaml", template);
    write(dir.path(), "latin1.yaml", latin1);
    write(dir.path(), "binary.yml", binary);
    let run = manifix(&["fix", "--account", REAL, "."], dir.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("chart/templates/deploy.yaml: skipped: contains {{ }} templates"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("latin1.yaml: warning: not UTF-8"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("binary.yml: warning: binary file"),
        "{}",
        run.stderr
    );
    assert_eq!(read(dir.path(), "chart/templates/deploy.yaml"), template);
    assert_eq!(read(dir.path(), "latin1.yaml"), latin1);
    assert_eq!(read(dir.path(), "binary.yml"), binary);
}

#[cfg(unix)]
#[test]
fn symlinks_out_of_the_root_are_not_followed() {
    let outside = tempfile::tempdir().expect("tempdir");
    write(outside.path(), "secret.yaml", OVERLAY.as_bytes());
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "inside.yaml", OVERLAY.as_bytes());
    std::os::unix::fs::symlink(
        outside.path().join("secret.yaml"),
        dir.path().join("link.yaml"),
    )
    .expect("symlink");
    std::os::unix::fs::symlink(
        dir.path().join("inside.yaml"),
        dir.path().join("alias.yaml"),
    )
    .expect("symlink");
    let run = manifix(&["fix", "--account", REAL, "."], dir.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("link.yaml: warning: symlink that leads outside the root"),
        "{}",
        run.stderr
    );
    assert_eq!(read(outside.path(), "secret.yaml"), OVERLAY.as_bytes());
    assert_eq!(read(dir.path(), "inside.yaml"), swapped(OVERLAY));
    assert!(std::fs::symlink_metadata(dir.path().join("alias.yaml"))
        .expect("meta")
        .file_type()
        .is_symlink());
    assert!(
        run.stdout.contains("fixed 1 finding in 1 file"),
        "{}",
        run.stdout
    );
}

#[test]
fn without_a_known_account_fix_stops_and_asks_for_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "k.yaml", OVERLAY.as_bytes());
    let fix = manifix(&["fix", "."], dir.path());
    assert_eq!(fix.code, 2);
    assert!(fix.stderr.contains("pass --account"), "{}", fix.stderr);
    assert_eq!(read(dir.path(), "k.yaml"), OVERLAY.as_bytes());
    let check = manifix(&["check", "."], dir.path());
    assert_eq!(check.code, 1);
    assert!(
        check.stdout.contains("no real account is known yet"),
        "{}",
        check.stdout
    );

    // Two real accounts: inference refuses to pick, and says which it saw where.
    write(
        dir.path(),
        "a.yaml",
        b"image: 111111111111.dkr.ecr.us-east-1.amazonaws.com/a:1\n",
    );
    write(
        dir.path(),
        "infra/main.tf",
        b"provider \"aws\" {\n  allowed_account_ids = [\"222222222222\"]\n}\n",
    );
    let fix = manifix(&["fix", "."], dir.path());
    assert_eq!(fix.code, 2);
    assert!(
        fix.stderr.contains("111111111111 (at a.yaml:1)"),
        "{}",
        fix.stderr
    );
    assert!(
        fix.stderr.contains("222222222222 (at infra/main.tf:2)"),
        "{}",
        fix.stderr
    );

    let bad = manifix(&["check", "--account", "12345", "."], dir.path());
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("not an AWS account ID"),
        "{}",
        bad.stderr
    );
}

#[test]
fn config_sets_targets_per_path_and_rejects_mistakes_with_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "overlays/production/k.yaml", OVERLAY.as_bytes());
    write(dir.path(), "overlays/staging/k.yaml", OVERLAY.as_bytes());
    write(
        dir.path(),
        "manifix.yaml",
        b"accounts:\n  target: \"465002806239\"\n  paths:\n    - path: \"overlays/staging/**\"\n      target: 210987654321\n",
    );
    let run = manifix(&["fix", "."], dir.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        read(dir.path(), "overlays/production/k.yaml"),
        swapped(OVERLAY)
    );
    assert_eq!(
        read(dir.path(), "overlays/staging/k.yaml"),
        OVERLAY.replace(PLACEHOLDER, "210987654321").into_bytes()
    );

    write(
        dir.path(),
        "manifix.yaml",
        b"accounts:\n  target: \"465002806239\"\n  placeholder: []\n",
    );
    let run = manifix(&["check", "."], dir.path());
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("manifix.yaml"), "{}", run.stderr);
    assert!(run.stderr.contains("placeholder"), "{}", run.stderr);
    assert!(
        run.stderr.contains('3'),
        "line number expected: {}",
        run.stderr
    );
}

#[test]
fn inline_comment_suppresses_a_finding() {
    let text = "image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/a:1 # manifix: ignore[placeholder-account]\n---\n# manifix: ignore[placeholder-account]\nimage: 123456789012.dkr.ecr.us-east-1.amazonaws.com/b:1\n---\nimage: 123456789012.dkr.ecr.us-east-1.amazonaws.com/c:1 # manifix: ignore[other-rule]\n";
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "x.yaml", text.as_bytes());
    let run = manifix(&["check", "--account", REAL, "."], dir.path());
    let found: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.contains("placeholder-account"))
        .collect();
    assert_eq!(found.len(), 1, "{}", run.stdout);
    assert!(found[0].starts_with("x.yaml:6:8:"), "{}", found[0]);
}

#[test]
fn never_touches_aws_owned_accounts_policies_or_bare_numbers() {
    let text = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  annotations:
    build-id: \"123456789012\"
spec:
  template:
    spec:
      containers:
        - name: pause
          image: 602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/pause:3.9
        - name: app
          image: public.ecr.aws/123456789012/app:1
          env:
            - name: POLICY
              value: arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess
            - name: ACCOUNT
              value: \"123456789012\"
";
    let (run, after) = fix_one("d.yaml", text.as_bytes());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(after, text.as_bytes());
    assert!(
        run.stdout.contains("fixed 0 findings in 0 files"),
        "{}",
        run.stdout
    );
}

#[test]
fn finds_placeholders_in_every_image_site() {
    let text = "\
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
spec:
  templates:
    - name: a
      container:
        image: 111122223333.dkr.ecr.eu-west-1.amazonaws.com/a:1
    - name: b
      script:
        image: '444455556666.dkr.ecr.eu-west-1.amazonaws.com/b:1'
---
# Helm values
image:
  repository: 000000000000.dkr.ecr.eu-west-1.amazonaws.com/c
  tag: v1
---
apiVersion: batch/v1
kind: CronJob
spec:
  jobTemplate:
    spec:
      template:
        spec:
          initContainers:
            - image: \"999999999999.dkr.ecr.eu-west-1.amazonaws.com/d:1\"
";
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "x.yaml", text.as_bytes());
    let check = manifix(&["check", "--account", REAL, "."], dir.path());
    let lines: Vec<&str> = check
        .stdout
        .lines()
        .filter(|l| l.contains("placeholder-account"))
        .collect();
    assert_eq!(lines.len(), 4, "{}", check.stdout);
    assert!(lines[0].contains("container image uses"), "{}", lines[0]);
    assert!(lines[2].contains("Helm image value uses"), "{}", lines[2]);
    let fix = manifix(&["fix", "--account", REAL, "."], dir.path());
    assert_eq!(fix.code, 0);
    let expected = text
        .replace("111122223333", REAL)
        .replace("444455556666", REAL)
        .replace("000000000000", REAL)
        .replace("999999999999", REAL);
    assert_eq!(
        String::from_utf8(read(dir.path(), "x.yaml")).expect("utf-8"),
        expected
    );
}

#[cfg(unix)]
#[test]
fn read_only_file_is_reported_and_kept() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "k.yaml", OVERLAY.as_bytes());
    let path = dir.path().join("k.yaml");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).expect("chmod");
    let run = manifix(&["fix", "--account", REAL, "."], dir.path());
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("k.yaml: cannot write"),
        "{}",
        run.stderr
    );
    assert_eq!(read(dir.path(), "k.yaml"), OVERLAY.as_bytes());
}

#[cfg(unix)]
#[test]
fn fix_keeps_file_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "k.yaml", OVERLAY.as_bytes());
    let path = dir.path().join("k.yaml");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let run = manifix(&["fix", "--account", REAL, "."], dir.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".manifix-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
}

#[test]
fn rules_explain_and_colour() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = manifix(&["rules"], dir.path());
    assert_eq!(rules.code, 0);
    assert!(
        rules.stdout.starts_with("placeholder-account"),
        "{}",
        rules.stdout
    );
    let explain = manifix(&["explain", "placeholder-account"], dir.path());
    assert_eq!(explain.code, 0);
    assert!(
        explain.stdout.contains("node's IAM role"),
        "{}",
        explain.stdout
    );
    let unknown = manifix(&["explain", "nope"], dir.path());
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("manifix rules"),
        "{}",
        unknown.stderr
    );

    write(dir.path(), "k.yaml", OVERLAY.as_bytes());
    let coloured = manifix(
        &[
            "--color",
            "always",
            "fix",
            "--dry-run",
            "--account",
            REAL,
            ".",
        ],
        dir.path(),
    );
    assert!(coloured.stdout.contains("\x1b[31m-"), "{}", coloured.stdout);
    let plain = manifix(&["fix", "--dry-run", "--account", REAL, "."], dir.path());
    assert!(!plain.stdout.contains('\x1b'));
    assert!(
        plain.stdout.starts_with("--- a/k.yaml\n+++ b/k.yaml\n"),
        "{}",
        plain.stdout
    );
}

#[test]
fn closed_pipe_is_not_an_error() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().expect("tempdir");
    let mut text = String::new();
    for i in 0..3000 {
        text.push_str(&format!(
            "---\nimage: 123456789012.dkr.ecr.us-east-1.amazonaws.com/app{i}:1\n"
        ));
    }
    write(dir.path(), "many.yaml", text.as_bytes());
    let mut child = Command::new(env!("CARGO_BIN_EXE_manifix"))
        .args(["check", "--account", REAL, "."])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

#[test]
fn configured_placeholders_and_every_kind_of_inline_patch_are_fixed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../base
patchesJson6902:
  - target:
      kind: Deployment
      name: api
    patch: |
      - op: replace
        path: /spec/template/spec/containers/0/image
        value: 000011112222.dkr.ecr.eu-west-1.amazonaws.com/api:1
patchesStrategicMerge:
  - |-
    apiVersion: v1
    kind: ServiceAccount
    metadata:
      name: api
      annotations:
        eks.amazonaws.com/role-arn: 'arn:aws:iam::123456789012:role/api' # irsa
";
    write(dir.path(), "overlay/kustomization.yaml", text.as_bytes());
    write(
        dir.path(),
        "manifix.yaml",
        b"accounts:\n  placeholders: [\"000011112222\"]\n",
    );
    let check = manifix(&["check", "--account", REAL, "."], dir.path());
    let found: Vec<&str> = check
        .stdout
        .lines()
        .filter(|l| l.contains("placeholder-account"))
        .collect();
    assert_eq!(found.len(), 2, "{}", check.stdout);
    assert!(
        found[0].starts_with("overlay/kustomization.yaml:12:16:"),
        "{}",
        found[0]
    );
    assert!(
        found[1].contains("IRSA role ARN of ServiceAccount `api`"),
        "{}",
        found[1]
    );
    let fix = manifix(&["fix", "--account", REAL, "."], dir.path());
    assert_eq!(fix.code, 0, "{}", fix.stderr);
    let expected = text
        .replace("000011112222", REAL)
        .replace(PLACEHOLDER, REAL);
    assert_eq!(
        String::from_utf8(read(dir.path(), "overlay/kustomization.yaml")).expect("utf-8"),
        expected
    );
}

#[test]
fn image_pull_secrets_for_ecr_images_are_reported_as_info() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "\
apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      imagePullSecrets:
        - name: ecr-token
      containers:
        - name: app
          image: 465002806239.dkr.ecr.ap-southeast-2.amazonaws.com/app:v1.0.0
---
apiVersion: v1
kind: Pod
spec:
  imagePullSecrets:
    - name: dockerhub
  containers:
    - name: app
      image: docker.io/acme/app:1.0
";
    write(dir.path(), "d.yaml", text.as_bytes());
    let run = manifix(&["check", "."], dir.path());
    assert_eq!(
        run.code, 0,
        "info findings do not fail the check: {}",
        run.stdout
    );
    let found = lines_of(&run.stdout, "image-pull-secrets-ecr");
    assert_eq!(found.len(), 1, "{}", run.stdout);
    assert!(found[0].starts_with("d.yaml:7:17:"), "{}", found[0]);
    assert!(found[0].contains("node's IAM role"), "{}", found[0]);
}

#[test]
fn ecr_registries_outside_the_cluster_region_are_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let image = |region: &str, name: &str| {
        format!("---\nkind: Pod\nspec:\n  containers:\n    - name: {name}\n      image: 465002806239.dkr.ecr.{region}.amazonaws.com/{name}:v1.0.0\n")
    };
    let text = [
        image("ap-southeast-2", "a"),
        image("ap-southeast-2", "b"),
        image("us-east-1", "c"),
        // AWS's own EKS registry is regional by design: never judged.
        "---\nkind: Pod\nspec:\n  containers:\n    - name: pause\n      image: 602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/pause:3.9\n".to_string(),
    ]
    .concat();
    write(dir.path(), "pods.yaml", text.as_bytes());
    let run = manifix(&["check", "."], dir.path());
    let found = lines_of(&run.stdout, "ecr-region");
    assert_eq!(found.len(), 1, "{}", run.stdout);
    assert!(found[0].starts_with("pods.yaml:18:14:"), "{}", found[0]);
    assert!(
        found[0].contains("is in us-east-1, but the cluster runs in ap-southeast-2"),
        "{}",
        found[0]
    );

    write(
        dir.path(),
        "manifix.yaml",
        b"cluster:\n  region: us-east-1\n",
    );
    let run = manifix(&["check", "."], dir.path());
    assert_eq!(
        lines_of(&run.stdout, "ecr-region").len(),
        2,
        "{}",
        run.stdout
    );
}

#[test]
fn accounts_that_differ_within_an_overlay_or_from_the_target_are_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "base/kustomization.yaml",
        b"resources:\n  - deploy.yaml\n  - sa.yaml\n",
    );
    write(
        dir.path(),
        "base/deploy.yaml",
        b"kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n        - name: a\n          image: 465002806239.dkr.ecr.ap-southeast-2.amazonaws.com/a:v1.0.0\n        - name: b\n          image: 465002806239.dkr.ecr.ap-southeast-2.amazonaws.com/b:v1.0.0\n",
    );
    write(
        dir.path(),
        "base/sa.yaml",
        b"apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: app\n  annotations:\n    eks.amazonaws.com/role-arn: arn:aws:iam::210987654321:role/app\n",
    );
    write(
        dir.path(),
        "overlays/prod/kustomization.yaml",
        b"resources:\n  - ../../base\n",
    );
    let run = manifix(&["check", "."], dir.path());
    let found = lines_of(&run.stdout, "account-mismatch");
    assert_eq!(found.len(), 1, "{}", run.stdout);
    assert!(found[0].starts_with("base/sa.yaml:6:46:"), "{}", found[0]);
    assert!(
        found[0].contains("the rest of overlay overlays/prod uses account 465002806239"),
        "{}",
        found[0]
    );

    // A stated target makes every other real account stand out, overlay or not.
    let run = manifix(&["check", "--account", "465002806239", "."], dir.path());
    let found = lines_of(&run.stdout, "account-mismatch");
    assert_eq!(found.len(), 1, "{}", run.stdout);
    assert!(
        found[0].contains("the target account is 465002806239 (from --account)"),
        "{}",
        found[0]
    );

    // An account meant to differ is listed in accounts.ignore.
    write(
        dir.path(),
        "manifix.yaml",
        b"accounts:\n  ignore: [\"210987654321\"]\n",
    );
    let run = manifix(&["check", "--account", "465002806239", "."], dir.path());
    assert!(!run.stdout.contains("account-mismatch"), "{}", run.stdout);
}

#[test]
fn irsa_wiring_mistakes_are_reported_per_overlay() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "base/kustomization.yaml",
        b"resources:\n  - deploy.yaml\n  - sa.yaml\n",
    );
    write(
        dir.path(),
        "base/deploy.yaml",
        b"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  template:\n    spec:\n      serviceAccountName: api\n      containers:\n        - name: api\n          image: reg.example.com/api:v1.0.0\n",
    );
    write(
        dir.path(),
        "base/sa.yaml",
        b"apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: api-sa\n  annotations:\n    eks.amazonaws.com/role-arn: arn:aws:iam::465002806239:role/api\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: worker\n  annotations:\n    eks.amazonaws.com/role-arn: \"arn:aws:iam::465002806239:api\"\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: templated\n  annotations:\n    eks.amazonaws.com/role-arn: ${ROLE_ARN}\n",
    );
    write(
        dir.path(),
        "overlays/prod/kustomization.yaml",
        b"namespace: prod\nresources:\n  - ../../base\n",
    );
    let run = manifix(&["check", "."], dir.path());
    let found = lines_of(&run.stdout, "irsa-service-account");
    // Missing `api`; unused roles on api-sa, worker and templated; worker's malformed ARN.
    assert_eq!(found.len(), 5, "{}", run.stdout);
    assert!(
        found[0].starts_with("base/deploy.yaml:8:27:"),
        "{}",
        found[0]
    );
    assert!(
        found[0]
            .contains("overlay overlays/prod defines no ServiceAccount `api` in namespace `prod`"),
        "{}",
        found[0]
    );
    assert!(
        found[1].starts_with("base/sa.yaml:6:33:")
            && found[1].contains("`api-sa`")
            && found[1].contains("no workload"),
        "{}",
        found[1]
    );
    assert!(
        found
            .iter()
            .any(|l| l.contains("`worker`") && l.contains("no workload")),
        "{}",
        run.stdout
    );
    assert!(
        found
            .iter()
            .any(|l| l.contains("is not a well-formed IAM role ARN")
                && l.contains("arn:aws:iam::465002806239:api")),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("ROLE_ARN"),
        "a substituted value is not judged: {}",
        run.stdout
    );
    assert_eq!(run.code, 1);
}

#[test]
fn terraform_node_role_policy_is_checked_for_the_four_ecr_actions() {
    let seed = manifix(&["check", "."], &fixture("seed-gitops"));
    assert!(
        seed.stdout.contains("hm-infra-live/main.tf:95:1: node-role-ecr: aws_iam_role_policy.node_group_ecr_access gives the node role all four ECR pull actions"),
        "{}",
        seed.stdout
    );

    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "infra/iam.tf",
        b"data \"aws_iam_policy_document\" \"pull\" {\n  statement {\n    actions   = [\"ecr:GetAuthorizationToken\", \"ecr:Batch*\"]\n    resources = [\"*\"]\n  }\n}\n\nresource \"aws_iam_role_policy\" \"nodes\" {\n  role   = aws_iam_role.eks_node.name\n  policy = data.aws_iam_policy_document.pull.json\n}\n",
    );
    // Not valid HCL: one that may grant the node role (its text is kept for the grants) and
    // one that cannot (checked as it is read, its text not kept); both are said so alike.
    write(dir.path(), "infra/broken.tf", b"resource \"x\" {\n");
    write(
        dir.path(),
        "infra/broken-iam.tf",
        b"resource \"aws_iam_role_policy\" \"x\" {\n",
    );
    let run = manifix(&["check", "."], dir.path());
    for broken in ["infra/broken.tf", "infra/broken-iam.tf"] {
        let warning = format!("{broken}: warning: not valid HCL");
        assert!(run.stderr.contains(&warning), "{broken}: {}", run.stderr);
    }
    assert_eq!(
        run.stderr
            .matches("; its IAM policies were not checked")
            .count(),
        2,
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("infra/iam.tf:8:1: node-role-ecr: aws_iam_role_policy.nodes attaches data.aws_iam_policy_document.pull to the node role without ecr:GetDownloadUrlForLayer"),
        "{}",
        run.stdout
    );
}

/// A name reached through several chains of one overlay is reported at the site the first
/// chain found (as kustomize lists the resources): here `comp-a` (namespace `x`) comes
/// before `comp-b`, so the first Deployment is the one in `x`, not the second, whose own
/// namespace is `x` too.
#[test]
fn irsa_site_of_a_name_reached_by_several_chains_is_the_first_chains() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "base/deploy.yaml",
        b"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: one\nspec:\n  template:\n    spec:\n      serviceAccountName: sa\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: two\n  namespace: x\nspec:\n  template:\n    spec:\n      serviceAccountName: sa\n",
    );
    write(
        dir.path(),
        "base/kustomization.yaml",
        b"resources:\n  - deploy.yaml\n",
    );
    write(
        dir.path(),
        "comp-a/kustomization.yaml",
        b"namespace: x\nresources:\n  - ../base\n",
    );
    write(
        dir.path(),
        "comp-b/kustomization.yaml",
        b"resources:\n  - ../base\n",
    );
    write(
        dir.path(),
        "root/kustomization.yaml",
        b"resources:\n  - ../comp-a\n  - ../comp-b\n",
    );
    let run = manifix(&["check", "."], dir.path());
    let found = lines_of(&run.stdout, "irsa-service-account");
    assert_eq!(found.len(), 2, "{}", run.stdout);
    for namespace in ["default", "x"] {
        assert!(
            found.iter().any(|l| l.starts_with("base/deploy.yaml:8:27:")
                && l.contains(&format!("in namespace `{namespace}`"))),
            "{namespace}: {}",
            run.stdout
        );
    }
}

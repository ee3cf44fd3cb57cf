//! Recipes from the command line: the built-ins, a user's own file with rewrite steps and path
//! scopes (through `fix --recipe` and `bulk`), pinning from git, and errors that name the line
//! and the field.

mod common;

use common::git::{git, make_app_repo};
use common::{manifix, PLACEHOLDER, REAL};
use std::path::Path;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

const OLD_HOST: &str = "111111111111.dkr.ecr.us-east-1.amazonaws.com";

/// A repository whose images live in account 111111111111, us-east-1.
fn legacy_repo(dir: &Path) {
    write(
        &dir.join("apps/web/deployment.yaml"),
        &format!(
            "kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n        - name: web # the front end\n          image: \"{OLD_HOST}/team/web:v1.2.0\"\n        - name: proxy\n          image: docker.io/envoyproxy/envoy:v1.30.1\n"
        ),
    );
    write(
        &dir.join("apps/web/serviceaccount.yaml"),
        "kind: ServiceAccount\nmetadata:\n  name: web\n  annotations:\n    eks.amazonaws.com/role-arn: arn:aws:iam::111111111111:role/web\n",
    );
    write(
        &dir.join("apps/web/queue.yaml"),
        "kind: ConfigMap\ndata:\n  QUEUE: arn:aws:sqs:us-east-1:111111111111:orders\n",
    );
    write(
        &dir.join("legacy/old.yaml"),
        &format!("kind: Pod\nspec:\n  containers:\n    - image: {OLD_HOST}/team/old:v0.1.0\n"),
    );
    git(dir, &["init", "-q"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "legacy"]);
}

#[test]
fn recipes_lists_the_builtins_and_prints_one() {
    let tmp = tempfile::tempdir().expect("tmp");
    let list = manifix(&["recipes"], tmp.path());
    assert_eq!(list.code, 0);
    for name in [
        "fix-placeholder-accounts",
        "pin-mutable-tags",
        "migrate-account",
        "migrate-ecr-region",
    ] {
        assert!(list.stdout.contains(name), "{name}: {}", list.stdout);
    }
    assert!(
        list.stdout.contains("--set from=... --set to=..."),
        "{}",
        list.stdout
    );
    let one = manifix(&["recipes", "migrate-account"], tmp.path());
    assert_eq!(one.code, 0);
    assert_eq!(
        one.stdout,
        std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/transforms/migrate-account.yaml"
        ))
        .unwrap()
    );
    for step in ["replace-account", "move-registry", "set-region", "pin-tags"] {
        let explained = manifix(&["explain", step], tmp.path());
        assert_eq!(explained.code, 0);
        assert!(
            explained.stdout.starts_with(&format!("{step} {{")),
            "{}",
            explained.stdout
        );
    }
    let missing = manifix(&["recipes", "no-such"], tmp.path());
    assert_eq!(missing.code, 2);
    assert!(
        missing
            .stderr
            .contains("no built-in recipe named \"no-such\""),
        "{}",
        missing.stderr
    );
}

#[test]
fn a_users_recipe_moves_registry_and_region_within_its_paths() {
    let tmp = tempfile::tempdir().expect("tmp");
    let repo = tmp.path().join("legacy");
    legacy_repo(&repo);
    write(
        &tmp.path().join("move.yaml"),
        "# our move to the new account and region\nname: move-to-sydney\ndescription: Move registry and region\nparams:\n  account: {required: true}\nsteps:\n  - move-registry:\n      from: 111111111111.dkr.ecr.us-east-1.amazonaws.com/team\n      to: ${account}.dkr.ecr.us-east-1.amazonaws.com/platform\n  - set-region: {from: us-east-1, to: ap-southeast-2}\n  - replace-account: {from: '111111111111', to: '${account}'}\npaths:\n  exclude: ['legacy/**']\n",
    );
    let before = common::snapshot_tree(&repo);
    let dry = manifix(
        &[
            "fix",
            "--dry-run",
            "--recipe",
            "../move.yaml",
            "--set",
            &format!("account={REAL}"),
            ".",
        ],
        &repo,
    );
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert_eq!(
        common::snapshot_tree(&repo),
        before,
        "a dry run writes nothing"
    );
    assert!(
        dry.stderr.contains("would fix 3 findings in 3 files"),
        "{}",
        dry.stderr
    );

    let fixed = manifix(
        &[
            "fix",
            "--recipe",
            "../move.yaml",
            "--set",
            &format!("account={REAL}"),
            ".",
        ],
        &repo,
    );
    assert_eq!(fixed.code, 0, "{}", fixed.stderr);
    let read = |p: &str| std::fs::read_to_string(repo.join(p)).unwrap();
    assert_eq!(
        read("apps/web/deployment.yaml"),
        format!(
            "kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n        - name: web # the front end\n          image: \"{REAL}.dkr.ecr.ap-southeast-2.amazonaws.com/platform/web:v1.2.0\"\n        - name: proxy\n          image: docker.io/envoyproxy/envoy:v1.30.1\n"
        )
    );
    assert_eq!(
        read("apps/web/serviceaccount.yaml"),
        format!("kind: ServiceAccount\nmetadata:\n  name: web\n  annotations:\n    eks.amazonaws.com/role-arn: arn:aws:iam::{REAL}:role/web\n")
    );
    assert_eq!(
        read("apps/web/queue.yaml"),
        format!("kind: ConfigMap\ndata:\n  QUEUE: arn:aws:sqs:ap-southeast-2:{REAL}:orders\n")
    );
    assert_eq!(
        read("legacy/old.yaml").as_bytes(),
        &before["legacy/old.yaml"][..],
        "excluded by paths"
    );
    let again = manifix(
        &[
            "fix",
            "--recipe",
            "../move.yaml",
            "--set",
            &format!("account={REAL}"),
            ".",
        ],
        &repo,
    );
    assert!(
        again.stdout.contains("fixed 0 findings in 0 files"),
        "{}",
        again.stdout
    );

    // The built-in migrate-account, through bulk, with the diff shown.
    let other = tmp.path().join("fleet/other");
    legacy_repo(&other);
    let bulk = manifix(
        &[
            "bulk",
            "--recipe",
            "migrate-account",
            "--set",
            "from=111111111111",
            "--set",
            &format!("to={REAL}"),
            "--repos",
            "fleet",
            "--dry-run",
            "--diff",
        ],
        tmp.path(),
    );
    assert_eq!(bulk.code, 0, "{}{}", bulk.stdout, bulk.stderr);
    assert!(
        bulk.stdout.contains("+++ b/other/legacy/old.yaml"),
        "{}",
        bulk.stdout
    );
    assert!(
        bulk.stdout.contains(&format!(
            "+    - image: {REAL}.dkr.ecr.us-east-1.amazonaws.com/team/old:v0.1.0"
        )),
        "{}",
        bulk.stdout
    );
    assert!(
        bulk.stdout
            .contains("other      4         4  -       would-change"),
        "{}",
        bulk.stdout
    );
}

#[test]
fn pin_mutable_tags_pins_each_repository_from_its_sources() {
    let tmp = tempfile::tempdir().expect("tmp");
    let app = make_app_repo(tmp.path());
    let repo = tmp.path().join("fleet/gitops");
    write(
        &repo.join("apps/train/kustomization.yaml"),
        &format!("images:\n  - name: train\n    newName: {REAL}.dkr.ecr.ap-southeast-2.amazonaws.com/ml-fashion-recommender/train\n    newTag: main-latest # follows main\n"),
    );
    write(
        &repo.join("manifix.yaml"),
        &format!(
            "sources:\n  - image: \"*/ml-fashion-recommender/*\"\n    repo: {}\n",
            app.path.display()
        ),
    );
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "gitops"]);
    let run = |extra: &[&str]| {
        let mut args = vec![
            "bulk",
            "--recipe",
            "pin-mutable-tags",
            "--repos",
            "fleet",
            "--dry-run",
            "--diff",
        ];
        args.extend(extra);
        manifix(&args, tmp.path())
    };
    let default = run(&[]);
    assert_eq!(default.code, 0, "{}{}", default.stdout, default.stderr);
    assert!(
        default.stdout.contains(&format!(
            "+    newTag: main-{} # follows main",
            app.main_sha
        )),
        "{}",
        default.stdout
    );
    let short = run(&["--set", "template={branch}-{sha7}"]);
    assert!(
        short.stdout.contains(&format!(
            "+    newTag: main-{} # follows main",
            &app.main_sha[..7]
        )),
        "{}",
        short.stdout
    );
    // Placeholders are another recipe's business.
    assert!(!default.stdout.contains(PLACEHOLDER));
}

#[test]
fn a_malformed_recipe_names_the_line_and_the_field_and_nothing_runs() {
    let tmp = tempfile::tempdir().expect("tmp");
    let repo = tmp.path().join("fleet/r");
    legacy_repo(&repo);
    write(
        &tmp.path().join("bad.yaml"),
        "name: bad\ndescription: d\nsteps:\n  - replace-account:\n      from: '111111111111'\n      to: 4650028062\n",
    );
    let before = common::snapshot_tree(&repo);
    let run = manifix(
        &["bulk", "--recipe", "bad.yaml", "--repos", "fleet"],
        tmp.path(),
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("bad.yaml:6:7: steps[0].replace-account.to: \"4650028062\" is not an AWS account ID (12 digits)"),
        "{}",
        run.stderr
    );
    assert_eq!(common::snapshot_tree(&repo), before);

    let unknown = manifix(
        &["bulk", "--recipe", "migrate-acount", "--repos", "fleet"],
        tmp.path(),
    );
    assert_eq!(unknown.code, 2);
    assert!(
        unknown
            .stderr
            .contains("built-ins: fix-placeholder-accounts"),
        "{}",
        unknown.stderr
    );

    let unset = manifix(
        &["bulk", "--recipe", "migrate-account", "--repos", "fleet"],
        tmp.path(),
    );
    assert_eq!(unset.code, 2);
    assert!(
        unset.stderr.contains("needs --set from=..."),
        "{}",
        unset.stderr
    );

    // A report from another migration is not resumed (nor overwritten).
    let report = tmp.path().join("report.json");
    let first = manifix(
        &[
            "bulk",
            "--recipe",
            "fix-placeholder-accounts",
            "--set",
            &format!("account={REAL}"),
            "--repos",
            "fleet",
            "--dry-run",
            "--report",
            report.to_str().unwrap(),
        ],
        tmp.path(),
    );
    assert_eq!(first.code, 0, "{}", first.stderr);
    let saved = std::fs::read(&report).unwrap();
    let other = manifix(
        &[
            "bulk",
            "--recipe",
            "migrate-account",
            "--set",
            "from=111111111111",
            "--set",
            &format!("to={REAL}"),
            "--repos",
            "fleet",
            "--dry-run",
            "--report",
            report.to_str().unwrap(),
        ],
        tmp.path(),
    );
    assert_eq!(other.code, 2);
    assert!(
        other
            .stderr
            .contains("written by another run (recipe fix-placeholder-accounts"),
        "{}",
        other.stderr
    );
    assert_eq!(std::fs::read(&report).unwrap(), saved);
}

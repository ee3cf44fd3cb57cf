//! `manifix bulk` over fleets of real git repositories: generated repositories (some broken),
//! branches checked with git itself, resumable reports, shards, clone URLs and recipes.

mod common;

use common::git::{bare_clone, git};
use common::{manifix, snapshot_tree, PLACEHOLDER, REAL};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const BRANCH: &str = "manifix/fix";
const AUTHOR: &str = "Fleet Bot <bot@example.com>";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Two placeholders to fix; the real account appears once, so it is inferred.
    Normal,
    /// As normal, plus a malformed YAML file.
    Broken,
    /// Nothing to fix.
    Clean,
    /// `git init` and files, but no commit.
    Unborn,
    /// The branch bulk wants already exists (at HEAD).
    BranchExists,
}

fn kind(i: usize) -> Kind {
    match i {
        7 | 27 => Kind::Unborn,
        9 | 39 => Kind::BranchExists,
        _ if i % 10 == 3 => Kind::Broken,
        _ if i % 10 == 5 => Kind::Clean,
        _ => Kind::Normal,
    }
}

/// The repository's id in bulk output: its path under the fleet directory.
fn id(i: usize) -> String {
    format!("team-{}/repo-{i:02}", i % 3)
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// One small kustomize application in a git repository.
fn make_repo(dir: &Path, i: usize, kind: Kind) {
    let acct = if kind == Kind::Clean {
        REAL
    } else {
        PLACEHOLDER
    };
    write(
        &dir.join(format!("apps/svc-{i}/base/deployment.yaml")),
        &format!(
            "# svc-{i}: the service itself and its log agent\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: svc-{i}\nspec:\n  template:\n    spec:\n      serviceAccountName: svc-{i}\n      containers:\n        - name: app\n          image: {acct}.dkr.ecr.ap-southeast-2.amazonaws.com/team/svc-{i}:v1.{i}.0 # pinned by CI\n        - name: log-agent\n          image: \"{REAL}.dkr.ecr.ap-southeast-2.amazonaws.com/shared/log-agent:v2.1.0\"\n"
        ),
    );
    write(
        &dir.join(format!("apps/svc-{i}/base/serviceaccount.yaml")),
        &format!(
            "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: svc-{i}\n  annotations:\n    eks.amazonaws.com/role-arn: 'arn:aws:iam::{acct}:role/svc-{i}'\n"
        ),
    );
    write(
        &dir.join(format!("apps/svc-{i}/base/kustomization.yaml")),
        "resources:\n  - deployment.yaml\n  - serviceaccount.yaml\n",
    );
    if kind == Kind::Broken {
        write(
            &dir.join(format!("apps/svc-{i}/base/broken.yaml")),
            "data: [unclosed\n",
        );
    }
    git(dir, &["init", "-q"]);
    if kind == Kind::Unborn {
        return;
    }
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "initial manifests"]);
    if kind == Kind::BranchExists {
        git(dir, &["branch", BRANCH]);
    }
}

/// `n` repositories under `root/fleet`, nested one directory deep.
fn fleet(root: &Path, n: usize) -> PathBuf {
    let fleet = root.join("fleet");
    for i in 0..n {
        make_repo(&fleet.join(id(i)), i, kind(i));
    }
    fleet
}

fn report(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("report")).expect("json")
}

fn records(report: &Value) -> BTreeMap<String, Value> {
    report["repos"]
        .as_array()
        .expect("repos")
        .iter()
        .map(|r| (r["repo"].as_str().expect("repo").to_string(), r.clone()))
        .collect()
}

fn branch_tips(fleet: &Path, n: usize) -> BTreeMap<String, String> {
    (0..n)
        .filter(|i| matches!(kind(*i), Kind::Normal | Kind::Broken | Kind::BranchExists))
        .filter_map(|i| {
            let out = std::process::Command::new("git")
                .args(["rev-parse", "--verify", "-q", BRANCH])
                .current_dir(fleet.join(id(i)))
                .output()
                .ok()?;
            Some((
                id(i),
                String::from_utf8_lossy(&out.stdout).trim().to_string(),
            ))
        })
        .collect()
}

#[test]
fn fifty_repositories_on_a_branch_with_failures_isolated_and_a_resumable_report() {
    let tmp = tempfile::tempdir().expect("tmp");
    let fleet = fleet(tmp.path(), 50);
    let before = snapshot_tree(&fleet);
    let report_path = tmp.path().join("report.json");
    let args = [
        "bulk",
        "--recipe",
        "fix-placeholder-accounts",
        "--repos",
        fleet.to_str().unwrap(),
        "--branch",
        BRANCH,
        "--author",
        AUTHOR,
        "--jobs",
        "3",
        "--report",
        report_path.to_str().unwrap(),
    ];
    let run = manifix(&args, tmp.path());
    assert_eq!(
        run.code, 2,
        "failures make exit 2\n{}{}",
        run.stdout, run.stderr
    );
    let first = report(&report_path);
    let recs = records(&first);
    assert_eq!(recs.len(), 50);
    assert_eq!(first["recipe"], "fix-placeholder-accounts");
    assert_eq!(first["mode"], "branch");

    for i in 0..50 {
        let r = &recs[&id(i)];
        let dir = fleet.join(id(i));
        match kind(i) {
            Kind::Unborn => {
                assert_eq!(r["status"], "failed", "{r}");
                assert!(
                    r["reason"].as_str().unwrap().contains("no commit yet"),
                    "{r}"
                );
            }
            Kind::BranchExists => {
                assert_eq!(r["status"], "failed", "{r}");
                assert!(
                    r["reason"].as_str().unwrap().contains("already exists"),
                    "{r}"
                );
                assert_eq!(
                    git(&dir, &["rev-parse", BRANCH]),
                    git(&dir, &["rev-parse", "HEAD"]),
                    "an existing branch is never moved without --force"
                );
            }
            Kind::Clean => {
                assert_eq!(r["status"], "unchanged", "{r}");
                assert_eq!(r["findings"], 0);
                let branches = git(&dir, &["branch", "--list", BRANCH]);
                assert!(branches.is_empty(), "no branch without fixes");
            }
            Kind::Normal | Kind::Broken => {
                assert_eq!(r["status"], "committed", "{r}");
                assert_eq!(r["files_changed"], 2, "{r}");
                assert_eq!(r["findings"], 2, "{r}");
                assert_eq!(r["branch"], BRANCH);
                assert_eq!(
                    r["commit"].as_str(),
                    Some(git(&dir, &["rev-parse", BRANCH]).as_str())
                );
                assert_eq!(
                    git(&dir, &["rev-parse", &format!("{BRANCH}^")]),
                    git(&dir, &["rev-parse", "HEAD"])
                );
                assert_eq!(
                    git(&dir, &["log", "-1", "--format=%an <%ae>", BRANCH]),
                    AUTHOR
                );
                // The branch is HEAD with exactly the placeholder digits replaced.
                let changed = git(&dir, &["diff", "--name-only", "HEAD", BRANCH]);
                let changed: Vec<&str> = changed.lines().collect();
                assert_eq!(changed.len(), 2, "{changed:?}");
                for path in changed {
                    let old = git(&dir, &["show", &format!("HEAD:{path}")]);
                    let new = git(&dir, &["show", &format!("{BRANCH}:{path}")]);
                    assert_eq!(new, old.replace(PLACEHOLDER, REAL), "{}:{path}", id(i));
                }
                if kind(i) == Kind::Broken {
                    let errors = r["errors"].as_array().expect("errors");
                    assert_eq!(errors.len(), 1, "{r}");
                    let e = errors[0].as_str().unwrap();
                    assert!(
                        e.starts_with(&format!(
                            "apps/svc-{i}/base/broken.yaml:1:7: unclosed bracket"
                        )),
                        "{e}"
                    );
                } else {
                    assert!(r.get("errors").is_none(), "{r}");
                }
            }
        }
        if kind(i) != Kind::Unborn {
            assert_eq!(git(&dir, &["status", "--porcelain"]), "", "{}", id(i));
        }
    }
    assert_eq!(
        snapshot_tree(&fleet)
            .into_iter()
            .filter(|(p, _)| !p.contains("/.git/"))
            .collect::<BTreeMap<_, _>>(),
        before
            .into_iter()
            .filter(|(p, _)| !p.contains("/.git/"))
            .collect::<BTreeMap<_, _>>(),
        "working trees are never touched by --branch"
    );
    assert!(run.stdout.contains("REPO"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("50 repositories: 41 committed, 4 failed, 5 unchanged"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("team-1/repo-07: HEAD has no commit yet"),
        "{}",
        run.stdout
    );

    // Resume: what the report holds as done is skipped; the failures are tried again.
    let tips = branch_tips(&fleet, 50);
    let again = manifix(&args, tmp.path());
    assert_eq!(again.code, 2);
    assert!(
        again
            .stderr
            .contains("46 already done in the report, skipped"),
        "{}",
        again.stderr
    );
    assert_eq!(
        again.stdout.matches("(done earlier)").count(),
        46,
        "{}",
        again.stdout
    );
    assert_eq!(
        branch_tips(&fleet, 50),
        tips,
        "a resumed run commits nothing new"
    );
    assert_eq!(records(&report(&report_path)), recs);

    // Without the report every repository is looked at again, and the fixes already on the
    // branch are recognised: still no new commit.
    let fresh = manifix(&args[..args.len() - 2], tmp.path());
    assert_eq!(fresh.code, 2);
    assert_eq!(
        fresh.stdout.matches(" committed").count(),
        42,
        "{}",
        fresh.stdout
    );
    assert_eq!(branch_tips(&fleet, 50), tips);
}

#[test]
fn writing_in_place_then_again_changes_nothing_the_second_time() {
    let tmp = tempfile::tempdir().expect("tmp");
    let fleet = fleet(tmp.path(), 12);
    let args = [
        "bulk",
        "--recipe",
        "fix-placeholder-accounts",
        "--repos",
        fleet.to_str().unwrap(),
        "--quiet",
    ];
    let first = manifix(&args, tmp.path());
    assert_eq!(
        first.code, 2,
        "the broken file is an error\n{}",
        first.stdout
    );
    assert!(
        first
            .stdout
            .contains("repo-00      2         2  -       changed"),
        "{}",
        first.stdout
    );
    let after_first = snapshot_tree(&fleet);
    let placeholders = after_first
        .iter()
        .filter(|(p, bytes)| {
            !p.contains("/.git/") && String::from_utf8_lossy(bytes).contains(PLACEHOLDER)
        })
        .count();
    assert_eq!(placeholders, 0, "every placeholder was replaced");

    let second = manifix(&args, tmp.path());
    assert_eq!(second.code, 2, "{}", second.stdout);
    assert!(!second.stdout.contains(" changed"), "{}", second.stdout);
    assert!(
        second.stdout.contains("12 repositories: 12 unchanged"),
        "{}",
        second.stdout
    );
    assert_eq!(
        snapshot_tree(&fleet),
        after_first,
        "an idempotent re-run changes no byte"
    );
}

#[test]
fn shards_partition_the_fleet_exactly_and_stably() {
    let tmp = tempfile::tempdir().expect("tmp");
    let fleet = fleet(tmp.path(), 50);
    let ids_in = |name: &str, shard: Option<&str>| -> BTreeSet<String> {
        let path = tmp.path().join(name);
        let mut args = vec![
            "bulk",
            "--recipe",
            "fix-placeholder-accounts",
            "--repos",
            fleet.to_str().unwrap(),
            "--dry-run",
            "--report",
            path.to_str().unwrap(),
        ];
        if let Some(s) = shard {
            args.extend(["--shard", s]);
        }
        let run = manifix(&args, tmp.path());
        assert!(run.code == 0 || run.code == 2, "{}", run.stderr);
        records(&report(&path)).into_keys().collect()
    };
    let all = ids_in("all.json", None);
    assert_eq!(all.len(), 50);
    let shards: Vec<BTreeSet<String>> = (1..=3)
        .map(|k| ids_in(&format!("s{k}.json"), Some(&format!("{k}/3"))))
        .collect();
    let mut union = BTreeSet::new();
    for (k, shard) in shards.iter().enumerate() {
        assert!(!shard.is_empty(), "shard {} is empty", k + 1);
        for id in shard {
            assert!(union.insert(id.clone()), "{id} is in two shards");
        }
    }
    assert_eq!(union, all, "the shards together cover every repository");
    assert_eq!(
        ids_in("s1-again.json", Some("1/3")),
        shards[0],
        "shards are stable"
    );

    let bad = manifix(
        &[
            "bulk",
            "--recipe",
            "fix-placeholder-accounts",
            "--repos",
            fleet.to_str().unwrap(),
            "--dry-run",
            "--shard",
            "0/3",
        ],
        tmp.path(),
    );
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("shards count from 1"), "{}", bad.stderr);
}

#[test]
fn clone_urls_are_cloned_into_the_cache_fetched_again_and_pushed() {
    let tmp = tempfile::tempdir().expect("tmp");
    let work = tmp.path().join("work");
    std::fs::create_dir_all(tmp.path().join("served")).unwrap();
    make_repo(&work, 1, Kind::Normal);
    let bare = bare_clone(&work, &tmp.path().join("served"), "svc");
    let url = format!("file://{}", bare.display());
    let local = tmp.path().join("local");
    make_repo(&local, 2, Kind::Normal);
    let local_remote = bare_clone(&local, &tmp.path().join("served"), "local");
    git(
        &local,
        &["remote", "add", "origin", local_remote.to_str().unwrap()],
    );
    std::fs::write(
        tmp.path().join("repos.txt"),
        format!("# the fleet\n{url}\nlocal   # beside the list\n"),
    )
    .unwrap();
    let cache = tmp.path().join("cache");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "bulk",
            "--recipe",
            "fix-placeholder-accounts",
            "--repos",
            "repos.txt",
            "--cache",
            cache.to_str().unwrap(),
        ];
        args.extend(extra);
        manifix(&args, tmp.path())
    };

    let written = run(&[]);
    assert_eq!(written.code, 2);
    assert!(
        written.stderr.contains("is a clone URL"),
        "{}",
        written.stderr
    );
    assert!(!cache.exists(), "nothing is cloned for a refused run");

    let pushed = run(&["--branch", BRANCH, "--push", "origin", "--author", AUTHOR]);
    assert_eq!(pushed.code, 0, "{}{}", pushed.stdout, pushed.stderr);
    assert!(pushed.stdout.contains("pushed"), "{}", pushed.stdout);
    let remote_tip = git(&bare, &["rev-parse", BRANCH]);
    assert_eq!(
        git(&bare, &["rev-parse", &format!("{BRANCH}^")]),
        git(&bare, &["rev-parse", "main"])
    );
    let path = "apps/svc-1/base/serviceaccount.yaml";
    assert!(git(&bare, &["show", &format!("{BRANCH}:{path}")])
        .contains(&format!("arn:aws:iam::{REAL}:role/svc-1")));
    assert_eq!(
        std::fs::read_dir(&cache)
            .unwrap()
            .filter(|e| !e
                .as_ref()
                .unwrap()
                .path()
                .to_string_lossy()
                .ends_with(".lock"))
            .count(),
        1,
        "one clone in the cache (beside its lock file)"
    );
    assert_eq!(
        git(&local, &["rev-parse", &format!("{BRANCH}^")]),
        git(&local, &["rev-parse", "HEAD"])
    );

    // The remote moves on: the next run fetches it and branches from the new main.
    std::fs::write(
        work.join("apps/svc-1/base/extra.yaml"),
        format!("image: {PLACEHOLDER}.dkr.ecr.ap-southeast-2.amazonaws.com/team/extra:v1\n"),
    )
    .unwrap();
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-qm", "extra"]);
    git(&work, &["push", "-q", bare.to_str().unwrap(), "main"]);
    let next = run(&[
        "--branch",
        "manifix/fix-2",
        "--push",
        "origin",
        "--author",
        AUTHOR,
    ]);
    assert_eq!(next.code, 0, "{}{}", next.stdout, next.stderr);
    let new_main = git(&bare, &["rev-parse", "main"]);
    assert_eq!(git(&bare, &["rev-parse", "manifix/fix-2^"]), new_main);
    assert!(git(&bare, &["show", "manifix/fix-2:apps/svc-1/base/extra.yaml"]).contains(REAL));
    assert_eq!(
        git(&bare, &["rev-parse", BRANCH]),
        remote_tip,
        "the first branch is left alone"
    );
}

/// On a terminal bulk draws a progress line; it once deadlocked there (the workers waited for
/// the stderr lock the caller holds). `script` gives the run a pseudo-terminal.
#[test]
fn progress_line_on_a_terminal_and_the_run_finishes() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let fleet = fleet(tmp.path(), 4);
    let command = format!(
        "{} bulk --recipe fix-placeholder-accounts --repos {} --dry-run --jobs 2",
        env!("CARGO_BIN_EXE_manifix"),
        fleet.display()
    );
    let mut child = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("script runs");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("manifix bulk did not finish on a terminal");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("\r\x1b[2K[4/4] "), "{text:?}");
    assert!(text.contains("4 repositories:"), "{text:?}");
}

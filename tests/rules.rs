//! Per-rule tests: every case folder under `tests/rules/<rule-id>/` is run through the built
//! binary and its output kept as an insta snapshot (`tests/snapshots/rules/`).
//!
//! A case is a folder `tests/rules/<rule-id>/<case>/` holding:
//!
//! - `repo/`      the repository manifix runs on (the root: paths in the output are relative to it);
//! - `args`       optional: extra arguments for `check` and `fix`, one per line (`#` comments);
//! - `fix-args`   optional: extra arguments for `fix` only (e.g. `--add-missing-overrides`);
//! - `git/<name>/` optional: files committed (one commit, fixed author and date, branch `main`)
//!   into a git repository at `../git/<name>` beside the copied `repo/`, for sources that pin
//!   mutable tags (`--source` or `sources:` in `repo/manifix.yaml` name it by that path).
//!
//! A case whose name starts with `clean-` is a negative case: its check must report nothing of
//! its rule. Every other case must report the rule at least once. A rule folder without cases
//! (the ECR rules, which need a registry) holds a `README.md` saying where its tests live.
//!
//! Each case runs on a temp copy, in `repo/`, with `--offline --color never` always added:
//! 1. `check .` must (or, for `clean-`, must not) report the rule;
//! 2. `fix --dry-run .` shows the diff;
//! 3. `fix .` writes: the files it changed must be exactly the files the diff named, each YAML
//!    one must still parse with libyaml-safer (with the same structure unless the case adds
//!    entries), and `check --format json .` afterwards must report no error about any of them;
//! 4. `fix --dry-run .` again must print no diff (the fix is idempotent).
//!
//! One snapshot per case, `tests/snapshots/rules/<rule-id>__<case>.snap`, holds the exit code,
//! stdout and stderr of steps 1-3 (the temp dir shown as `[TMP]`) and what `check` still reports
//! after the fix.
//!
//! New or changed snapshots: `INSTA_UPDATE=always cargo test --test rules`, then review them.

mod common;

use common::{copy_dir, manifix, snapshot_tree};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rules")
}

/// The rule ids `manifix rules` lists (the registry, seen from outside).
fn registry_ids() -> Vec<String> {
    let run = manifix(&["rules", "--color", "never"], &rules_dir());
    assert_eq!(run.code, 0, "manifix rules failed: {}", run.stderr);
    run.stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

struct Case {
    rule: String,
    name: String,
    dir: PathBuf,
}

fn sorted_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    out
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for rule_dir in sorted_dirs(&rules_dir()) {
        let rule = file_name(&rule_dir);
        for dir in sorted_dirs(&rule_dir) {
            out.push(Case {
                rule: rule.clone(),
                name: file_name(&dir),
                dir,
            });
        }
    }
    out
}

fn file_name(p: &Path) -> String {
    p.file_name().expect("name").to_string_lossy().into_owned()
}

fn args_file(path: &Path) -> Vec<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_string)
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn every_rule_has_a_fixture_folder() {
    let ids = registry_ids();
    assert!(ids.len() >= 8, "manifix rules listed too few: {ids:?}");
    let mut missing = Vec::new();
    for id in &ids {
        let dir = rules_dir().join(id);
        let has_case = dir.is_dir() && !sorted_dirs(&dir).is_empty();
        if !has_case && !dir.join("README.md").is_file() {
            missing.push(id.as_str());
        }
    }
    assert!(
        missing.is_empty(),
        "rules without a fixture folder under tests/rules/ (add tests/rules/<id>/<case>/repo/, \
         or a README.md saying where the rule is tested): {missing:?}"
    );
    let unknown: Vec<String> = sorted_dirs(&rules_dir())
        .iter()
        .map(|d| file_name(d))
        .filter(|name| !ids.contains(name))
        .collect();
    assert!(
        unknown.is_empty(),
        "folders under tests/rules/ that name no rule: {unknown:?}"
    );
}

#[test]
fn rule_cases() {
    let cases = cases();
    assert!(!cases.is_empty(), "no cases under tests/rules/");
    // Two at a time: the machine running CI has few cores and each case runs the binary ~6 times.
    let failures = std::sync::Mutex::new(Vec::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(case) = cases.get(i) else { break };
                let result = std::panic::catch_unwind(|| run_case(case));
                if let Err(panic) = result {
                    let why = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    failures
                        .lock()
                        .unwrap()
                        .push(format!("tests/rules/{}/{}: {why}", case.rule, case.name));
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} rule cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

fn run_case(case: &Case) {
    let label = format!("{}/{}", case.rule, case.name);
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("repo");
    let src = case.dir.join("repo");
    assert!(src.is_dir(), "{label}: no repo/ folder");
    copy_dir(&src, &root);
    let git_dir = case.dir.join("git");
    if git_dir.is_dir() {
        for repo in sorted_dirs(&git_dir) {
            let to = tmp.path().join("git").join(file_name(&repo));
            copy_dir(&repo, &to);
            common::git::git(&to, &["init", "-q"]);
            common::git::git(&to, &["add", "-A"]);
            common::git::git(
                &to,
                &["commit", "-q", "-m", "Build the image from this commit"],
            );
        }
    }

    let args = args_file(&case.dir.join("args"));
    let fix_args = args_file(&case.dir.join("fix-args"));
    let run = |cmd: &[&str], extra: &[String]| {
        let mut all: Vec<&str> = cmd.to_vec();
        all.extend(["--offline", "--color", "never"]);
        all.extend(args.iter().map(String::as_str));
        all.extend(extra.iter().map(String::as_str));
        all.push(".");
        manifix(&all, &root)
    };
    let clean = |s: &str| s.replace(&tmp.path().display().to_string(), "[TMP]");

    // 1. The findings.
    let check = run(&["check"], &[]);
    let marker = format!(": {}: ", case.rule);
    let reported = check.stdout.lines().any(|l| l.contains(&marker));
    if case.name.starts_with("clean-") {
        assert!(
            !reported,
            "{label}: a clean- case reported {}:\n{}",
            case.rule, check.stdout
        );
    } else {
        assert!(
            reported,
            "{label}: the case does not trigger {}:\n{}",
            case.rule, check.stdout
        );
    }

    // 2. The diff.
    let dry = run(&["fix", "--dry-run"], &fix_args);
    // 3. The real fix: exactly the diffed files change, and each still parses.
    let before = snapshot_tree(&root);
    let fix = run(&["fix"], &fix_args);
    assert_ne!(fix.code, -1, "{label}: fix was killed");
    let after = snapshot_tree(&root);
    let changed: BTreeSet<String> = after
        .iter()
        .filter(|(path, bytes)| before.get(*path) != Some(*bytes))
        .map(|(path, _)| path.clone())
        .collect();
    let removed: Vec<&String> = before.keys().filter(|p| !after.contains_key(*p)).collect();
    assert!(
        removed.is_empty(),
        "{label}: fix removed files: {removed:?}"
    );
    let diffed: BTreeSet<String> = dry
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("+++ b/"))
        .map(|p| p.split('\t').next().unwrap_or(p).to_string())
        .collect();
    assert_eq!(
        changed, diffed,
        "{label}: the files fix wrote differ from the files fix --dry-run showed\nfix stderr: {}",
        fix.stderr
    );
    let adds_entries = fix_args.iter().any(|a| a == "--add-missing-overrides");
    for path in &changed {
        if !(path.ends_with(".yaml") || path.ends_with(".yml")) {
            continue;
        }
        let old = String::from_utf8(before[path].clone()).expect("utf-8 before");
        let new = String::from_utf8(after[path].clone())
            .unwrap_or_else(|_| panic!("{label}: {path} is not UTF-8 after fix"));
        let new_events = yaml_shape(&new)
            .unwrap_or_else(|e| panic!("{label}: {path} does not parse after fix (libyaml): {e}"));
        if let Ok(old_events) = yaml_shape(&old) {
            assert!(
                adds_entries || old_events == new_events,
                "{label}: fix changed the YAML structure of {path}, not only values"
            );
        }
    }
    if !changed.is_empty() {
        let recheck = run(&["check", "--format", "json"], &[]);
        let json: serde_json::Value = serde_json::from_str(&recheck.stdout)
            .unwrap_or_else(|e| panic!("{label}: check --format json after fix: {e}"));
        for error in json["errors"].as_array().into_iter().flatten() {
            let text = error.to_string();
            for path in &changed {
                assert!(
                    !text.contains(path.as_str()),
                    "{label}: after fix, check reports an error in {path}: {text}"
                );
            }
        }
    }

    // 4. Idempotent: nothing left to change.
    let again = run(&["fix", "--dry-run"], &fix_args);
    assert!(
        again.stdout.trim().is_empty(),
        "{label}: a second fix --dry-run still changes something:\n{}",
        again.stdout
    );

    // The snapshot: findings, the diff, and what check still reports once the fix is written.
    let after_fix = if changed.is_empty() {
        "[fix changed nothing]".to_string()
    } else {
        let check = run(&["check"], &[]);
        format!(
            "exit {}\n{}",
            check.code,
            section("stdout", &clean(&check.stdout))
        )
    };
    let mut snapshot = String::new();
    let shown = |extra: &[String]| -> String {
        args.iter().chain(extra).map(|a| format!("{a} ")).collect()
    };
    for (title, out) in [
        (format!("check {}.", shown(&[])), &check),
        (format!("fix --dry-run {}.", shown(&fix_args)), &dry),
        (format!("fix {}.", shown(&fix_args)), &fix),
    ] {
        snapshot.push_str(&format!(
            "$ manifix {title}\nexit {}\n{}\n{}\n\n",
            out.code,
            section("stdout", &clean(&out.stdout)),
            section("stderr", &clean(&out.stderr)),
        ));
    }
    snapshot.push_str(&format!(
        "$ manifix check {}. (after the fix)\n{after_fix}\n",
        shown(&[])
    ));
    insta::with_settings!({
        snapshot_path => "snapshots/rules",
        prepend_module_to_snapshot => false,
        omit_expression => true,
        description => format!("tests/rules/{label}"),
    }, {
        insta::assert_snapshot!(format!("{}__{}", case.rule, case.name), snapshot);
    });
}

fn section(name: &str, text: &str) -> String {
    if text.is_empty() {
        format!("[{name}: empty]")
    } else {
        format!("[{name}]\n{}", text.trim_end_matches('\n'))
    }
}

/// The YAML's event kinds, scalar values left out: a value edit keeps it; a structure edit does
/// not. An error when libyaml cannot read the text.
fn yaml_shape(text: &str) -> Result<Vec<String>, String> {
    use libyaml_safer::{EventData, Parser};
    let mut parser = Parser::new();
    let mut bytes = text.as_bytes();
    parser.set_input_string(&mut bytes);
    let mut out = Vec::new();
    loop {
        let ev = parser.parse().map_err(|e| e.to_string())?;
        out.push(match ev.data {
            EventData::StreamEnd => break,
            EventData::StreamStart { .. } => continue,
            EventData::DocumentStart { .. } => "doc".to_string(),
            EventData::DocumentEnd { .. } => "/doc".to_string(),
            EventData::SequenceStart { .. } => "seq".to_string(),
            EventData::SequenceEnd => "/seq".to_string(),
            EventData::MappingStart { .. } => "map".to_string(),
            EventData::MappingEnd => "/map".to_string(),
            EventData::Alias { anchor } => format!("*{anchor}"),
            EventData::Scalar { .. } => "scalar".to_string(),
        });
    }
    Ok(out)
}

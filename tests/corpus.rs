//! Fidelity of the real binary over real public repositories (`tests/corpus`, see its
//! README): every `placeholder-account` finding sits on the digits of a placeholder account in
//! an ECR host or an ARN; `fix` changes exactly those digits and no other byte of the tree, is
//! idempotent, and leaves nothing for `check` to report; invalid YAML of the yaml-test-suite is
//! reported cleanly and never edited. Everything runs on temp copies: the corpus is never edited.

use regex::Regex;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus");
const SUITE: &str = "yaml-test-suite";
const REAL: &str = "465002806239";
const PLACEHOLDERS: &[&str] = &[
    "123456789012",
    "111122223333",
    "444455556666",
    "000000000000",
    "012345678901",
    "999999999999",
];
const RULE: &str = "placeholder-account";

/// Invalid yaml-test-suite cases granit-parser accepts; tests/yaml_suite.rs (ACCEPTED_INVALID)
/// explains why each is harmless. Any other invalid case must be reported as an error.
const ACCEPTED_INVALID: &[&str] = &["9C9N/in.yaml", "DK95/01/in.yaml", "QB6E/in.yaml"];

/// The account digits followed by the rest of an ECR registry host.
static ECR_AFTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com").expect("regex")
});
/// What precedes the account in an ARN: `arn:partition:service:region:`, ending at the digits.
static ARN_BEFORE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:$").expect("regex"));
static ERROR_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(.+?):(\d+):(\d+): error: .+$").expect("regex"));

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the real binary; whatever the input, it must not panic and must exit 0, 1 or 2.
fn manifix(args: &[&str], dir: &Path) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_manifix"))
        .args(["--color", "never"])
        .args(args)
        .arg(dir)
        .output()
        .expect("run manifix");
    let run = Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "manifix {args:?} {} panicked:\n{}",
        dir.display(),
        run.stderr
    );
    assert!(
        matches!(run.code, 0..=2),
        "manifix {args:?} {} exited {}:\n{}",
        dir.display(),
        run.code,
        run.stderr
    );
    run
}

/// The repository folders of the corpus (everything but the yaml-test-suite).
fn repositories() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(CORPUS)
        .expect("the corpus is missing: tests/corpus")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_dir() && !p.ends_with(SUITE))
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no repository folder in {CORPUS}");
    dirs
}

/// Copies a tree by content: the corpus must stay untouched (its files may be read-only) and
/// `fix` must be able to write.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let kind = entry.file_type().expect("file type");
        let target = to.join(entry.file_name());
        assert!(
            !kind.is_symlink(),
            "{}: symlinks are not expected in the corpus",
            entry.path().display()
        );
        if kind.is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::write(&target, std::fs::read(entry.path()).expect("read")).expect("write");
        }
    }
}

/// A temp copy of `src`, at `dir.path().join(<name of src>)`.
fn temp_copy(src: &Path) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join(src.file_name().expect("folder name"));
    copy_tree(src, &root);
    (dir, root)
}

/// Every file of the tree (any type), by `/`-separated path relative to `root`.
fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("read dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).expect("inside root");
                let rel = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>();
                out.insert(rel.join("/"), std::fs::read(&path).expect("read"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Byte offset of a 1-based line and column counted in characters; a leading BOM is not a column.
fn offset_of(text: &str, line: usize, column: usize) -> Option<usize> {
    let mut start = 0;
    for _ in 1..line {
        start += text[start..].find('\n')? + 1;
    }
    if line == 1 && text.starts_with('\u{feff}') {
        start = '\u{feff}'.len_utf8();
    }
    let rest = &text[start..];
    let skip = rest.char_indices().nth(column - 1).map(|(i, _)| i)?;
    Some(start + skip)
}

/// Why the 12 bytes at `at` are not a placeholder account in an ECR host or an ARN, if so.
fn not_a_placeholder(text: &str, at: usize) -> Option<String> {
    let digits = text.get(at..at + 12).unwrap_or("");
    if !PLACEHOLDERS.contains(&digits) {
        return Some(format!("{digits:?} is not a placeholder account"));
    }
    let before = &text[..at];
    let after = &text[at + 12..];
    if before.ends_with(|c: char| c.is_ascii_digit())
        || after.starts_with(|c: char| c.is_ascii_digit())
    {
        return Some("the digits are part of a longer number".into());
    }
    let in_ecr_host = ECR_AFTER.is_match(&text[at..]);
    let in_arn = ARN_BEFORE.is_match(before) && after.starts_with(':');
    (!in_ecr_host && !in_arn).then(|| "neither in an ECR host nor in an ARN".into())
}

struct Finding {
    path: String,
    line: usize,
    column: usize,
    message: String,
}

struct CheckReport {
    placeholders: Vec<Finding>,
    errors: usize,
    files: u64,
}

fn check_json(root: &Path) -> CheckReport {
    let out = manifix(&["check", "--format", "json"], root);
    let json: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: check output is not JSON ({e}):\n{}",
            root.display(),
            out.stdout
        )
    });
    let errors = json["errors"].as_array().expect("errors array").len();
    assert_eq!(
        out.code == 2,
        errors > 0,
        "{}: exit {} with {errors} file errors",
        root.display(),
        out.code
    );
    let placeholders = json["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .filter(|f| f["rule"] == RULE)
        .map(|f| Finding {
            path: f["path"].as_str().expect("path").to_string(),
            line: f["line"].as_u64().expect("line") as usize,
            column: f["column"].as_u64().expect("column") as usize,
            message: f["message"].as_str().unwrap_or("").to_string(),
        })
        .collect();
    let files = json["summary"]["files"].as_u64().expect("summary.files");
    CheckReport {
        placeholders,
        errors,
        files,
    }
}

/// Byte offsets of the findings, per file, each checked to sit on a placeholder; problems are
/// pushed to `problems`.
fn verified_offsets(
    before: &BTreeMap<String, Vec<u8>>,
    findings: &[Finding],
    problems: &mut Vec<String>,
) -> BTreeMap<String, BTreeSet<usize>> {
    let mut offsets: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    for f in findings {
        let at = format!("{}:{}:{}", f.path, f.line, f.column);
        let Some(text) = before
            .get(&f.path)
            .and_then(|b| std::str::from_utf8(b).ok())
        else {
            problems.push(format!(
                "{at}: finding in a file that is not in the tree or not UTF-8"
            ));
            continue;
        };
        let Some(offset) = offset_of(text, f.line, f.column) else {
            problems.push(format!("{at}: position is outside the file"));
            continue;
        };
        match not_a_placeholder(text, offset) {
            Some(why) => problems.push(format!("{at}: false finding, {why}: {}", f.message)),
            None => {
                offsets.entry(f.path.clone()).or_default().insert(offset);
            }
        }
    }
    offsets
}

/// The original bytes with the 12 bytes at each offset replaced by the real account.
fn expected_fix(original: &[u8], offsets: &BTreeSet<usize>) -> Vec<u8> {
    let mut out = original.to_vec();
    for &at in offsets {
        out[at..at + 12].copy_from_slice(REAL.as_bytes());
    }
    out
}

/// Files whose bytes differ between two snapshots (added and removed files included).
fn changed_files(a: &BTreeMap<String, Vec<u8>>, b: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}

/// Checks and fixes a temp copy of one repository, pushing problems; returns the number of
/// placeholder findings and a one-line summary.
fn audit_repository(src: &Path, problems: &mut Vec<String>) -> (usize, String) {
    let name = src
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let (_tmp, root) = temp_copy(src);
    let before = snapshot(&root);
    let report = check_json(&root);
    let mut local = Vec::new();
    let offsets = verified_offsets(&before, &report.placeholders, &mut local);
    if report.files == 0 {
        local.push("no YAML file was checked".into());
    }

    let fixed = manifix(&["fix", "--account", REAL], &root);
    if fixed.code != 0 && !(fixed.code == 2 && report.errors > 0) {
        local.push(format!("fix exited {}:\n{}", fixed.code, fixed.stderr));
    }
    let after = snapshot(&root);
    for path in changed_files(&before, &after) {
        let Some(original) = before.get(&path) else {
            local.push(format!("{path}: created by fix"));
            continue;
        };
        let expected = offsets.get(&path).map(|o| expected_fix(original, o));
        let now = after.get(&path);
        if now != expected.as_ref() {
            let what = if expected.is_some() {
                "other bytes than the reported digits"
            } else {
                "a file without findings"
            };
            local.push(format!("{path}: fix changed {what}"));
        }
    }
    for path in offsets.keys() {
        if before.get(path) == after.get(path) {
            local.push(format!("{path}: reported placeholders were not fixed"));
        }
    }

    manifix(&["fix", "--account", REAL], &root);
    if let Some(path) = changed_files(&after, &snapshot(&root)).first() {
        local.push(format!(
            "{path}: a second fix changed it again (not idempotent)"
        ));
    }
    for f in check_json(&root).placeholders {
        local.push(format!(
            "{}:{}:{}: still reported after fix: {}",
            f.path, f.line, f.column, f.message
        ));
    }

    problems.extend(local.into_iter().map(|p| format!("{name}: {p}")));
    let examples: Vec<String> = report
        .placeholders
        .iter()
        .take(2)
        .map(|f| format!("{}:{}:{}", f.path, f.line, f.column))
        .collect();
    let summary = format!(
        "{name}: {} files, {} yaml checked, {} file errors, {} placeholder findings in {} files {examples:?}",
        before.len(),
        report.files,
        report.errors,
        report.placeholders.len(),
        offsets.len()
    );
    (report.placeholders.len(), summary)
}

#[test]
fn repositories_findings_are_true_and_fix_changes_only_their_digits() {
    let mut problems = Vec::new();
    let mut findings = 0;
    for repo in repositories() {
        let (count, summary) = audit_repository(&repo, &mut problems);
        findings += count;
        eprintln!("{summary}");
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    // The corpus holds real placeholders (pod-identity-webhook test data, external-secrets docs):
    // without any finding the test above would prove nothing.
    assert!(findings > 0, "no placeholder finding in the whole corpus");
}

#[test]
fn yaml_test_suite_errors_are_reported_and_nothing_is_edited() {
    let (_tmp, root) = temp_copy(&Path::new(CORPUS).join(SUITE).join("data"));
    let before = snapshot(&root);

    let check = manifix(&["check"], &root);
    let reported: BTreeSet<String> = check
        .stderr
        .lines()
        .filter_map(|l| ERROR_LINE.captures(l))
        .map(|c| c[1].to_string())
        .collect();
    let invalid: BTreeSet<String> = before
        .keys()
        .filter_map(|p| p.strip_suffix("/error"))
        .map(|case| format!("{case}/in.yaml"))
        .filter(|p| before.contains_key(p))
        .collect();
    assert!(
        invalid.len() > 50,
        "only {} invalid cases found",
        invalid.len()
    );
    let missed: Vec<&String> = invalid
        .iter()
        .filter(|p| !reported.contains(*p) && !ACCEPTED_INVALID.contains(&p.as_str()))
        .collect();
    assert!(
        missed.is_empty(),
        "invalid cases not reported as errors: {missed:?}"
    );
    let wrongly: Vec<&String> = reported.iter().filter(|p| !invalid.contains(*p)).collect();
    assert!(
        wrongly.is_empty(),
        "valid files reported as errors: {wrongly:?}\n{}",
        check.stderr
    );
    assert_eq!(check.code, 2, "check must exit 2 when files have errors");
    let findings: Vec<&str> = check.stdout.lines().filter(|l| l.contains(RULE)).collect();
    assert!(
        findings.is_empty(),
        "placeholder findings in the yaml-test-suite: {findings:?}"
    );

    manifix(&["fix", "--account", REAL], &root);
    let changed = changed_files(&before, &snapshot(&root));
    assert!(
        changed.is_empty(),
        "fix changed yaml-test-suite files: {changed:?}"
    );
}

/// The verifier itself: a wrong column or a lax context check would make the tests above vacuous.
#[test]
fn verifier_maps_character_columns_and_rejects_non_placeholders() {
    let text = "\u{feff}a: é\nrole: \"arn:aws:iam::123456789012:role/x\"\nimage: 111122223333.dkr.ecr.eu-west-1.amazonaws.com/a\nid: 123456789012\narn:aws:iam::465002806239:role/y\n";
    let at = |line, column| offset_of(text, line, column).expect("inside");
    assert_eq!(&text[at(1, 4)..], "é\nrole: \"arn:aws:iam::123456789012:role/x\"\nimage: 111122223333.dkr.ecr.eu-west-1.amazonaws.com/a\nid: 123456789012\narn:aws:iam::465002806239:role/y\n");
    assert_eq!(not_a_placeholder(text, at(2, 21)), None);
    assert_eq!(not_a_placeholder(text, at(3, 8)), None);
    assert!(not_a_placeholder(text, at(2, 22)).is_some());
    assert!(not_a_placeholder(text, at(4, 5)).is_some());
    assert!(not_a_placeholder(text, at(5, 14)).is_some());
    let offsets = BTreeSet::from([at(2, 21)]);
    let fixed = expected_fix(text.as_bytes(), &offsets);
    assert!(String::from_utf8(fixed)
        .expect("utf-8")
        .contains("arn:aws:iam::465002806239:role/x"));
}

/// Every `mutable-tag` finding on the real corpora points at an image field whose tag really
/// moves: the text at the reported position is a tag such as `latest`, `main-latest` or a
/// branch name, or the image reference itself when it has no tag at all.
#[test]
fn mutable_tag_findings_point_at_moving_tags() {
    let moving = Regex::new(
        r"^(latest|[A-Za-z0-9._-]+-latest|main|master|develop|dev|stable|edge|nightly)\b",
    )
    .expect("regex");
    let untagged =
        Regex::new(r"^[a-z0-9][a-z0-9._/-]*(:[0-9]+/[a-z0-9._/-]+)?(\s|$|#|\x22|'|,|\})")
            .expect("regex");
    let mut problems = Vec::new();
    let mut seen = 0;
    for repo in repositories() {
        let out = manifix(&["check", "--format", "json"], &repo);
        let json: Value = serde_json::from_str(&out.stdout).expect("json");
        for f in json["findings"].as_array().expect("findings") {
            if f["rule"] != "mutable-tag" {
                continue;
            }
            seen += 1;
            let path = repo.join(f["path"].as_str().expect("path"));
            let text = std::fs::read_to_string(&path).expect("read");
            let line = f["line"].as_u64().expect("line") as usize;
            let column = f["column"].as_u64().expect("column") as usize;
            let Some(at) = offset_of(&text, line, column) else {
                problems.push(format!(
                    "{}:{line}:{column}: position outside the file",
                    path.display()
                ));
                continue;
            };
            let rest = text[at..].trim_start_matches(['"', '\'']);
            let message = f["message"].as_str().unwrap_or("");
            let ok = if message.contains("has no tag") {
                untagged.is_match(rest)
            } else {
                moving.is_match(rest)
            };
            if !ok {
                let shown: String = rest.chars().take(60).collect();
                problems.push(format!(
                    "{}:{line}:{column}: {shown:?} — {message}",
                    path.display()
                ));
            }
        }
    }
    assert!(
        seen > 0,
        "the corpora have moving tags; finding none means the rule is not running"
    );
    assert!(
        problems.is_empty(),
        "mutable-tag findings that are not moving tags:\n{}",
        problems.join("\n")
    );
}

/// The audit rules find nothing on the real corpora: no forgotten image override, no ECR pull
/// secret, no cross-region registry, no split accounts, no IRSA wiring mistake. (Each was
/// checked by hand when it was added; templated role ARNs such as `${karpenter_irsa}` and
/// overlays that hold HelmReleases or Argo CD Applications are deliberately not judged.)
#[test]
fn audit_rules_find_nothing_on_the_corpora() {
    for repo in repositories() {
        let out = manifix(&["check", "--format", "json"], &repo);
        let json: Value = serde_json::from_str(&out.stdout).expect("json");
        let found: Vec<&Value> = json["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter(|f| {
                [
                    "missing-image-override",
                    "image-pull-secrets-ecr",
                    "ecr-region",
                    "account-mismatch",
                    "irsa-service-account",
                ]
                .iter()
                .any(|r| f["rule"] == *r)
            })
            .collect();
        assert!(found.is_empty(), "{}: {found:?}", repo.display());
    }
}

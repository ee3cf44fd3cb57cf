//! A hostile repository cannot inject output: file names with a line break and an ESC, values
//! that decode to control characters, and a source commit whose subject carries backticks,
//! HTML and control characters. Text output keeps one finding per line with file names quoted
//! as git quotes them; diffs quote their headers; Markdown (the report, the PR body) and the
//! commit message hold the hostile text only in escaped form; JSON, SARIF and GitHub
//! annotations carry the names exactly, escaped their own way.

mod common;
use common::git::*;
use common::*;

use std::path::{Path, PathBuf};

/// A name that, printed raw, turns the terminal red and fakes a finding line of its own.
const EVIL: &str = "a\x1b[31m\nfake.yaml:1:1: placeholder-account: x.yaml";
/// How git (and manifix) shows it.
const EVIL_QUOTED: &str = "\"a\\033[31m\\nfake.yaml:1:1: placeholder-account: x.yaml\"";
const QUOTES: &str = "q\"\\.yaml";
const QUOTES_QUOTED: &str = "\"q\\\"\\\\.yaml\"";
/// The source commit's subject: markup, HTML and control characters (its second line is a
/// separate paragraph git does not put in the subject; the CR and ESC stay in it).
const SUBJECT: &str = "Fix `x` <img src=x onerror=alert(1)> |*_[a](b)\r\x1b[2Jfake.yaml:2:2: x";

fn pod(name: &str, image: &str) -> String {
    format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n    - name: c\n      image: {image}\n")
}

/// The repository (committed, as `fix --branch` needs) beside its application repository.
fn hostile() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let app = tmp.path().join("app");
    std::fs::create_dir_all(&app).expect("mkdir");
    git(&app, &["init", "-q"]);
    std::fs::write(app.join("a.txt"), "a").expect("write");
    std::fs::write(
        tmp.path().join("msg"),
        format!("{SUBJECT}\n\nsecond <b>para</b>\n"),
    )
    .expect("write");
    git(&app, &["add", "a.txt"]);
    git(
        &app,
        &["commit", "-q", "--cleanup=verbatim", "-F", "../msg"],
    );

    let root = tmp.path().join("root");
    std::fs::create_dir_all(&root).expect("mkdir");
    let ecr =
        |account: &str, rest: &str| format!("{account}.dkr.ecr.us-east-1.amazonaws.com/{rest}");
    std::fs::write(root.join(EVIL), pod("p", &ecr(PLACEHOLDER, "app:v1"))).expect("write");
    std::fs::write(root.join(QUOTES), pod("q", &ecr(PLACEHOLDER, "app:v1"))).expect("write");
    std::fs::write(
        root.join("sa.yaml"),
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: s\n  annotations:\n    eks.amazonaws.com/role-arn: \"arn:aws:iam::123456789012:role/a\\e[2J\\nfake.yaml:9:9: placeholder-account: b\"\n",
    )
    .expect("write");
    std::fs::write(
        root.join("web.yaml"),
        pod("w", &ecr(REAL, "team/web:main-latest")),
    )
    .expect("write");
    std::fs::write(
        root.join("manifix.yaml"),
        "sources:\n  - image: \"*/team/*\"\n    repo: ../app\n",
    )
    .expect("write");
    git(&root, &["init", "-q"]);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "hostile"]);
    (tmp, root)
}

/// No raw control byte but the line breaks between lines (and tabs).
fn assert_no_control(what: &str, text: &str) {
    for (i, line) in text.lines().enumerate() {
        assert!(
            !line.chars().any(|c| c.is_control() && c != '\t'),
            "{what}, line {}: raw control character in {line:?}",
            i + 1
        );
    }
}

/// The hostile subject's markup appears only escaped: no raw `<img`, no backtick that is not
/// escaped or part of manifix's own balanced code spans.
fn assert_markup_escaped(what: &str, md: &str) {
    assert_no_control(what, md);
    for (i, _) in md.match_indices("<img") {
        assert!(
            i > 0 && md.as_bytes()[i - 1] == b'\\',
            "{what}: raw <img at byte {i}:\n{md}"
        );
    }
    assert!(!md.contains("<b>"), "{what}: {md}");
    assert!(
        md.contains("\\<img src=x onerror=alert(1)\\>"),
        "{what}:\n{md}"
    );
    for line in md.lines() {
        let unescaped = line
            .char_indices()
            .filter(|&(i, c)| c == '`' && (i == 0 || line.as_bytes()[i - 1] != b'\\'))
            .count();
        assert_eq!(unescaped % 2, 0, "{what}: unbalanced backticks in {line:?}");
    }
}

fn output(run: &Run) -> String {
    format!("{}{}", run.stdout, run.stderr)
}

#[test]
fn text_output_quotes_names_and_escapes_values_one_finding_per_line() {
    let (_tmp, root) = hostile();
    let run = manifix(&["check", "--color", "never", "."], &root);
    let all = output(&run);
    assert_no_control("check", &all);
    for line in all.lines() {
        assert!(!line.starts_with("fake.yaml"), "a faked line: {line:?}");
    }
    let evil: Vec<&str> = lines_of(&run.stdout, "placeholder-account")
        .into_iter()
        .filter(|l| l.starts_with(EVIL_QUOTED))
        .collect();
    assert_eq!(evil.len(), 1, "{}", run.stdout);
    assert!(evil[0].starts_with(&format!("{EVIL_QUOTED}:8:14: placeholder-account: ")));
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with(&format!("{QUOTES_QUOTED}:8:14: placeholder-account: "))),
        "{}",
        run.stdout
    );
    // The decoded ESC and line break of the ARN are shown as escapes, on the finding's line.
    let sa: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("sa.yaml:"))
        .collect();
    assert!(!sa.is_empty(), "{}", run.stdout);
    assert!(sa.iter().any(|l| l.contains("role/a\\x1b[2J")), "{sa:?}");
    // The commit subject in the pin's message: escaped, on one line.
    let pin = lines_of(&run.stdout, "mutable-tag");
    assert_eq!(pin.len(), 1, "{}", run.stdout);
    assert!(pin[0].contains("\\r\\x1b[2Jfake.yaml:2:2: x"), "{}", pin[0]);
}

#[test]
fn diff_headers_are_quoted_and_no_control_character_reaches_the_terminal() {
    let (_tmp, root) = hostile();
    let run = manifix(
        &[
            "fix",
            "--dry-run",
            "--color",
            "always",
            "--account",
            REAL,
            ".",
        ],
        &root,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Colour is manifix's own ESC; any other is injected.
    let plain = run.stdout.replace("\x1b[0m", "").replace("\x1b[1m", "");
    let plain = ["31", "32", "36"]
        .iter()
        .fold(plain, |t, c| t.replace(&format!("\x1b[{c}m"), ""));
    assert_no_control("diff", &plain);
    assert_no_control("stderr", &run.stderr);
    assert!(
        plain.contains(&format!("--- \"a/{}\n", &EVIL_QUOTED[1..])),
        "{plain}"
    );
    assert!(
        plain.contains(&format!("+++ \"b/{}\n", &EVIL_QUOTED[1..])),
        "{plain}"
    );
    assert!(plain.contains("--- \"a/q\\\"\\\\.yaml\"\n"), "{plain}");
    assert!(plain.contains("--- a/sa.yaml\n"), "{plain}");
    assert!(
        !plain.lines().any(|l| l.starts_with("fake.yaml")),
        "{plain}"
    );
    // The hunk header's note names the commit, its subject escaped.
    let note = plain
        .lines()
        .find(|l| l.starts_with("@@") && l.contains("main-latest"))
        .unwrap_or_else(|| panic!("a pin note:\n{plain}"));
    assert!(note.contains("\\r\\x1b[2Jfake.yaml:2:2: x"), "{note}");
}

#[test]
fn markdown_report_keeps_the_hostile_text_escaped() {
    let (_tmp, root) = hostile();
    let run = manifix(&["check", "--format", "markdown", "."], &root);
    assert_markup_escaped("markdown report", &run.stdout);
    assert!(
        run.stdout.contains(&format!("`{EVIL_QUOTED}:8`")),
        "{}",
        run.stdout
    );
}

fn commit_message(root: &Path, rev: &str) -> String {
    git(root, &["log", "-1", "--format=%B", rev])
}

#[test]
fn pr_body_and_commit_message_hold_the_subject_only_escaped() {
    let (tmp, root) = hostile();
    let body = tmp.path().join("pr.md");
    let run = manifix(
        &[
            "fix",
            "--branch",
            "manifix/fixes",
            "--account",
            REAL,
            "--pr-body",
            body.to_str().expect("utf-8"),
            ".",
        ],
        &root,
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_no_control("fix --branch", &output(&run));
    let md = std::fs::read_to_string(&body).expect("PR body");
    assert_markup_escaped("PR body", &md);
    assert!(md.contains(&format!("**`{EVIL_QUOTED}`**")), "{md}");
    assert!(md.contains("**`sa.yaml`**"), "{md}");
    let message = commit_message(&root, "manifix/fixes");
    assert_no_control("commit message", &message);
    assert!(
        message.contains("\\<img src=x onerror=alert(1)\\>"),
        "{message}"
    );
    assert_markup_escaped("commit message", &message);
    assert!(
        message.contains(&format!("- `{EVIL_QUOTED}`:8: placeholder-account:")),
        "{message}"
    );
    // Every change line is one line.
    let changes = message.lines().filter(|l| l.starts_with("- ")).count();
    assert_eq!(changes, 4, "{message}");
}

#[test]
fn json_sarif_and_github_outputs_carry_the_names_exactly_escaped_their_way() {
    let (_tmp, root) = hostile();
    let json = manifix(&["check", "--format", "json", "."], &root);
    assert_no_control("json", &json.stdout);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    let paths: Vec<&str> = doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["path"].as_str())
        .collect();
    assert!(
        paths.contains(&EVIL) && paths.contains(&QUOTES),
        "{paths:?}"
    );

    let sarif = manifix(&["check", "--format", "sarif", "."], &root);
    assert_no_control("sarif", &sarif.stdout);
    let doc: serde_json::Value = serde_json::from_str(&sarif.stdout).expect("SARIF");
    let uris: Vec<&str> = doc["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].as_str())
        .collect();
    assert!(
        uris.contains(&"a%1B%5B31m%0Afake.yaml%3A1%3A1%3A%20placeholder-account%3A%20x.yaml")
            && uris.contains(&"q%22%5C.yaml"),
        "percent-encoded URIs: {uris:?}"
    );

    let github = manifix(&["check", "--format", "github", "."], &root);
    assert_no_control("github", &github.stdout);
    for line in github.stdout.lines().filter(|l| !l.is_empty()) {
        let summary = line.contains(" findings (") && !line.contains("::");
        assert!(
            line.starts_with("::") || summary,
            "one annotation per line: {line:?}"
        );
    }
    assert!(
        github
            .stdout
            .contains("file=a\\x1b[31m%0Afake.yaml%3A1%3A1%3A placeholder-account%3A x.yaml,"),
        "{}",
        github.stdout
    );
}

/// `bulk`'s table and its lists of failures show a hostile repository entry's name and the
/// reason it failed with their control characters escaped.
#[test]
fn bulk_tables_escape_repository_names_and_reasons() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        tmp.path().join("repos.txt"),
        "./gone\u{1b}[2J\u{1b}[31mfake: done\n",
    )
    .expect("write");
    let run = manifix(&bulk_dry_run(&[]), tmp.path());
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert_no_control("bulk output", &output(&run));
    assert!(output(&run).contains("\\x1b[2J"), "{}", output(&run));
}

//! `check --format sarif|github|markdown` on the real binary: SARIF that the official 2.1.0
//! schema accepts, GitHub workflow commands escaped the way the runner reads them, and the
//! Markdown audit report of the seed repository.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn seed(format: &str) -> Run {
    let root = fixture("seed-gitops");
    manifix(
        &["check", "--format", format, root.to_str().expect("utf-8")],
        &root,
    )
}

/// The vendored SARIF 2.1.0 schema (see tests/data/sarif-schema-2.1.0.README.md), with format
/// checks (`uri`, `uri-reference`, ...) turned on.
fn sarif_validator() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sarif-schema-2.1.0.json");
    let mut schema: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read schema")).expect("json");
    // The schema's `language` patterns (run, toolComponent) have a stray `]`, which ECMA-262
    // regexes read as a literal but Rust's regex engines reject; escaping it keeps the ECMA
    // meaning exactly. The vendored file itself stays byte for byte as published.
    let fixed = escape_stray_bracket(&mut schema);
    assert_eq!(fixed, 2, "the schema's language patterns changed");
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .should_validate_formats(true)
        .build(&schema)
        .expect("the SARIF schema compiles")
}

fn escape_stray_bracket(schema: &mut Value) -> usize {
    const BAD: &str = "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$";
    match schema {
        Value::Object(map) => {
            let mut n = 0;
            for (key, value) in map.iter_mut() {
                if key == "pattern" && value == BAD {
                    *value = Value::from(r"^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}\]?$");
                    n += 1;
                } else {
                    n += escape_stray_bracket(value);
                }
            }
            n
        }
        Value::Array(items) => items.iter_mut().map(escape_stray_bracket).sum(),
        _ => 0,
    }
}

fn assert_valid_sarif(log: &Value) {
    let validator = sarif_validator();
    let errors: Vec<String> = validator
        .iter_errors(log)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "invalid SARIF:\n{}", errors.join("\n"));
}

#[test]
fn the_schema_check_is_not_vacuous() {
    let validator = sarif_validator();
    let bad = serde_json::json!({
        "version": "2.1.0",
        "runs": [{ "tool": { "driver": { "name": "x" } },
                   "results": [{ "message": { "text": "m" }, "level": "fatal" }] }]
    });
    assert!(!validator.is_valid(&bad));
    assert!(!validator.is_valid(&serde_json::json!({ "runs": [] })));
    // Formats are checked too: `$schema` must be a URI.
    let with_schema =
        |schema: &str| serde_json::json!({ "$schema": schema, "version": "2.1.0", "runs": [] });
    assert!(validator.is_valid(&with_schema(
        "https://json.schemastore.org/sarif-2.1.0.json"
    )));
    assert!(!validator.is_valid(&with_schema("not a uri")));
}

#[test]
fn sarif_of_the_seed_is_valid_and_complete() {
    let run = seed("sarif");
    assert_eq!(run.code, 1, "same exit status as text: {}", run.stderr);
    let log: Value = serde_json::from_str(&run.stdout).expect("SARIF is JSON");
    assert_valid_sarif(&log);

    assert_eq!(log["version"], "2.1.0");
    assert!(log["$schema"].as_str().expect("$schema").contains("sarif"));
    let runs = log["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1);
    let driver = &runs[0]["tool"]["driver"];
    assert_eq!(driver["name"], "manifix");
    assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
    let rules = driver["rules"].as_array().expect("rules");
    let registry = manifix::rules::all();
    assert_eq!(rules.len(), registry.len());
    for (descriptor, rule) in rules.iter().zip(registry) {
        let meta = rule.meta();
        assert_eq!(descriptor["id"], meta.id);
        assert_eq!(descriptor["shortDescription"]["text"], meta.summary);
        assert_eq!(descriptor["fullDescription"]["text"], meta.explanation);
        assert_eq!(descriptor["help"]["text"], meta.explanation);
        assert!(descriptor["defaultConfiguration"]["level"].is_string());
        assert!(descriptor["name"].as_str().is_some_and(|n| !n.is_empty()));
    }

    let results = runs[0]["results"].as_array().expect("results");
    let json: Value = serde_json::from_str(&seed("json").stdout).expect("json");
    let findings = json["findings"].as_array().expect("findings");
    assert_eq!(results.len(), findings.len());
    let mut fingerprints = std::collections::HashSet::new();
    for (result, finding) in results.iter().zip(findings) {
        let index = result["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(rules[index]["id"], result["ruleId"]);
        assert_eq!(result["ruleId"], finding["rule"]);
        let level = match finding["severity"].as_str() {
            Some("error") => "error",
            Some("warning") => "warning",
            _ => "note",
        };
        assert_eq!(result["level"], level);
        assert_eq!(result["message"]["text"], finding["message"]);
        let location = &result["locations"][0]["physicalLocation"];
        assert_eq!(location["artifactLocation"]["uri"], finding["path"]);
        assert_eq!(location["artifactLocation"]["uriBaseId"], "%SRCROOT%");
        let region = &location["region"];
        assert_eq!(region["startLine"], finding["line"]);
        assert_eq!(region["startColumn"], finding["column"]);
        let start = (region["startLine"].as_u64(), region["startColumn"].as_u64());
        let end = (region["endLine"].as_u64(), region["endColumn"].as_u64());
        assert!(end.0.is_some() && end >= start, "{region}");
        let fingerprint = result["partialFingerprints"]["manifix/v1"]
            .as_str()
            .expect("fingerprint");
        assert!(
            fingerprints.insert(fingerprint.to_string()),
            "{fingerprint}"
        );
    }

    // A placeholder spans exactly its 12 digits, and its fix replaces them.
    let placeholder = results
        .iter()
        .find(|r| r["ruleId"] == "placeholder-account")
        .expect("a placeholder finding");
    let region = &placeholder["locations"][0]["physicalLocation"]["region"];
    assert_eq!(region["endLine"], region["startLine"]);
    assert_eq!(
        region["endColumn"].as_u64().expect("end") - region["startColumn"].as_u64().expect("start"),
        12
    );
    let replacement = &placeholder["fixes"][0]["artifactChanges"][0]["replacements"][0];
    assert_eq!(replacement["insertedContent"]["text"], REAL);
    assert_eq!(&replacement["deletedRegion"], region);
}

#[test]
fn sarif_reports_file_errors_as_notifications() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "broken.yaml", "a: [1\n");
    // A space in the path must be percent-encoded for the `uri` to be valid.
    write(
        dir.path(),
        "ok dir/pod.yaml",
        &format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: c\n      image: {PLACEHOLDER}.dkr.ecr.ap-southeast-2.amazonaws.com/web:v1.2.3\n"),
    );
    let run = manifix(&["check", "--format", "sarif", "."], dir.path());
    assert_eq!(run.code, 2, "{}", run.stderr);
    let log: Value = serde_json::from_str(&run.stdout).expect("json");
    assert_valid_sarif(&log);
    let invocation = &log["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    let result = &log["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "placeholder-account");
    assert_eq!(
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "ok%20dir/pod.yaml"
    );
    let notification = &invocation["toolExecutionNotifications"][0];
    assert_eq!(notification["level"], "error");
    let location = &notification["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "broken.yaml");
    assert_eq!(location["region"]["startLine"], 1);
}

#[test]
fn github_commands_are_escaped() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "base/deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: web\n",
    );
    write(
        dir.path(),
        "base/kustomization.yaml",
        "resources:\n  - deploy.yaml\n",
    );
    // `%`, `,` and `:` in the path: escaped in the `file=` property, and `%` in the message too.
    write(
        dir.path(),
        "ov/50%,a:b/kustomization.yaml",
        &format!(
            "resources:\n  - ../../base\nimages:\n  - name: web\n    newName: {PLACEHOLDER}.dkr.ecr.ap-southeast-2.amazonaws.com/web\n    newTag: latest\n"
        ),
    );
    let run = manifix(
        &["check", "--format", "github", "--account", REAL, "."],
        dir.path(),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let expected = [
        "::error file=ov/50%25%2Ca%3Ab/kustomization.yaml,line=5,col=14,title=placeholder-account::kustomize image override `web` points at the ECR registry 123456789012.dkr.ecr.ap-southeast-2.amazonaws.com of placeholder account 123456789012: nodes would pull `web` from a registry that is not yours and pods would fail with ImagePullBackOff; the real account is 465002806239 (from --account)",
        "::warning file=ov/50%25%2Ca%3Ab/kustomization.yaml,line=6,col=13,title=mutable-tag::mutable tag `latest` on image `123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/web` (renders in ov/50%25,a:b): it moves with every push, so environments drift and rollbacks do not bring the old image back; unresolved: no source maps this image — add to manifix.yaml: `sources: [{image: \"*/web\", repo: <path or URL of its git repository>}]`, or pass --source '*/web=<path or URL>'",
        "2 findings (1 error, 1 warning, 0 info; 1 fixable) in 3 files; 0 skipped; 0 file errors",
    ];
    assert_eq!(run.stdout.lines().collect::<Vec<_>>(), expected);

    // A file error is an `::error` on that file, and the exit status is 2 as for text.
    write(dir.path(), "broken.yaml", "a: [1\n");
    let run = manifix(
        &["check", "--format", "github", "--account", REAL, "."],
        dir.path(),
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with("::error file=broken.yaml,line=1,col=")
                && l.contains(",title=manifix::")),
        "{}",
        run.stdout
    );
}

#[test]
fn exit_status_is_the_same_in_every_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "app.yaml", "image: nginx:1.27.0\n");
    for format in ["text", "json", "sarif", "github", "markdown"] {
        assert_eq!(seed(format).code, 1, "{format} on the seed");
        let clean = manifix(&["check", "--format", format, "."], dir.path());
        assert_eq!(
            clean.code, 0,
            "{format} on a clean repository: {}",
            clean.stderr
        );
    }
}

#[test]
fn markdown_report_of_the_seed() {
    let run = seed("markdown");
    assert_eq!(run.code, 1, "{}", run.stderr);
    let md = &run.stdout;

    let items = |rule: &str| -> Vec<&str> {
        md.lines()
            .filter(|l| l.starts_with("- [ ] `") && l.contains(&format!("`{rule}`:")))
            .map(|l| {
                l.trim_start_matches("- [ ] `")
                    .split('`')
                    .next()
                    .expect("location")
            })
            .collect()
    };
    assert_eq!(
        items("placeholder-account"),
        [
            "apps/ml-recommendation-inference/overlays/production/kustomization.yaml:23",
            "apps/ml-training-workflow-circle/overlays/production/kustomization.yaml:12",
            "apps/ml-training-workflow-circle/overlays/staging/kustomization.yaml:12",
            "apps/ml-training-workflow-circle/overlays/staging/kustomization.yaml:15",
        ]
    );
    assert_eq!(
        items("mutable-tag"),
        [
            "apps/ml-training-workflow-circle/overlays/production/kustomization.yaml:13",
            "apps/ml-training-workflow-circle/overlays/staging/kustomization.yaml:13",
            "apps/ml-training-workflow-circle/overlays/staging/kustomization.yaml:16",
        ]
    );
    let overrides = items("missing-image-override");
    assert!(!overrides.is_empty());
    for image in ["data-processing", "data-eda", "train-model"] {
        assert!(
            md.lines().any(|l| l.contains("`missing-image-override`:")
                && l.contains(&format!("image `{image}`"))
                && l.contains("overlays/production/")),
            "production overlay must be told to override {image}"
        );
    }
    // Findings sit under their area; the checklist says what is fine and what is not.
    let section = |title: &str| -> &str {
        let start = md.find(&format!("\n## {title}\n")).expect(title);
        let rest = &md[start + 1..];
        let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 4);
        &rest[..end]
    };
    assert!(section("AWS accounts").contains("`placeholder-account`: IRSA role ARN"));
    assert!(section("Image tags").contains("`mutable-tag`: mutable tag `main-latest`"));
    assert!(section("Image overrides").contains("`missing-image-override`"));
    let checklist = section("Checklist");
    assert!(checklist.contains("- [ ] AWS accounts: 4 errors"));
    assert!(checklist.contains("- [ ] Image tags: 3 warnings"));
    assert!(checklist.contains("- [ ] Image overrides:"));
    assert!(checklist.contains("node's** IAM role"));
    assert!(checklist.contains("not image pulls"));
    assert!(md.contains(
        "Fix (`manifix fix`): replace placeholder account 123456789012 with 465002806239"
    ));
    assert!(md.contains("How to fix: see `manifix explain mutable-tag`"));

    insta::assert_snapshot!("seed_markdown_report", md);
}

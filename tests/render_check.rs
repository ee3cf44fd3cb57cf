//! Render check: what kustomize builds from a fixed repository differs from what it built
//! before only in the values the fix reported.
//!
//! Each corpus repository (and the seed fixture) is copied to a temp dir; the real binary
//! reports findings (`check --format json`) and fixes them. Then:
//!
//! - every changed source file must equal the original with exactly the reported fixes
//!   applied at the reported line:column, and nothing else;
//! - every kustomization directory of a changed repository that `kubectl kustomize` builds
//!   before the fix must still build after it, and the two renders must be the same documents,
//!   scalar for scalar (value and the style kustomize chose, which shows a type change), except
//!   scalars in which only reported values changed.
//!
//! Repositories the fix leaves byte-identical are asserted to be so and are not rendered:
//! identical input renders identically. That keeps the test at a few seconds (rendering all
//! ~70 buildable corpus overlays twice took ~25 s on 2 cores); it still renders every overlay of
//! every repository the fix touches, and asserts a minimum so it cannot pass by rendering none.

mod common;
use common::shape::shapes;
use common::*;
use manifix::yaml::{parse, Scalar};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus");

/// A change a reported fix may make to a rendered scalar.
#[derive(Debug, Clone, PartialEq)]
enum Change {
    /// Some occurrences of a placeholder account replaced by the real one.
    Account { from: String, to: String },
    /// An image called `name` renamed by an added `images:` entry (tag or digest kept).
    ImageName { name: String, new_name: String },
}

struct Fixable {
    rule: String,
    path: String,
    line: usize,
    column: usize,
    replacement: String,
    title: String,
    applicability: String,
}

fn fixable(json: &Value) -> Vec<Fixable> {
    json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| {
            let fix = f.get("fix")?;
            Some(Fixable {
                rule: f["rule"].as_str()?.to_string(),
                path: f["path"].as_str()?.to_string(),
                line: f["line"].as_u64()? as usize,
                column: f["column"].as_u64()? as usize,
                replacement: fix["replacement"].as_str()?.to_string(),
                title: fix["title"].as_str()?.to_string(),
                applicability: fix["applicability"].as_str()?.to_string(),
            })
        })
        .collect()
}

/// Byte offset of a 1-based line and character column.
fn offset_of(text: &str, line: usize, column: usize) -> Option<usize> {
    let start = if line == 1 {
        0
    } else {
        text.match_indices('\n').nth(line - 2)?.0 + 1
    };
    let start = if line == 1 && text.starts_with('\u{feff}') {
        3
    } else {
        start
    };
    let rest = &text[start..];
    match rest.char_indices().nth(column - 1) {
        Some((i, _)) => Some(start + i),
        None => (rest.chars().count() == column - 1).then_some(text.len()),
    }
}

/// Checks every changed file against the reported fixes and returns the changes a render may
/// show. Safe placeholder fixes are checked at their position; added `images:` entries (opt-in)
/// only by what they render to.
fn source_changes(
    name: &str,
    before: &BTreeMap<String, Vec<u8>>,
    after: &BTreeMap<String, Vec<u8>>,
    fixes: &[Fixable],
    with_overrides: bool,
) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut expected: BTreeMap<String, String> = BTreeMap::new();
    let mut appended: BTreeMap<String, usize> = BTreeMap::new();
    for f in fixes {
        let at = format!("{name}/{}:{}:{}", f.path, f.line, f.column);
        match (f.rule.as_str(), f.applicability.as_str()) {
            ("placeholder-account", "safe") => {
                let text = expected.entry(f.path.clone()).or_insert_with(|| {
                    String::from_utf8(before[&f.path].clone()).expect("utf-8 source")
                });
                let start = offset_of(text, f.line, f.column).expect("position in file");
                let from = text[start..].chars().take(12).collect::<String>();
                assert!(
                    from.len() == 12 && from.bytes().all(|b| b.is_ascii_digit()),
                    "{at}: the finding does not point at an account: {from:?}"
                );
                assert_eq!(
                    f.replacement.len(),
                    12,
                    "{at}: replacement {:?}",
                    f.replacement
                );
                text.replace_range(start..start + 12, &f.replacement);
                let change = Change::Account {
                    from,
                    to: f.replacement.clone(),
                };
                if !changes.contains(&change) {
                    changes.push(change);
                }
            }
            ("missing-image-override", "unsafe") if with_overrides => {
                let name = f
                    .title
                    .strip_prefix("add an images: entry for ")
                    .and_then(|t| t.split_once(" -> "))
                    .map(|(n, _)| n.to_string())
                    .unwrap_or_else(|| panic!("{at}: unexpected title {:?}", f.title));
                *appended.entry(f.path.clone()).or_default() += 1;
                changes.push(Change::ImageName {
                    name,
                    new_name: f.replacement.clone(),
                });
            }
            (_, "safe") => panic!(
                "{at}: the render check does not know what a `{}` fix changes; teach it",
                f.rule
            ),
            _ => {}
        }
    }
    for (path, old) in before {
        let new = after
            .get(path)
            .unwrap_or_else(|| panic!("{name}/{path}: deleted"));
        let want = expected.get(path).map(|t| t.as_bytes()).unwrap_or(old);
        if appended.contains_key(path) {
            // Entries were appended; the placeholder fixes above still hold byte for byte on
            // what was there, which must be kept as a prefix of every line run it had.
            let new = std::str::from_utf8(new).expect("utf-8");
            let want = std::str::from_utf8(want).expect("utf-8");
            let kept: Vec<&str> = want.lines().collect();
            let mut lines = new.lines();
            for line in &kept {
                assert!(
                    lines.any(|l| l == *line),
                    "{name}/{path}: line {line:?} lost while appending images: entries"
                );
            }
            continue;
        }
        assert!(
            new == want,
            "{name}/{path}: changed beyond the reported fixes:\n{}",
            String::from_utf8_lossy(new)
        );
    }
    assert_eq!(before.len(), after.len(), "{name}: files added or removed");
    changes
}

/// Whether `after` is `before` with some occurrences of `from` replaced by `to`.
fn some_replaced(before: &str, after: &str, from: &str, to: &str) -> bool {
    match before.find(from) {
        None => before == after,
        Some(i) => {
            let (head, tail) = (&before[..i], &before[i + from.len()..]);
            let Some(rest) = after.strip_prefix(head) else {
                return false;
            };
            [from, to].iter().any(|piece| {
                rest.strip_prefix(piece)
                    .is_some_and(|r| some_replaced(tail, r, from, to))
            })
        }
    }
}

fn explained(before: &str, after: &str, changes: &[Change]) -> bool {
    changes.iter().any(|c| match c {
        Change::Account { from, to } => some_replaced(before, after, from, to),
        Change::ImageName { name, new_name } => before
            .strip_prefix(name.as_str())
            .filter(|rest| rest.is_empty() || rest.starts_with([':', '@']))
            .is_some_and(|rest| after == format!("{new_name}{rest}")),
    })
}

/// Compares two renders; returns how many scalars changed.
fn compare_renders(dir: &str, before: &str, after: &str, changes: &[Change]) -> usize {
    if before == after {
        return 0;
    }
    let b = parse(before).unwrap_or_else(|e| panic!("{dir}: render does not parse: {e}"));
    let a = parse(after).unwrap_or_else(|e| panic!("{dir}: render after fix does not parse: {e}"));
    assert_eq!(
        shapes(&b),
        shapes(&a),
        "{dir}: the rendered structure changed"
    );
    let (bs, as_): (Vec<&Scalar>, Vec<&Scalar>) = (b.scalars(), a.scalars());
    assert_eq!(bs.len(), as_.len(), "{dir}: scalar count changed");
    let mut changed = 0;
    for (o, n) in bs.iter().zip(&as_) {
        // kustomize picks the style from the value's type: a changed style is a changed type.
        assert_eq!(
            o.style, n.style,
            "{dir}: {:?} -> {:?} changed style",
            o.value, n.value
        );
        if o.value == n.value {
            continue;
        }
        changed += 1;
        assert!(
            explained(&o.value, &n.value, changes),
            "{dir}: rendered {:?} became {:?}, which no reported fix explains ({changes:?})",
            o.value,
            n.value
        );
    }
    changed
}

fn kustomize_try(dir: &Path) -> Option<String> {
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("kubectl must be installed (it renders the kustomize overlays)");
    out.status
        .success()
        .then(|| String::from_utf8(out.stdout).expect("utf-8 render"))
}

/// Kustomization directories below `root`, relative, sorted.
fn kustomization_dirs(root: &Path) -> Vec<String> {
    let tree = snapshot_tree(root);
    let mut dirs: Vec<String> = tree
        .keys()
        .filter_map(|p| {
            let (dir, file) = p.rsplit_once('/').unwrap_or(("", p));
            matches!(
                file,
                "kustomization.yaml" | "kustomization.yml" | "Kustomization"
            )
            .then(|| dir.to_string())
        })
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs
}

/// Runs `f` over `jobs` on two threads (the machine has two cores), results in job order.
fn parallel<T: Sync, R: Send>(jobs: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { break };
                let r = f(job);
                results.lock().expect("lock").push((i, r));
            });
        }
    });
    let mut results = results.into_inner().expect("results");
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// Copies a tree as new, writable files (the corpus must stay untouched and may be read-only,
/// which `fs::copy` would keep).
fn copy_writable(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_writable(&entry.path(), &target);
        } else {
            std::fs::write(&target, std::fs::read(entry.path()).expect("read")).expect("write");
        }
    }
}

struct Outcome {
    built: usize,
    changed_renders: usize,
    changed_scalars: usize,
}

/// Copies `src`, fixes the copy (with `extra` flags), checks the sources and every buildable
/// overlay's render.
fn fix_and_render(name: &str, src: &Path, extra: &[&str]) -> Outcome {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join(name);
    copy_writable(src, &root);
    let before = snapshot_tree(&root);
    let report = manifix(
        &["check", "--format", "json", "--account", REAL, "."],
        &root,
    );
    let json: Value = serde_json::from_str(&report.stdout)
        .unwrap_or_else(|e| panic!("{name}: not JSON ({e}): {}", report.stdout));
    let fixes = fixable(&json);
    let mut fix = vec!["fix", "--account", REAL];
    fix.extend_from_slice(extra);
    fix.push(".");
    let run = manifix(&fix, &root);
    assert!(
        matches!(run.code, 0 | 2),
        "{name}: fix exited {}: {}",
        run.code,
        run.stderr
    );
    let after = snapshot_tree(&root);
    let changes = source_changes(name, &before, &after, &fixes, !extra.is_empty());
    let fixed = before
        .iter()
        .filter(|(p, b)| after.get(*p) != Some(b))
        .count();
    assert!(
        run.stdout.contains(&format!(" in {fixed} file")),
        "{name}: {fixed} files changed, fix says: {}",
        run.stdout
    );
    if fixed == 0 {
        // Byte-identical sources render identically: nothing to build.
        return Outcome {
            built: 0,
            changed_renders: 0,
            changed_scalars: 0,
        };
    }
    let dirs = kustomization_dirs(&root);
    // Before and after as separate jobs, so a big render's two builds run side by side.
    let jobs: Vec<PathBuf> = dirs
        .iter()
        .flat_map(|dir| [src.join(dir), root.join(dir)])
        .collect();
    let renders = parallel(&jobs, |dir| kustomize_try(dir));
    let mut out = Outcome {
        built: 0,
        changed_renders: 0,
        changed_scalars: 0,
    };
    for (dir, pair) in dirs.iter().zip(renders.chunks(2)) {
        let [before, after] = pair else {
            unreachable!("two renders per directory")
        };
        let Some(b) = before else { continue };
        let a = after
            .as_ref()
            .unwrap_or_else(|| panic!("{name}/{dir}: builds before the fix, not after"));
        out.built += 1;
        let n = compare_renders(&format!("{name}/{dir}"), b, a, &changes);
        out.changed_renders += usize::from(n > 0);
        out.changed_scalars += n;
    }
    out
}

#[test]
fn corpus_fixes_change_renders_only_in_reported_values() {
    let started = std::time::Instant::now();
    let mut repos: Vec<PathBuf> = std::fs::read_dir(CORPUS)
        .expect("corpus")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir() && !p.ends_with("yaml-test-suite"))
        .collect();
    repos.sort();
    assert!(
        repos.len() >= 8,
        "corpus has only {} repositories",
        repos.len()
    );
    let mut built = 0;
    let mut changed = 0;
    for repo in &repos {
        let name = repo
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let t = std::time::Instant::now();
        let out = fix_and_render(&name, repo, &[]);
        eprintln!(
            "{name}: {} overlays rendered, {} changed ({} scalars) in {:?}",
            out.built,
            out.changed_renders,
            out.changed_scalars,
            t.elapsed()
        );
        built += out.built;
        changed += out.changed_renders;
    }
    eprintln!("corpus render check: {:?}", started.elapsed());
    // external-secrets' config/crds/bases names the placeholder in CRD descriptions: a render
    // that shows the fix. Without it the comparison would prove nothing.
    assert!(built >= 4, "only {built} overlays rendered");
    assert!(changed >= 1, "no render shows a fix");
}

#[test]
fn seed_fixture_renders_change_only_in_reported_values() {
    let seed = fixture("seed-gitops");
    let plain = fix_and_render("seed-gitops", &seed, &[]);
    assert_eq!(plain.built, 5, "all five seed kustomizations build");
    // Both overlays with placeholders (ml-training staging and production, inference
    // production) show the real account after the fix.
    assert!(
        plain.changed_renders >= 3,
        "{} renders changed",
        plain.changed_renders
    );
    // The opt-in fix that appends images: entries renames the images those entries name.
    let overrides = fix_and_render("seed-gitops", &seed, &["--add-missing-overrides"]);
    assert_eq!(overrides.built, 5);
    assert!(
        overrides.changed_scalars > plain.changed_scalars,
        "added images: entries changed no render ({} vs {})",
        overrides.changed_scalars,
        plain.changed_scalars
    );
}

//! `manifix fix --branch`: the fix committed to a new branch built with git2, in real
//! repositories made with the git CLI, without touching the working tree, the index or the
//! checked-out branch; pushed over file:// and git://; described for a pull request.

mod common;
use common::git::*;
use common::*;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

const BRANCH: &str = "manifix/fix-manifests";
/// Who the repository's own config says commits (the `git` helper's env identity differs).
const USER_NAME: &str = "Grace Hopper";
const USER_EMAIL: &str = "grace@example.com";
/// The seed files holding placeholders, as `git diff --name-only` sorts them.
const FIXED: [&str; 3] = [
    "apps/ml-recommendation-inference/overlays/production/kustomization.yaml",
    "apps/ml-training-workflow-circle/overlays/production/kustomization.yaml",
    "apps/ml-training-workflow-circle/overlays/staging/kustomization.yaml",
];
const UNTOUCHED: &str = "apps/ml-recommendation-inference/base/service.yaml";

/// A git repository holding `fixtures/seed-gitops`, committed on `main`.
struct Repo {
    tmp: tempfile::TempDir,
    root: PathBuf,
    head: String,
}

impl Repo {
    fn seed() -> Repo {
        let (tmp, root) = temp_fixture("seed-gitops");
        init_repo(&root);
        git(&root, &["add", "-A"]);
        git(&root, &["commit", "-q", "-m", "Seed the GitOps repository"]);
        let head = git(&root, &["rev-parse", "HEAD"]);
        Repo { tmp, root, head }
    }

    /// `manifix fix --branch NAME ARGS... .` at the root.
    fn fix_branch(&self, name: &str, args: &[&str]) -> Run {
        let mut all = vec!["fix", "--branch", name];
        all.extend_from_slice(args);
        all.push(".");
        manifix(&all, &self.root)
    }

    fn git(&self, args: &[&str]) -> String {
        git(&self.root, args)
    }

    fn rev(&self, rev: &str) -> Option<String> {
        rev_parse(&self.root, rev)
    }

    /// Bytes of `rev:path`.
    fn show(&self, rev: &str, path: &str) -> Vec<u8> {
        let out = git_raw(&self.root, &["show", &format!("{rev}:{path}")]);
        assert!(out.status.success(), "git show {rev}:{path} failed");
        out.stdout
    }

    fn changed_files(&self, from: &str, to: &str) -> Vec<String> {
        lines(&self.git(&["diff", "--name-only", from, to]))
    }

    fn branches(&self, name: &str) -> String {
        self.git(&["branch", "--list", name])
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.root.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
}

fn init_repo(root: &Path) {
    git(root, &["init", "-q"]);
    git(root, &["config", "user.name", USER_NAME]);
    git(root, &["config", "user.email", USER_EMAIL]);
}

/// git with the helper's environment, raw output, success not required.
fn git_raw(dir: &Path, args: &[&str]) -> Output {
    Command::new("git")
        .args(["-c", "protocol.file.allow=always"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("git runs")
}

fn rev_parse(dir: &Path, rev: &str) -> Option<String> {
    let out = git_raw(dir, &["rev-parse", "--verify", "-q", rev]);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `old → new`: the spec's arrow, or its ASCII spelling (as the diff notes write it).
fn has_arrow(line: &str) -> bool {
    line.contains('→') || line.contains(" -> ")
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Everything a user can see of their checkout: every file outside `.git`, the index, HEAD,
/// the checked-out branch and HEAD's reflog — byte for byte. (New objects and the new ref are
/// allowed to appear in `.git`.)
fn checkout_state(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let kept = [
        ".git/index",
        ".git/HEAD",
        ".git/refs/heads/main",
        ".git/logs/HEAD",
        ".git/logs/refs/heads/main",
        ".git/config",
    ];
    snapshot_tree(root)
        .into_iter()
        .filter(|(path, _)| !path.starts_with(".git/") || kept.contains(&path.as_str()))
        .collect()
}

fn assert_same_state(before: &BTreeMap<String, Vec<u8>>, after: &BTreeMap<String, Vec<u8>>) {
    let keys: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    let differ: Vec<&&String> = keys
        .iter()
        .filter(|k| before.get(**k) != after.get(**k))
        .collect();
    assert!(differ.is_empty(), "changed in the checkout: {differ:?}");
}

/// HEAD's version of a seed file with its placeholders fixed.
fn fixed(repo: &Repo, path: &str) -> Vec<u8> {
    String::from_utf8(repo.show("HEAD", path))
        .expect("utf-8")
        .replace(PLACEHOLDER, REAL)
        .into_bytes()
}

/// (subject, body) of a commit message, checking the blank line between them.
fn message(repo: &Repo, rev: &str) -> (String, String) {
    let raw = String::from_utf8(git_raw(&repo.root, &["log", "-1", "--format=%B", rev]).stdout)
        .expect("utf-8");
    let (subject, body) = raw
        .split_once("\n\n")
        .unwrap_or_else(|| panic!("no blank line after the subject:\n{raw}"));
    assert!(!subject.contains('\n'), "subject is one line:\n{raw}");
    (subject.to_string(), body.trim_end().to_string())
}

fn identity(repo: &Repo, rev: &str, who: char) -> String {
    repo.git(&["log", "-1", &format!("--format=%{who}n <%{who}e>"), rev])
}

/// One new commit on `name`, whose parent is HEAD and whose tree is HEAD's plus the
/// placeholder fixes in exactly the three seed files.
fn assert_branch_is_head_plus_fix(repo: &Repo, name: &str) {
    let tip = repo
        .rev(name)
        .unwrap_or_else(|| panic!("branch {name} missing"));
    assert_ne!(tip, repo.head);
    assert_eq!(
        repo.git(&["rev-list", "--parents", "-n", "1", name]),
        format!("{tip} {}", repo.head),
        "one commit whose only parent is HEAD"
    );
    assert_eq!(repo.changed_files("HEAD", name), FIXED);
    for path in FIXED {
        let got = repo.show(name, path);
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&fixed(repo, path)),
            "{path}"
        );
    }
}

#[test]
fn the_checkout_index_and_uncommitted_work_are_left_alone() {
    let repo = Repo::seed();
    // Uncommitted work: a modified file, a staged new file, a staged modification.
    let readme = repo.root.join("README.md");
    let mut text = std::fs::read_to_string(&readme).expect("read");
    text.push_str("\nWork in progress, not committed.\n");
    std::fs::write(&readme, text).expect("write");
    repo.write("notes/todo.txt", "staged, not committed\n");
    repo.write(UNTOUCHED, "# staged edit\n");
    repo.git(&["add", "notes/todo.txt", UNTOUCHED]);
    // Let git settle the index's stat data now, so only manifix could change it afterwards.
    repo.git(&["status", "--porcelain"]);
    let status = repo.git(&["status", "--porcelain"]);
    let before = checkout_state(&repo.root);

    let run = repo.fix_branch(BRANCH, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);

    assert_same_state(&before, &checkout_state(&repo.root));
    assert_eq!(repo.git(&["symbolic-ref", "HEAD"]), "refs/heads/main");
    assert_eq!(repo.rev("HEAD").as_deref(), Some(repo.head.as_str()));
    assert_eq!(repo.git(&["status", "--porcelain"]), status);
    assert_eq!(
        lines(&repo.git(&["diff", "--cached", "--name-only"])),
        [
            "apps/ml-recommendation-inference/base/service.yaml",
            "notes/todo.txt"
        ]
    );
    assert_eq!(lines(&repo.git(&["diff", "--name-only"])), ["README.md"]);
    // Uncommitted work elsewhere is not the user's business to be warned about.
    assert!(
        !run.stderr.contains("working tree differs from HEAD"),
        "{}",
        run.stderr
    );
    // Nor does it leak into the branch.
    assert_branch_is_head_plus_fix(&repo, BRANCH);
}

#[test]
fn the_branch_is_head_plus_exactly_the_fixes_with_author_and_message_from_config() {
    let repo = Repo::seed();
    let run = repo.fix_branch(BRANCH, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_branch_is_head_plus_fix(&repo, BRANCH);
    // The non-YAML README also names the placeholder, and is left alone.
    assert_eq!(
        repo.show(BRANCH, "README.md"),
        repo.show("HEAD", "README.md")
    );

    let configured = format!("{USER_NAME} <{USER_EMAIL}>");
    assert_eq!(identity(&repo, BRANCH, 'a'), configured);
    assert_eq!(identity(&repo, BRANCH, 'c'), configured);

    let (subject, body) = message(&repo, BRANCH);
    assert_eq!(
        subject,
        "fix(manifests): replace 4 placeholder AWS account IDs"
    );
    let changes: Vec<&str> = body
        .lines()
        .filter(|l| l.contains(PLACEHOLDER) && l.contains(REAL) && has_arrow(l))
        .collect();
    assert_eq!(changes.len(), 4, "one line per change (old → new):\n{body}");
    assert!(body.contains("placeholder-account"), "rule named:\n{body}");
    for path in FIXED {
        assert!(body.contains(path), "{path} in the body:\n{body}");
    }
    assert!(!body.contains("mutable-tag"), "nothing pinned:\n{body}");
}

#[test]
fn author_and_message_flags_override_config_and_subject() {
    let repo = Repo::seed();
    let (_, default_body) = {
        let run = repo.fix_branch("default-message", &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        message(&repo, "default-message")
    };
    let run = repo.fix_branch(
        BRANCH,
        &[
            "--author",
            "Linus Reviewer <linus@example.org>",
            "--message",
            "chore: point the overlays at the production account",
        ],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    // As `fix --help` says: the override is author and committer.
    for who in ['a', 'c'] {
        assert_eq!(
            identity(&repo, BRANCH, who),
            "Linus Reviewer <linus@example.org>"
        );
    }
    let (subject, body) = message(&repo, BRANCH);
    assert_eq!(
        subject,
        "chore: point the overlays at the production account"
    );
    assert_eq!(body, default_body, "--message replaces only the subject");
    assert_branch_is_head_plus_fix(&repo, BRANCH);

    let bad = repo.fix_branch("bad-author", &["--author", "no email here"]);
    assert_eq!(bad.code, 2, "{}\n{}", bad.stdout, bad.stderr);
    assert_eq!(repo.branches("bad-author"), "");
}

#[test]
fn the_fix_is_computed_on_head_not_on_the_working_tree() {
    let repo = Repo::seed();
    // In the working tree: one fixed file edited by hand to another real account (which, were
    // it read, would make the target account ambiguous), one deleted, and a new untracked file
    // with a placeholder.
    let production = FIXED[1];
    let edited = String::from_utf8(repo.show("HEAD", production))
        .expect("utf-8")
        .replace(PLACEHOLDER, "210987654321");
    repo.write(production, &edited);
    std::fs::remove_file(repo.root.join(FIXED[2])).expect("rm");
    repo.write(
        "apps/new-app/kustomization.yaml",
        &format!("images:\n  - name: web\n    newName: {PLACEHOLDER}.dkr.ecr.ap-southeast-2.amazonaws.com/web\n    newTag: v1.2.3\n"),
    );
    let before = checkout_state(&repo.root);

    let run = repo.fix_branch(BRANCH, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("working tree differs from HEAD"),
        "{}",
        run.stderr
    );
    assert_branch_is_head_plus_fix(&repo, BRANCH);
    assert_same_state(&before, &checkout_state(&repo.root));
    assert_eq!(
        std::fs::read_to_string(repo.root.join(production)).expect("read"),
        edited
    );
}

#[test]
fn an_existing_branch_is_refused_unless_forced() {
    let repo = Repo::seed();
    repo.git(&["branch", BRANCH]);
    let before = checkout_state(&repo.root);

    let run = repo.fix_branch(BRANCH, &[]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(BRANCH),
        "names the branch: {}",
        run.stderr
    );
    assert!(run.stderr.contains("exists"), "{}", run.stderr);
    assert_eq!(repo.rev(BRANCH).as_deref(), Some(repo.head.as_str()));

    let forced = repo.fix_branch(BRANCH, &["--force"]);
    assert_eq!(forced.code, 0, "{}\n{}", forced.stdout, forced.stderr);
    assert_branch_is_head_plus_fix(&repo, BRANCH);
    assert_same_state(&before, &checkout_state(&repo.root));

    // A second run is refused too: the branch now exists.
    let tip = repo.rev(BRANCH);
    let again = repo.fix_branch(BRANCH, &[]);
    assert_eq!(again.code, 2, "{}\n{}", again.stdout, again.stderr);
    assert_eq!(repo.rev(BRANCH), tip);
}

#[test]
fn the_checked_out_branch_is_never_moved_even_with_force() {
    let repo = Repo::seed();
    let before = checkout_state(&repo.root);
    let run = repo.fix_branch("main", &["--force"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(repo.rev("main").as_deref(), Some(repo.head.as_str()));
    assert_same_state(&before, &checkout_state(&repo.root));
}

#[test]
fn an_unborn_head_is_refused() {
    let (_tmp, root) = temp_fixture("seed-gitops");
    init_repo(&root);
    git(&root, &["add", "-A"]);
    let before = checkout_state(&root);
    let run = manifix(&["fix", "--branch", BRANCH, "."], &root);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("no commit"), "{}", run.stderr);
    assert_eq!(git(&root, &["branch", "--list", BRANCH]), "");
    assert_eq!(git(&root, &["for-each-ref", "refs/heads"]), "");
    assert_same_state(&before, &checkout_state(&root));
}

#[test]
fn outside_a_repository_or_with_a_bad_branch_name_is_an_error() {
    let (_tmp, root) = temp_fixture("seed-gitops");
    let before = snapshot_tree(&root);
    let run = manifix(&["fix", "--branch", BRANCH, "."], &root);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(before, snapshot_tree(&root), "nothing written");

    let repo = Repo::seed();
    let run = repo.fix_branch("bad..name", &[]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        repo.git(&["for-each-ref", "--format=%(refname)", "refs/heads"]),
        "refs/heads/main"
    );
}

#[test]
fn nothing_to_fix_makes_no_branch() {
    let repo = Repo::seed();
    // Fix the placeholders in place and commit them: what is left (the mutable tags) has no
    // source, so nothing can be fixed.
    let fix = manifix(&["fix", "."], &repo.root);
    assert_eq!(fix.code, 0, "{}", fix.stderr);
    repo.git(&["commit", "-q", "-a", "-m", "Fix accounts"]);
    let head = repo.rev("HEAD");

    let run = repo.fix_branch(BRANCH, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("nothing to commit"), "{}", run.stdout);
    assert_eq!(repo.branches(BRANCH), "");
    assert_eq!(repo.rev("HEAD"), head);
}

#[test]
fn a_path_below_the_repository_root_commits_repository_paths() {
    // The repository is the temp dir; the GitOps tree is its `seed-gitops/` folder.
    let (tmp, root) = temp_fixture("seed-gitops");
    let top = tmp.path();
    init_repo(top);
    git(top, &["add", "-A"]);
    git(top, &["commit", "-q", "-m", "Seed"]);
    let expected: Vec<String> = FIXED.iter().map(|p| format!("seed-gitops/{p}")).collect();

    let run = manifix(&["fix", "--branch", "from-top", "seed-gitops"], top);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        lines(&git(top, &["diff", "--name-only", "HEAD", "from-top"])),
        expected
    );

    let run = manifix(&["fix", "--branch", "from-inside", "."], &root);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        git(top, &["rev-parse", "from-top^{tree}"]),
        git(top, &["rev-parse", "from-inside^{tree}"])
    );
    assert_eq!(git(top, &["status", "--porcelain"]), "");
}

#[test]
fn file_modes_are_kept() {
    let (_tmp, root) = temp_fixture("seed-gitops");
    init_repo(&root);
    git(&root, &["add", "-A"]);
    git(&root, &["update-index", "--chmod=+x", FIXED[0]]);
    git(&root, &["commit", "-q", "-m", "Seed"]);
    let run = manifix(&["fix", "--branch", BRANCH, "."], &root);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let mode = |rev: &str, path: &str| {
        git(&root, &["ls-tree", rev, path])
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(mode(BRANCH, FIXED[0]), "100755");
    assert_eq!(mode(BRANCH, FIXED[1]), "100644");
}

#[test]
fn resolved_pins_are_counted_in_the_subject_and_name_their_commit() {
    let repo = Repo::seed();
    let app = make_app_repo(repo.tmp.path());
    let source = "*/ml-fashion-recommender/*=../ml-fashion-recommender";
    let pinned = format!("main-{}", app.main_sha);

    let run = repo.fix_branch(BRANCH, &["--source", source]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let (subject, body) = message(&repo, BRANCH);
    assert!(
        subject.starts_with("fix(manifests): replace ")
            && subject.contains("placeholder AWS account IDs")
            && subject.ends_with(", pin 3 mutable tags"),
        "{subject}"
    );
    let pins: Vec<&str> = body
        .lines()
        .filter(|l| l.contains("main-latest") && has_arrow(l) && l.contains(&pinned))
        .collect();
    assert_eq!(pins.len(), 3, "{body}");
    assert!(body.contains("mutable-tag"), "{body}");
    assert!(
        body.contains(&app.main_sha[..7]),
        "the resolved commit: {body}"
    );
    assert_eq!(repo.changed_files("HEAD", BRANCH), FIXED);
    let staging = String::from_utf8(repo.show(BRANCH, FIXED[2])).expect("utf-8");
    let expected = String::from_utf8(fixed(&repo, FIXED[2]))
        .expect("utf-8")
        .replace("main-latest", &pinned);
    assert_eq!(staging, expected);

    // Only pins left: the subject names only them.
    let fix = manifix(&["fix", "."], &repo.root);
    assert_eq!(fix.code, 0, "{}", fix.stderr);
    repo.git(&["commit", "-q", "-a", "-m", "Fix accounts"]);
    let run = repo.fix_branch("pins-only", &["--source", source]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let (subject, _) = message(&repo, "pins-only");
    assert_eq!(subject, "fix(manifests): pin 3 mutable tags");
}

// ---- push ----

/// A bare clone of the repository at `served/gitops.git`, to push to.
fn bare_remote(repo: &Repo) -> PathBuf {
    let served = repo.tmp.path().join("served");
    std::fs::create_dir_all(&served).expect("mkdir");
    bare_clone(&repo.root, &served, "gitops")
}

fn reject_pushes(bare: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let hook = bare.join("hooks").join("pre-receive");
    std::fs::create_dir_all(hook.parent().expect("hooks")).expect("mkdir");
    std::fs::write(
        &hook,
        "#!/bin/sh\necho \"rejected by policy: fix branches need a ticket\" >&2\nexit 1\n",
    )
    .expect("write hook");
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// `git daemon` serving `base` with pushes enabled (the shared `GitDaemon` only serves
/// fetches); killed on drop.
struct PushDaemon {
    child: Child,
    port: u16,
}

impl PushDaemon {
    fn start(base: &Path) -> PushDaemon {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let exec_path = Command::new("git")
            .arg("--exec-path")
            .output()
            .expect("git --exec-path");
        // The daemon program itself, not `git daemon`: killing `git` would leave it running.
        let program =
            Path::new(String::from_utf8_lossy(&exec_path.stdout).trim()).join("git-daemon");
        let mut child = Command::new(program)
            .args([
                "--listen=127.0.0.1",
                &format!("--port={port}"),
                &format!("--base-path={}", base.display()),
                "--export-all",
                "--enable=receive-pack",
                "--reuseaddr",
                &base.display().to_string(),
            ])
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("git daemon starts");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return PushDaemon { child, port };
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("git daemon did not listen on 127.0.0.1:{port}");
    }

    fn url(&self, name: &str) -> String {
        format!("git://127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for PushDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn assert_pushed(repo: &Repo, bare: &Path, name: &str) {
    let local = repo.rev(&format!("{name}^{{tree}}")).expect("local branch");
    let remote = rev_parse(bare, &format!("refs/heads/{name}^{{tree}}"))
        .unwrap_or_else(|| panic!("{name} not on the remote"));
    assert_eq!(remote, local);
    assert_eq!(
        rev_parse(bare, &format!("refs/heads/{name}")),
        repo.rev(name)
    );
    // The remote's main is not touched.
    assert_eq!(
        rev_parse(bare, "refs/heads/main").as_deref(),
        Some(repo.head.as_str())
    );
}

#[test]
fn push_to_a_bare_remote_over_file_url() {
    let repo = Repo::seed();
    let bare = bare_remote(&repo);
    repo.git(&[
        "remote",
        "add",
        "origin",
        &format!("file://{}", bare.display()),
    ]);
    let before = checkout_state(&repo.root);

    let run = repo.fix_branch(BRANCH, &["--push", "origin"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_branch_is_head_plus_fix(&repo, BRANCH);
    assert_pushed(&repo, &bare, BRANCH);
    assert_same_state(&before, &checkout_state(&repo.root));
}

#[test]
fn push_to_git_daemon_and_a_pre_receive_rejection_is_reported_as_the_remote_said_it() {
    let repo = Repo::seed();
    let bare = bare_remote(&repo);
    let daemon = PushDaemon::start(bare.parent().expect("served"));
    repo.git(&["remote", "add", "daemon", &daemon.url("gitops.git")]);

    let run = repo.fix_branch(BRANCH, &["--push", "daemon"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_pushed(&repo, &bare, BRANCH);

    reject_pushes(&bare);
    let run = repo.fix_branch("rejected", &["--push", "daemon"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("rejected by policy: fix branches need a ticket"),
        "{}",
        run.stderr
    );
    assert_eq!(rev_parse(&bare, "refs/heads/rejected"), None);
}

#[test]
fn a_pre_receive_rejection_over_file_url_is_reported_as_the_remote_said_it() {
    let repo = Repo::seed();
    let bare = bare_remote(&repo);
    reject_pushes(&bare);
    repo.git(&[
        "remote",
        "add",
        "origin",
        &format!("file://{}", bare.display()),
    ]);

    let run = repo.fix_branch(BRANCH, &["--push", "origin"]);
    assert_eq!(
        rev_parse(&bare, &format!("refs/heads/{BRANCH}")),
        None,
        "the hook must run"
    );
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("rejected by policy: fix branches need a ticket"),
        "{}",
        run.stderr
    );
}

#[test]
fn push_to_a_missing_remote_is_an_error() {
    let repo = Repo::seed();
    let run = repo.fix_branch(BRANCH, &["--push", "nowhere"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("nowhere"), "{}", run.stderr);
}

// ---- pull request ----

/// Runs the fix with `--pr-body` (no push: the forge remotes are never contacted) and returns
/// (the run, the PR body).
fn with_pr_body(repo: &Repo, name: &str) -> (Run, String) {
    let body_path = repo.tmp.path().join(format!("{name}.md"));
    let run = repo.fix_branch(name, &["--pr-body", body_path.to_str().expect("utf-8")]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let body = std::fs::read_to_string(&body_path).expect("PR body written");
    (run, body)
}

fn printed(run: &Run) -> String {
    format!("{}{}", run.stdout, run.stderr)
}

#[test]
fn pr_body_has_a_summary_table_the_files_and_what_was_left_unresolved() {
    let repo = Repo::seed();
    let before = checkout_state(&repo.root);
    let (_, md) = with_pr_body(&repo, "fix-accounts");
    assert_same_state(&before, &checkout_state(&repo.root));

    // Summary table: a header separator and a row for the fixed rule with its count.
    assert!(
        md.lines().any(|l| l.starts_with('|') && l.contains("---")),
        "a Markdown table:\n{md}"
    );
    let row = md
        .lines()
        .find(|l| l.starts_with('|') && l.contains("placeholder-account"))
        .unwrap_or_else(|| panic!("a table row for placeholder-account:\n{md}"));
    assert!(row.contains('4'), "{row}");
    for path in FIXED {
        assert!(md.contains(path), "{path}:\n{md}");
    }
    // The unresolved section: the three main-latest tags no source covers, and why.
    let at = md
        .lines()
        .position(|l| l.starts_with('#') && l.to_lowercase().contains("unresolved"))
        .unwrap_or_else(|| panic!("an unresolved heading:\n{md}"));
    let section: String = md
        .lines()
        .skip(at + 1)
        .take_while(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(section.contains("mutable-tag"), "{section}");
    assert!(section.contains("main-latest"), "{section}");
    assert!(section.contains("source"), "why: no source\n{section}");
    assert!(
        section.contains(FIXED[1]) && section.contains(FIXED[2]),
        "{section}"
    );
    assert!(!section.contains(FIXED[0]), "{section}");
}

#[test]
fn pr_url_for_github_gitlab_and_bitbucket_remotes() {
    let repo = Repo::seed();
    repo.git(&[
        "remote",
        "add",
        "origin",
        "https://github.com/acme/gitops.git",
    ]);
    let cases = [
        (
            "https://github.com/acme/gitops.git",
            "gh-https",
            "https://github.com/acme/gitops/compare/main...gh-https?expand=1",
        ),
        (
            "git@github.com:acme/gitops.git",
            "gh-scp",
            "https://github.com/acme/gitops/compare/main...gh-scp?expand=1",
        ),
        (
            "git@gitlab.com:acme/gitops.git",
            "gl-scp",
            "https://gitlab.com/acme/gitops/-/merge_requests/new?merge_request[source_branch]=gl-scp",
        ),
        (
            "https://bitbucket.org/acme/gitops.git",
            "bb-https",
            "https://bitbucket.org/acme/gitops/pull-requests/new?source=bb-https",
        ),
    ];
    for (url, name, expected) in cases {
        repo.git(&["remote", "set-url", "origin", url]);
        let (run, _) = with_pr_body(&repo, name);
        assert!(
            printed(&run).contains(expected),
            "{url}: expected {expected} in\n{}",
            printed(&run)
        );
    }
}

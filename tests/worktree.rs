//! `fix --branch NAME --force` never moves a branch checked out in any worktree of the
//! repository, as `git branch -f` refuses to: a linked worktree's branch from the main one, and
//! the main worktree's branch from a linked one.

mod common;
use common::git::*;
use common::*;

use std::path::{Path, PathBuf};

/// The seed committed on `main`, and a linked worktree `wt` beside it on a new branch
/// `feature`.
struct Worktrees {
    _tmp: tempfile::TempDir,
    main: PathBuf,
    linked: PathBuf,
    head: String,
}

fn worktrees() -> Worktrees {
    let (tmp, main) = temp_fixture("seed-gitops");
    git(&main, &["init", "-q"]);
    git(&main, &["config", "user.name", "Grace Hopper"]);
    git(&main, &["config", "user.email", "grace@example.com"]);
    git(&main, &["add", "-A"]);
    git(&main, &["commit", "-q", "-m", "Seed the GitOps repository"]);
    let head = git(&main, &["rev-parse", "HEAD"]);
    git(&main, &["worktree", "add", "-q", "../wt", "-b", "feature"]);
    let linked = tmp.path().join("wt");
    Worktrees {
        _tmp: tmp,
        main,
        linked,
        head,
    }
}

fn rev(dir: &Path, name: &str) -> String {
    git(dir, &["rev-parse", &format!("refs/heads/{name}")])
}

/// Exit 2, an error naming the worktree the branch is checked out in, the branch unmoved.
fn assert_refused(run: &Run, worktree: &Path, before: &str, after: &str) {
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    let real = worktree.canonicalize().expect("canonical");
    assert!(
        run.stderr.contains("checked out in the worktree at")
            && (run.stderr.contains(&*real.to_string_lossy())
                || run.stderr.contains(&*worktree.to_string_lossy())),
        "names the worktree {}: {}",
        real.display(),
        run.stderr
    );
    assert_eq!(before, after, "the branch did not move");
    assert!(!run.stdout.contains("created branch"), "{}", run.stdout);
}

#[test]
fn a_branch_checked_out_in_a_linked_worktree_is_not_moved_from_the_main_one() {
    let w = worktrees();
    let before = rev(&w.main, "feature");
    let run = manifix(&["fix", "--branch", "feature", "--force", "."], &w.main);
    assert_refused(&run, &w.linked, &before, &rev(&w.main, "feature"));
    // Without --force it is refused too (it exists), and the error is still about the worktree.
    let plain = manifix(&["fix", "--branch", "feature", "."], &w.main);
    assert_refused(&plain, &w.linked, &before, &rev(&w.main, "feature"));
}

#[test]
fn the_main_worktrees_branch_is_not_moved_from_a_linked_one() {
    let w = worktrees();
    let run = manifix(&["fix", "--branch", "main", "--force", "."], &w.linked);
    assert_refused(&run, &w.main, &w.head, &rev(&w.main, "main"));
    // The linked worktree's own branch stays refused as the checked-out one.
    let own = manifix(&["fix", "--branch", "feature", "--force", "."], &w.linked);
    assert_eq!(own.code, 2, "{}\n{}", own.stdout, own.stderr);
    assert_eq!(rev(&w.main, "feature"), w.head);
}

#[test]
fn other_branches_are_still_made_and_forced_from_either_worktree() {
    let w = worktrees();
    git(&w.main, &["branch", "spare"]);
    for dir in [&w.main, &w.linked] {
        let run = manifix(&["fix", "--branch", "spare", "--force", "."], dir);
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
        assert_ne!(rev(&w.main, "spare"), w.head);
    }
    let fresh = manifix(&["fix", "--branch", "manifix/fixes", "."], &w.linked);
    assert_eq!(fresh.code, 0, "{}\n{}", fresh.stdout, fresh.stderr);
    assert_eq!(rev(&w.main, "main"), w.head);
    assert_eq!(rev(&w.main, "feature"), w.head);
}

/// A linked worktree whose directory was removed but not pruned still holds its branch for
/// git (`git branch -f` refuses until `git worktree prune`), and so for manifix.
#[test]
fn a_worktree_removed_without_pruning_still_holds_its_branch() {
    let w = worktrees();
    std::fs::remove_dir_all(&w.linked).expect("remove worktree dir");
    let run = manifix(&["fix", "--branch", "feature", "--force", "."], &w.main);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("worktree"), "{}", run.stderr);
    assert_eq!(rev(&w.main, "feature"), w.head);
    git(&w.main, &["worktree", "prune"]);
    let pruned = manifix(&["fix", "--branch", "feature", "--force", "."], &w.main);
    assert_eq!(pruned.code, 0, "{}\n{}", pruned.stdout, pruned.stderr);
}

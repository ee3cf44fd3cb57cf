//! A hostile repository's files: directories swapped for links while a run reads them,
//! unreadable directories, names that are not UTF-8, hard links and metadata, inputs of any
//! size, the files that steer the run, paths given twice, and a write past `ulimit -f`.
#![cfg(unix)]

mod common;
use common::git::git;
use common::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

const SA: &str = "apiVersion: v1
kind: ServiceAccount
metadata:
  name: web
  annotations:
    eks.amazonaws.com/role-arn: arn:aws:iam::123456789012:role/web
";

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, bytes).expect("write");
}

fn fixed_sa() -> String {
    SA.replace(PLACEHOLDER, REAL)
}

fn is_root() -> bool {
    // SAFETY: geteuid only reads the process's user id.
    unsafe { libc::geteuid() == 0 }
}

/// A directory swapped for a link out of the root while `fix` runs, at many moments from
/// its start to its end: whatever the moment, nothing outside the root ever changes.
#[test]
fn a_directory_swapped_for_a_link_during_a_run_is_never_written_through() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("root");
    let outside = tmp.path().join("outside");
    // Many documents make the run last a while, so swaps land between walk, read and write.
    let docs: String = (0..3000)
        .map(|i| {
            format!(
                "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\ndata:\n  k: v\n"
            )
        })
        .collect();
    write(&root, "a.yaml", docs.as_bytes());
    write(&outside, "z.yaml", SA.as_bytes());
    let mut outcomes = std::collections::BTreeSet::new();
    for delay_ms in (0..=60).step_by(3) {
        write(&root, "d/z.yaml", SA.as_bytes());
        let child = Command::new(env!("CARGO_BIN_EXE_manifix"))
            .args(["fix", "--account", REAL])
            .arg(&root)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        std::fs::rename(root.join("d"), root.join("d.old")).expect("move d away");
        std::os::unix::fs::symlink(&outside, root.join("d")).expect("link d out");
        let out = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
        let code = out.status.code().expect("exit code");
        assert!(
            code == 0 || code == 2,
            "{delay_ms} ms: exit {code}: {stderr}"
        );
        assert_eq!(
            std::fs::read_to_string(outside.join("z.yaml")).expect("read"),
            SA,
            "{delay_ms} ms: the file outside the root was written: {stderr}"
        );
        let leftovers = std::fs::read_dir(&outside).expect("list").count();
        assert_eq!(leftovers, 1, "{delay_ms} ms: no temporary file outside");
        outcomes.insert(code);
        std::fs::remove_file(root.join("d")).expect("unlink");
        std::fs::remove_dir_all(root.join("d.old")).expect("clean");
    }
    assert!(!outcomes.is_empty());
}

/// A file opened below the path the user named follows no link, and must be the file the
/// walk saw: the library's view of what the race above exercises through the binary.
#[test]
fn walked_files_open_without_links_and_must_be_the_file_walked() {
    use manifix::fsio::{read_walked, Seen};
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("root");
    write(&root, "d/z.yaml", SA.as_bytes());
    write(tmp.path(), "outside/z.yaml", SA.as_bytes());
    let walked = root.join("d/z.yaml");
    let ino = std::fs::metadata(&walked).expect("meta").ino();
    let seen = Seen {
        named_len: root.as_os_str().len() as u32,
        ino,
    };
    let bytes = read_walked(&walked, seen, 1 << 20)
        .expect("read")
        .expect("small");
    assert_eq!(bytes, SA.as_bytes());
    // The named part may be a link: it is the user's own.
    std::os::unix::fs::symlink(&root, tmp.path().join("named-link")).expect("link");
    let through_named = tmp.path().join("named-link/d/z.yaml");
    let named = Seen {
        named_len: tmp.path().join("named-link").as_os_str().len() as u32,
        ino,
    };
    assert!(read_walked(&through_named, named, 1 << 20).is_ok());
    // Below it, a directory swapped for a link is not followed...
    std::fs::rename(root.join("d"), root.join("d.old")).expect("move");
    std::os::unix::fs::symlink(tmp.path().join("outside"), root.join("d")).expect("link");
    let err = read_walked(&walked, seen, 1 << 20).expect_err("through a link");
    assert!(err.to_string().contains("not followed"), "{err}");
    // ...and another file at the walked path is not the walked one.
    std::fs::remove_file(root.join("d")).expect("unlink");
    write(&root, "d/z.yaml", SA.as_bytes());
    let err = read_walked(&walked, seen, 1 << 20).expect_err("another file");
    assert!(manifix::fsio::is_replaced(&err), "{err}");
}

/// `manifix` run as a user who cannot read `secret/` (root reads every directory, so a root
/// test runs it as nobody).
fn manifix_unprivileged(args: &[&str], cwd: &Path) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_manifix"));
    command.args(args).current_dir(cwd);
    if is_root() {
        use std::os::unix::process::CommandExt;
        command.uid(65534).gid(65534);
    }
    let out = command.output().expect("run manifix");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn an_unreadable_directory_fails_the_gate() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("repo");
    write(&root, "ok/sa.yaml", fixed_sa().as_bytes());
    write(&root, "secret/sa.yaml", SA.as_bytes());
    for dir in [tmp.path(), root.as_path(), &root.join("ok")] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    }
    std::fs::set_permissions(root.join("secret"), std::fs::Permissions::from_mode(0o000))
        .expect("chmod");
    for args in [
        &["check", "."][..],
        &["fix", "--account", REAL, "."],
        &["fix", "--dry-run", "--exit-code", "."],
        &["check", "--format", "json", "."],
    ] {
        let run = manifix_unprivileged(args, &root);
        assert_eq!(run.code, 2, "{args:?}: {}\n{}", run.stdout, run.stderr);
        let said = format!("{}{}", run.stdout, run.stderr);
        assert!(
            said.contains("secret") && said.contains("nothing in it was checked"),
            "{args:?}: {said}"
        );
    }
    std::fs::set_permissions(root.join("secret"), std::fs::Permissions::from_mode(0o755))
        .expect("chmod back");
    assert_eq!(
        std::fs::read_to_string(root.join("secret/sa.yaml")).expect("read"),
        SA
    );
}

fn non_utf8(name: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(name))
}

/// Two names that differ only in a byte that is not UTF-8: neither is dropped or mistaken
/// for the other; `check`, `fix` and `fix --branch` list both as skipped, by distinct names,
/// and none of them edits either.
#[test]
fn names_that_are_not_utf8_are_each_listed_and_never_edited() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("repo");
    write(&root, "good.yaml", SA.as_bytes());
    for name in [&b"bad\xff.yaml"[..], b"bad\xfe.yaml"] {
        std::fs::write(root.join(non_utf8(name)), SA).expect("write");
    }
    git(&root, &["init", "-q"]);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "seed"]);
    let listed = |run: &Run| {
        for shown in ["bad\\377.yaml", "bad\\376.yaml"] {
            assert!(
                run.stderr.contains(shown) && run.stderr.contains("not valid UTF-8"),
                "{shown} not listed: {}",
                run.stderr
            );
        }
    };
    let check = manifix(&["check", "--format", "json", "."], &root);
    let json: serde_json::Value = serde_json::from_str(&check.stdout).expect("json");
    // Each is listed, and told apart by its exact bytes in the reason.
    let skipped: Vec<&str> = json["skipped"]
        .as_array()
        .expect("skipped")
        .iter()
        .filter_map(|s| s["reason"].as_str())
        .collect();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert!(
        skipped.iter().any(|r| r.contains("bad\\377.yaml")),
        "{skipped:?}"
    );
    assert!(
        skipped.iter().any(|r| r.contains("bad\\376.yaml")),
        "{skipped:?}"
    );
    assert_eq!(json["findings"].as_array().expect("findings").len(), 1);
    listed(&manifix(&["check", "."], &root));

    let branch = manifix(
        &[
            "fix",
            "--account",
            REAL,
            "--branch",
            "fixes",
            "--author",
            "A <a@example.com>",
            ".",
        ],
        &root,
    );
    assert_eq!(branch.code, 0, "{}\n{}", branch.stdout, branch.stderr);
    listed(&branch);
    let changed = git(&root, &["diff", "--name-only", "main", "fixes"]);
    assert_eq!(changed, "good.yaml", "only the UTF-8 name is committed");

    let fix = manifix(&["fix", "--account", REAL, "."], &root);
    assert_eq!(fix.code, 0, "{}\n{}", fix.stdout, fix.stderr);
    listed(&fix);
    for name in [&b"bad\xff.yaml"[..], b"bad\xfe.yaml"] {
        assert_eq!(
            std::fs::read_to_string(root.join(non_utf8(name))).expect("read"),
            SA
        );
    }
    assert_eq!(
        std::fs::read_to_string(root.join("good.yaml")).expect("read"),
        fixed_sa()
    );
}

/// A file with a second name is reported and left alone (writing it would split the names);
/// `--break-hardlinks` writes it.
#[test]
fn a_hard_linked_file_is_left_alone_unless_asked() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("repo");
    write(&root, "apps/sa.yaml", SA.as_bytes());
    std::fs::hard_link(root.join("apps/sa.yaml"), tmp.path().join("elsewhere.yaml")).expect("link");
    let run = manifix(&["fix", "--account", REAL, "."], &root);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("apps/sa.yaml") && run.stderr.contains("hard links"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("elsewhere.yaml")).expect("read"),
        SA
    );
    assert_eq!(
        std::fs::metadata(root.join("apps/sa.yaml"))
            .expect("meta")
            .nlink(),
        2
    );

    let run = manifix(&["fix", "--account", REAL, "--break-hardlinks", "."], &root);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        std::fs::read_to_string(root.join("apps/sa.yaml")).expect("read"),
        fixed_sa()
    );
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("elsewhere.yaml")).expect("read"),
        SA
    );
}

/// A POSIX ACL as the kernel stores it (`system.posix_acl_access`): owner rw, user 4242 r,
/// group r, mask r, other none.
fn acl_bytes() -> Vec<u8> {
    let mut acl = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in [
        (0x01u16, 6u16, u32::MAX),
        (0x02, 4, 4242),
        (0x04, 4, u32::MAX),
        (0x10, 4, u32::MAX),
        (0x20, 0, u32::MAX),
    ] {
        acl.extend_from_slice(&tag.to_le_bytes());
        acl.extend_from_slice(&perm.to_le_bytes());
        acl.extend_from_slice(&id.to_le_bytes());
    }
    acl
}

/// The rewrite keeps mode, extended attributes, the ACL and (where the run may set them,
/// as root) owner and group.
#[cfg(target_os = "linux")]
#[test]
fn a_rewritten_file_keeps_its_owner_attributes_and_acl() {
    use rustix::fs::{getxattr, setxattr, XattrFlags};
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("repo");
    write(&root, "sa.yaml", SA.as_bytes());
    let file = root.join("sa.yaml");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    setxattr(&file, "user.manifix-test", b"kept", XattrFlags::empty()).expect("user xattr");
    setxattr(
        &file,
        "system.posix_acl_access",
        &acl_bytes(),
        XattrFlags::empty(),
    )
    .expect("acl");
    if is_root() {
        std::os::unix::fs::chown(&file, Some(1234), Some(5678)).expect("chown");
    }
    let before = std::fs::metadata(&file).expect("meta");
    let run = manifix(&["fix", "--account", REAL, "."], &root);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(std::fs::read_to_string(&file).expect("read"), fixed_sa());
    let after = std::fs::metadata(&file).expect("meta");
    assert_ne!(before.ino(), after.ino(), "written by a rename");
    assert_eq!(before.mode(), after.mode());
    assert_eq!((before.uid(), before.gid()), (after.uid(), after.gid()));
    let mut value = [0u8; 64];
    let n = getxattr(&file, "user.manifix-test", &mut value[..]).expect("user xattr kept");
    assert_eq!(&value[..n], b"kept");
    let mut acl = [0u8; 128];
    let n = getxattr(&file, "system.posix_acl_access", &mut acl[..]).expect("acl kept");
    assert_eq!(acl[..n], acl_bytes()[..]);
}

/// Every input the user names is read only up to a bound: a 2 GB `manifix.yaml` (the
/// repository's own), `--config`, `--recipe`, `--repos` and `--report` on endless devices.
#[test]
fn every_input_is_size_limited_before_it_is_read() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("repo");
    write(&root, "sa.yaml", SA.as_bytes());
    // Sparse: two gigabytes that take no disk.
    let config = std::fs::File::create(root.join("manifix.yaml")).expect("create");
    config.set_len(2 << 30).expect("grow");
    let run = manifix(&["check", "."], &root);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("manifix.yaml") && run.stderr.contains("larger than"),
        "{}",
        run.stderr
    );
    std::fs::remove_file(root.join("manifix.yaml")).expect("rm");
    for (args, what) in [
        (&["check", "--config", "/dev/zero", "."][..], "config"),
        (&["check", "--recipe", "/dev/urandom", "."], "recipe"),
        (
            &["fix", "--dry-run", "--recipe", "/dev/zero", "."],
            "recipe",
        ),
        (
            &[
                "bulk",
                "--recipe",
                "fix-placeholder-accounts",
                "--repos",
                "/dev/zero",
                "--dry-run",
            ],
            "--repos",
        ),
    ] {
        let run = manifix(args, &root);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains(what) && run.stderr.contains("larger than"),
            "{args:?}: {}",
            run.stderr
        );
    }
    write(tmp.path(), "repos.txt", b"repo\n");
    let run = manifix(&bulk_dry_run(&["--report", "/dev/zero"]), tmp.path());
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("--report") && run.stderr.contains("larger than"),
        "{}",
        run.stderr
    );
}

/// The recipe and config that steer a run are never checked or edited by it, in place or
/// on a branch (both name the placeholder registry a run would otherwise rewrite).
#[test]
fn the_files_that_steer_a_run_are_never_edited_by_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("repo");
    let host = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
    let recipe = format!(
        "name: here\ndescription: move the registry\nsteps:\n  - move-registry:\n      from: {host}\n      to: 465002806239.dkr.ecr.us-east-1.amazonaws.com\n"
    );
    let config = format!("sources:\n  - image: \"{host}/app\"\n    repo: ../app\n");
    let pod = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: c\n      image: {host}/app:v1\n"
    );
    write(&root, "r.yaml", recipe.as_bytes());
    write(&root, "manifix.yaml", config.as_bytes());
    write(&root, "pod.yaml", pod.as_bytes());
    git(&root, &["init", "-q"]);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "seed"]);
    let branch = manifix(
        &[
            "fix",
            "--recipe",
            "r.yaml",
            "--branch",
            "moved",
            "--author",
            "A <a@example.com>",
            ".",
        ],
        &root,
    );
    assert_eq!(branch.code, 0, "{}\n{}", branch.stdout, branch.stderr);
    assert_eq!(
        git(&root, &["diff", "--name-only", "main", "moved"]),
        "pod.yaml"
    );
    let run = manifix(&["fix", "--recipe", "r.yaml", "."], &root);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        std::fs::read_to_string(root.join("r.yaml")).expect("read"),
        recipe
    );
    assert_eq!(
        std::fs::read_to_string(root.join("pod.yaml")).expect("read"),
        pod.replace(PLACEHOLDER, REAL)
    );
    let again = manifix(
        &["check", "--recipe", "./r.yaml", "--format", "json", "."],
        &root,
    );
    let json: serde_json::Value = serde_json::from_str(&again.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", again.stdout, again.stderr));
    assert_eq!(
        json["findings"].as_array().expect("findings").len(),
        0,
        "{}",
        again.stdout
    );
    let fix = manifix(&["fix", "--account", REAL, "."], &root);
    assert_eq!(fix.code, 0, "{}\n{}", fix.stdout, fix.stderr);
    assert_eq!(
        std::fs::read_to_string(root.join("manifix.yaml")).expect("read"),
        config
    );
}

/// Paths that overlap (`.` and `apps/../apps`, `.` and `../base` from inside `base`) are
/// walked once: each finding is reported once, and `fix` writes each file once.
#[test]
fn overlapping_paths_are_walked_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("repo");
    write(&root, "apps/sa.yaml", SA.as_bytes());
    write(&root, "base/sa.yaml", SA.as_bytes());
    let count = |run: &Run| lines_of(&run.stdout, "placeholder-account").len();
    assert_eq!(count(&manifix(&["check", ".", "apps/../apps"], &root)), 2);
    assert_eq!(count(&manifix(&["check", "apps/../apps", "."], &root)), 2);
    assert_eq!(
        count(&manifix(&["check", ".", "../base"], &root.join("base"))),
        1
    );
    let run = manifix(
        &["fix", "--account", REAL, ".", "apps/../apps", "apps"],
        &root,
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("fixed 2 findings in 2 files"),
        "{}",
        run.stdout
    );
}

/// Under `ulimit -f`, a write past the limit is an error (EFBIG) with a message, the file
/// untouched and no temporary file left, rather than a kill by SIGXFSZ.
#[test]
fn a_write_past_the_file_size_limit_is_an_error_not_a_kill() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("repo");
    let big = format!(
        "{SA}{}",
        "# padding that takes the file past the limit\n".repeat(200)
    );
    write(&root, "sa.yaml", big.as_bytes());
    let out = Command::new("sh")
        .arg("-c")
        .arg("ulimit -f 4 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_manifix"))
        .args(["fix", "--account", REAL, "."])
        .current_dir(&root)
        .output()
        .expect("sh");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "killed or wrong status: {:?} {stderr}",
        out.status
    );
    assert!(
        stderr.contains("sa.yaml") && stderr.contains("too large"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("sa.yaml")).expect("read"),
        big
    );
    let names: Vec<_> = std::fs::read_dir(&root)
        .expect("list")
        .filter_map(Result::ok)
        .collect();
    assert_eq!(names.len(), 1, "no temporary file left");
}

//! Registry checks against a real ECR API: `moto_server` (the AWS emulator, installed by
//! .ci/run) on 127.0.0.1, with repositories and tagged images created through boto3, and the
//! real binary reaching it through AWS_ENDPOINT_URL.
#![cfg(feature = "ecr")]

mod common;

use common::git::{git, make_app_repo};
use common::{copy_dir, fixture, lines_of, REAL};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const REGION: &str = "ap-southeast-2";

/// `moto_server` on a free port of 127.0.0.1, in account REAL; killed on drop.
struct Moto {
    child: Child,
    url: String,
}

impl Moto {
    fn start() -> Moto {
        Self::start_with(&[])
    }

    fn start_with(env: &[(&str, &str)]) -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_ACCOUNT_ID", REAL)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server runs (pip install 'moto[server]'; .ci/run installs it)");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Creates each repository with its tags (an empty list: the repository only).
    /// Runs a boto3 script with `ecr` and `iam` clients bound to this server; returns stdout.
    fn python(&self, body: &str) -> String {
        let script = format!(
            "import boto3, hashlib, json, sys\nkw = dict(endpoint_url={url:?}, aws_access_key_id='testing', aws_secret_access_key='testing')\necr = boto3.client('ecr', region_name='ap-southeast-2', **kw)\niam = boto3.client('iam', region_name='us-east-1', **kw)\n{body}",
            url = self.url
        );
        let out = Command::new("python3")
            .arg("-c")
            .arg(&script)
            .output()
            .expect("python3 with boto3");
        assert!(
            out.status.success(),
            "boto3: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn seed(&self, repos: &[(&str, &[&str])]) {
        let spec: Vec<String> = repos
            .iter()
            .map(|(r, tags)| format!("{r}={}", tags.join(",")))
            .collect();
        let script = r#"
import boto3, hashlib, json, sys
url = sys.argv[1]
ecr = boto3.client("ecr", region_name="ap-southeast-2", endpoint_url=url,
                   aws_access_key_id="testing", aws_secret_access_key="testing")
for item in sys.argv[2:]:
    repo, tags = item.split("=", 1)
    ecr.create_repository(repositoryName=repo)
    for tag in filter(None, tags.split(",")):
        digest = "sha256:" + hashlib.sha256((repo + tag).encode()).hexdigest()
        manifest = {"schemaVersion": 2,
                    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                    "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                               "size": 100, "digest": digest},
                    "layers": []}
        ecr.put_image(repositoryName=repo, imageManifest=json.dumps(manifest), imageTag=tag)
"#;
        let out = Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(&self.url)
            .args(&spec)
            .output()
            .expect("python3 with boto3");
        assert!(
            out.status.success(),
            "seeding moto: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// The real binary with AWS pointed at `endpoint` and nothing else of this machine's AWS setup.
fn manifix_aws(args: &[&str], cwd: &Path, endpoint: &str) -> Run {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_manifix"))
        .args(args)
        .current_dir(cwd)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", cwd.join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            cwd.join("no-aws-credentials"),
        )
        .env("AWS_MAX_ATTEMPTS", "1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .expect("run manifix");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    run
}

#[test]
fn seed_images_checked_against_ecr_missing_repository_and_missing_tag() {
    let moto = Moto::start();
    moto.seed(&[
        ("ml-fashion-recommender/data_ingestion", &["main-latest"]),
        (
            "ml-fashion-recommender/inference",
            &["main-0000000000000000000000000000000000000000"],
        ),
    ]);
    let tmp = tempfile::tempdir().expect("tmp");
    let repo = tmp.path().join("seed");
    copy_dir(&fixture("seed-gitops"), &repo);
    let run = manifix_aws(&["check", "--registry", "."], &repo, &moto.url);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);

    let missing_repo = lines_of(&run.stdout, "ecr-repository-missing");
    assert_eq!(missing_repo.len(), 1, "{}", run.stdout);
    assert!(
        missing_repo[0].starts_with(
            "apps/ml-training-workflow-circle/overlays/staging/kustomization.yaml:16:"
        ),
        "{}",
        missing_repo[0]
    );
    assert!(missing_repo[0].contains(&format!("ECR repository `ml-fashion-recommender/data_processing`, which does not exist in account {REAL} ({REGION})")), "{}", missing_repo[0]);

    let missing_tag = lines_of(&run.stdout, "ecr-tag-missing");
    assert_eq!(missing_tag.len(), 1, "{}", run.stdout);
    assert!(
        missing_tag[0].starts_with(
            "apps/ml-recommendation-inference/overlays/production/kustomization.yaml:13:13: "
        ),
        "{}",
        missing_tag[0]
    );
    assert!(
        missing_tag[0].contains(
            "tag `main-a0f13477eca7bfd3c908afdfff2fa18d1b6be5c0` is not in ECR repository"
        ),
        "{}",
        missing_tag[0]
    );

    // data_ingestion:main-latest exists (checked after the placeholder account is fixed): no
    // registry finding there, in either overlay.
    assert!(
        !run.stdout
            .lines()
            .any(|l| l.contains(": ecr-") && l.contains("data_ingestion")),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr
            .contains("registry: checked 2 of 3 tags in 3 of 3 ECR repositories"),
        "{}",
        run.stderr
    );

    // Without --registry nothing is asked and the rules stay silent.
    let plain = manifix_aws(&["check", "."], &repo, "http://127.0.0.1:1");
    assert!(!plain.stdout.contains("ecr-"), "{}", plain.stdout);
}

#[test]
fn require_image_pins_to_the_newest_commit_whose_image_was_pushed() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().expect("tmp");
    let app = make_app_repo(tmp.path());
    let history: Vec<String> = git(&app.path, &["rev-list", "--first-parent", "main"])
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(history.len(), 3);
    // CI has pushed main~1 only: the head's build is not there yet.
    let pushed = format!("main-{}", history[1]);
    moto.seed(&[("ml-fashion-recommender/train", &[pushed.as_str()])]);

    let repo = tmp.path().join("gitops");
    std::fs::create_dir_all(repo.join("overlays/prod")).unwrap();
    std::fs::write(
        repo.join("overlays/prod/kustomization.yaml"),
        format!("images:\n  - name: train\n    newName: {REAL}.dkr.ecr.{REGION}.amazonaws.com/ml-fashion-recommender/train\n    newTag: main-latest\n"),
    )
    .unwrap();
    let source = format!("*/ml-fashion-recommender/*={}", app.path.display());

    let walked = manifix_aws(
        &[
            "fix",
            "--dry-run",
            "--require-image",
            "--source",
            &source,
            ".",
        ],
        &repo,
        &moto.url,
    );
    assert_eq!(walked.code, 0, "{}{}", walked.stdout, walked.stderr);
    assert!(
        walked.stdout.contains(&format!("+    newTag: {pushed}")),
        "{}",
        walked.stdout
    );
    let check = manifix_aws(
        &["check", "--source", &source, "--registry", "."],
        &repo,
        &moto.url,
    );
    assert!(
        check.stdout.contains(&format!(
            "tag `main-{}` is not in ECR repository",
            history[0]
        )),
        "without --require-image the head is pinned and reported missing: {}",
        check.stdout
    );

    let explained = manifix_aws(&["check", "--source", &source, "."], &repo, &moto.url);
    assert!(!explained.stdout.contains("ecr-"), "{}", explained.stdout);
    let fixed = manifix_aws(
        &["fix", "--require-image", "--source", &source, "."],
        &repo,
        &moto.url,
    );
    assert_eq!(fixed.code, 0, "{}{}", fixed.stdout, fixed.stderr);
    let text = std::fs::read_to_string(repo.join("overlays/prod/kustomization.yaml")).unwrap();
    assert!(text.ends_with(&format!("newTag: {pushed}\n")), "{text}");

    // The diff says which commit was passed over and why.
    assert!(
        walked
            .stdout
            .contains(&format!("main: CI has not pushed main-{} yet", history[0])),
        "{}",
        walked.stdout
    );
}

#[test]
fn registry_without_ecr_images_checks_nothing_and_needs_no_network() {
    let tmp = tempfile::tempdir().expect("tmp");
    std::fs::write(
        tmp.path().join("deploy.yaml"),
        "kind: Pod\nspec:\n  containers:\n    - name: web\n      image: ghcr.io/acme/web:v1.2.3\n",
    )
    .unwrap();
    // An endpoint nothing listens on: any call would fail.
    let run = manifix_aws(
        &["check", "--registry", "."],
        tmp.path(),
        "http://127.0.0.1:1",
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("registry: no image of this repository is in a private ECR registry; nothing was checked"), "{}", run.stderr);
}

#[test]
fn an_unreachable_registry_is_reported_as_not_checked_never_as_missing() {
    let tmp = tempfile::tempdir().expect("tmp");
    std::fs::write(
        tmp.path().join("deploy.yaml"),
        format!("kind: Pod\nspec:\n  containers:\n    - name: web\n      image: {REAL}.dkr.ecr.{REGION}.amazonaws.com/acme/web:v1.2.3\n"),
    )
    .unwrap();
    let run = manifix_aws(
        &["check", "--registry", "."],
        tmp.path(),
        "http://127.0.0.1:1",
    );
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(!run.stdout.contains("ecr-"), "{}", run.stdout);
    assert!(run.stderr.contains(&format!("registry: not checked: {REAL}.dkr.ecr.{REGION}.amazonaws.com/acme/web (1 tag): cannot reach ECR")), "{}", run.stderr);
}

#[test]
fn access_denied_is_named_and_nothing_is_reported_missing() {
    // moto enforces IAM after the first 4 requests: the setup below.
    let moto = Moto::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "4")]);
    let keys = moto.python(
        "ecr.create_repository(repositoryName='acme/web')\n\
         iam.create_user(UserName='ci')\n\
         k = iam.create_access_key(UserName='ci')['AccessKey']\n\
         iam.put_user_policy(UserName='ci', PolicyName='s3-only', PolicyDocument=json.dumps({'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': 's3:ListBucket', 'Resource': '*'}]}))\n\
         print(k['AccessKeyId'], k['SecretAccessKey'])",
    );
    let (id, secret) = keys.split_once(' ').expect("two keys");
    let tmp = tempfile::tempdir().expect("tmp");
    std::fs::write(
        tmp.path().join("deploy.yaml"),
        format!("kind: Pod\nspec:\n  containers:\n    - name: web\n      image: {REAL}.dkr.ecr.{REGION}.amazonaws.com/acme/web:v1.2.3\n"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_manifix"))
        .args(["check", "--registry", "."])
        .current_dir(tmp.path())
        .env("AWS_ENDPOINT_URL", &moto.url)
        .env("AWS_ACCESS_KEY_ID", id)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", tmp.path().join("none"))
        .env("AWS_SHARED_CREDENTIALS_FILE", tmp.path().join("none"))
        .env_remove("AWS_PROFILE")
        .output()
        .expect("run manifix");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(!stdout.contains("ecr-"), "{stdout}");
    assert!(
        stderr.contains(
            "acme/web (1 tag): access denied (HTTP 403): the credentials need ecr:DescribeImages"
        ),
        "{stderr}"
    );
}

/// A TCP relay in front of moto that counts the DescribeImages calls passing through it.
struct CountingProxy {
    url: String,
    calls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl CountingProxy {
    fn start(upstream: &str) -> CountingProxy {
        use std::io::{Read, Write};
        use std::sync::atomic::{AtomicUsize, Ordering};
        let target = upstream.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let calls = std::sync::Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                let (mut c_read, mut s_write) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (mut s_read, mut c_write) = (server, client);
                let counter = counter.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 65536];
                    let mut tail = Vec::new();
                    while let Ok(n) = c_read.read(&mut buf) {
                        if n == 0 || s_write.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        // Count the operation header, even when it straddles two reads.
                        tail.extend_from_slice(&buf[..n]);
                        let text = String::from_utf8_lossy(&tail).into_owned();
                        let needle = "AmazonEC2ContainerRegistry_V20150921.DescribeImages";
                        counter.fetch_add(text.matches(needle).count(), Ordering::SeqCst);
                        let keep = tail.len().min(needle.len() - 1);
                        tail = tail.split_off(tail.len() - keep);
                    }
                });
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut s_read, &mut c_write);
                });
            }
        });
        CountingProxy { url, calls }
    }

    fn calls(&self) -> usize {
        self.calls.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[test]
fn one_describe_images_call_per_repository_plus_one_per_missing_tag() {
    let moto = Moto::start();
    moto.seed(&[
        ("team/web", &["v1.0.0", "v1.1.0", "v1.2.0"]),
        ("team/api", &["v2.0.0"]),
    ]);
    let tmp = tempfile::tempdir().expect("tmp");
    let host = format!("{REAL}.dkr.ecr.{REGION}.amazonaws.com");
    let mut doc = String::from("kind: Pod\nspec:\n  containers:\n");
    for (i, image) in [
        "team/web:v1.0.0",
        "team/web:v1.1.0",
        "team/web:v1.2.0",
        "team/web:v1.0.0",
        "team/api:v2.0.0",
        "team/api:v2.1.0",
        "team/gone:v1",
    ]
    .iter()
    .enumerate()
    {
        doc.push_str(&format!("    - name: c{i}\n      image: {host}/{image}\n"));
    }
    std::fs::write(tmp.path().join("pod.yaml"), doc).unwrap();
    let proxy = CountingProxy::start(&moto.url);
    let run = manifix_aws(&["check", "--registry", "."], tmp.path(), &proxy.url);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        lines_of(&run.stdout, "ecr-tag-missing").len(),
        1,
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("tag `v2.1.0` is not in ECR repository"),
        "{}",
        run.stdout
    );
    assert_eq!(
        lines_of(&run.stdout, "ecr-repository-missing").len(),
        1,
        "{}",
        run.stdout
    );
    // web: 1 call for its three tags (four uses); api: 1 + 1 for the missing tag; gone: 1.
    assert_eq!(proxy.calls(), 4, "DescribeImages calls");
}

//! The ECR client: AWS SDK for Rust with the standard credential chain (environment, profile,
//! SSO, web identity, IMDS), the region of each image's host, and `AWS_ENDPOINT_URL` honoured.
//! One DescribeImages call per repository, with every tag as an image id; ECR fails such a call
//! when one tag is missing and names it, so a repository costs one call plus one per missing tag.

use super::{EcrRepo, Registry};
use aws_sdk_ecr::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecr::operation::describe_images::DescribeImagesError;
use aws_sdk_ecr::types::ImageIdentifier;
use std::collections::{BTreeMap, BTreeSet};

/// Repositories asked at once: enough to hide latency, few enough not to be throttled.
const CONCURRENCY: usize = 8;

pub struct Ecr {
    runtime: tokio::runtime::Runtime,
    config: aws_config::SdkConfig,
}

impl Ecr {
    pub fn connect() -> Result<Ecr, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the AWS client: {e}"))?;
        let config = runtime.block_on(aws_config::load_defaults(
            aws_config::BehaviorVersion::latest(),
        ));
        Ok(Ecr { runtime, config })
    }

    fn client(&self, region: &str) -> aws_sdk_ecr::Client {
        let conf = aws_sdk_ecr::config::Builder::from(&self.config)
            .region(aws_sdk_ecr::config::Region::new(region.to_string()))
            .build();
        aws_sdk_ecr::Client::from_conf(conf)
    }
}

use super::Answer;

impl Registry for Ecr {
    fn tags_present(&self, repo: &EcrRepo, tags: &[String]) -> Answer {
        self.runtime.block_on(present(
            self.client(&repo.region),
            repo.clone(),
            tags.to_vec(),
        ))
    }

    fn check_all(&self, wanted: &BTreeMap<EcrRepo, BTreeSet<String>>) -> Vec<(EcrRepo, Answer)> {
        let clients: BTreeMap<&str, aws_sdk_ecr::Client> = wanted
            .keys()
            .map(|r| (r.region.as_str(), self.client(&r.region)))
            .collect();
        self.runtime.block_on(async {
            let mut set = tokio::task::JoinSet::new();
            let mut out = Vec::new();
            for (repo, tags) in wanted {
                if set.len() >= CONCURRENCY {
                    if let Some(Ok(done)) = set.join_next().await {
                        out.push(done);
                    }
                }
                let client = clients[repo.region.as_str()].clone();
                let (repo, tags) = (repo.clone(), tags.iter().cloned().collect::<Vec<_>>());
                set.spawn(async move {
                    let answer = present(client, repo.clone(), tags).await;
                    (repo, answer)
                });
            }
            while let Some(done) = set.join_next().await {
                if let Ok(done) = done {
                    out.push(done);
                }
            }
            out.sort_by(|a, b| a.0.cmp(&b.0));
            out
        })
    }
}

async fn present(client: aws_sdk_ecr::Client, repo: EcrRepo, tags: Vec<String>) -> Answer {
    let mut remaining = tags;
    let mut found = BTreeSet::new();
    while !remaining.is_empty() {
        match describe(&client, &repo, &remaining).await {
            Ok(more) => {
                found.extend(more);
                break;
            }
            Err(Miss::Repository) => return Ok(None),
            // ECR fails the whole call and names one missing tag: ask again without it, so a
            // repository costs one call plus one per missing tag.
            Err(Miss::Image(named)) => {
                match named.and_then(|t| remaining.iter().position(|r| *r == t)) {
                    Some(i) => {
                        remaining.remove(i);
                    }
                    None if remaining.len() == 1 => break,
                    None => {
                        // The message did not say which: ask for each tag.
                        for tag in &remaining {
                            match describe(&client, &repo, std::slice::from_ref(tag)).await {
                                Ok(f) => found.extend(f),
                                Err(Miss::Image(_)) => {}
                                Err(Miss::Repository) => return Ok(None),
                                Err(Miss::Failed(e)) => return Err(e),
                            }
                        }
                        break;
                    }
                }
            }
            Err(Miss::Failed(e)) => return Err(e),
        }
    }
    Ok(Some(found))
}

enum Miss {
    Repository,
    /// An image id does not exist; ECR's message names one (`imageTag:'main-3f2c...'`).
    Image(Option<String>),
    Failed(String),
}

/// The tag ECR names in an ImageNotFoundException message.
fn named_tag(message: &str) -> Option<String> {
    let start = message.find("imageTag:'")? + "imageTag:'".len();
    let len = message[start..].find('\'')?;
    Some(message[start..start + len].to_string())
}

async fn describe(
    client: &aws_sdk_ecr::Client,
    repo: &EcrRepo,
    tags: &[String],
) -> Result<BTreeSet<String>, Miss> {
    let ids = tags
        .iter()
        .map(|t| ImageIdentifier::builder().image_tag(t).build())
        .collect();
    let result = client
        .describe_images()
        .registry_id(&repo.account)
        .repository_name(&repo.repository)
        .set_image_ids(Some(ids))
        .send()
        .await;
    match result {
        Ok(out) => Ok(out
            .image_details()
            .iter()
            .flat_map(|d| d.image_tags().iter().cloned())
            .filter(|t| tags.contains(t))
            .collect()),
        Err(e) => Err(classify(e, &repo.region)),
    }
}

/// An SDK error as what it means for the user.
fn classify(error: SdkError<DescribeImagesError>, region: &str) -> Miss {
    if let SdkError::ServiceError(service) = &error {
        match service.err() {
            DescribeImagesError::RepositoryNotFoundException(_) => return Miss::Repository,
            DescribeImagesError::ImageNotFoundException(e) => {
                return Miss::Image(e.message().and_then(named_tag))
            }
            _ => {}
        }
    }
    let code = error.code().unwrap_or("").to_string();
    let detail = error
        .message()
        .map(str::to_string)
        .unwrap_or_else(|| causes(&error));
    Miss::Failed(match code.as_str() {
        "AccessDeniedException" | "AccessDenied" => format!(
            "access denied: the credentials need ecr:DescribeImages on the repository ({detail})"
        ),
        "ExpiredTokenException" | "ExpiredToken" | "UnrecognizedClientException"
        | "InvalidSignatureException" | "InvalidClientTokenId" => format!(
            "the AWS credentials are expired or not valid: refresh them (for example `aws sso login`) and run again ({code})"
        ),
        "ThrottlingException" | "ThrottledException" | "TooManyRequestsException" => {
            "throttled by ECR even after retries: run again later".to_string()
        }
        "" => {
            let context = causes(&error);
            // An answer without a readable error code: judge by the HTTP status.
            match error.raw_response().map(|r| r.status().as_u16()) {
                Some(403) => "access denied (HTTP 403): the credentials need ecr:DescribeImages on the repository, or are not valid for this account".to_string(),
                Some(401) => "the AWS credentials are not valid (HTTP 401): refresh them and run again".to_string(),
                Some(429) => "throttled by ECR even after retries (HTTP 429): run again later".to_string(),
                Some(status) => format!("unexpected answer from ECR in {region} (HTTP {status}): {context}"),
                None if context.contains("credentials") => {
                    "no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run with an IAM role".to_string()
                }
                None => format!("cannot reach ECR in {region}: {context}"),
            }
        }
        _ => format!("{code}: {detail}"),
    })
}

/// An error and its causes, joined the way people read them (`a: b: c`), without the debug
/// dump the SDK's own context printer appends.
fn causes(error: &dyn std::error::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_missing_tag_from_ecrs_message() {
        let m = "The image with imageId {imageDigest:'null', imageTag:'main-3f2c'} does not exist within the repository with name 'aa' in the registry with id '465002806239'";
        assert_eq!(super::named_tag(m).as_deref(), Some("main-3f2c"));
        assert_eq!(super::named_tag("no tag here"), None);
    }
}

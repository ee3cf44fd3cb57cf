//! Splits a container image reference into registry, repository, tag and digest, keeping the
//! byte range of each part so a rule can point at (and a fix can replace) just the tag.

use std::ops::Range;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry host (with port), when the reference names one; `None` means Docker Hub.
    pub registry: Option<String>,
    pub repository: String,
    pub tag: Option<String>,
    /// Byte range of the tag in the reference, when there is one.
    pub tag_range: Option<Range<usize>>,
    pub digest: Option<String>,
}

/// Parses `reference` the way container runtimes do: the first path component is a registry
/// when it contains a `.` or `:` or is `localhost`.
pub fn parse_image(reference: &str) -> Option<ImageRef> {
    let reference_trimmed = reference.trim();
    if reference_trimmed.is_empty() || reference_trimmed.contains(char::is_whitespace) {
        return None;
    }
    let (name_and_tag, digest) = match reference.split_once('@') {
        Some((n, d)) => (n, Some(d.to_string())),
        None => (reference, None),
    };
    let last_slash = name_and_tag.rfind('/').map_or(0, |i| i + 1);
    let (name, tag, tag_range) = match name_and_tag[last_slash..].rfind(':') {
        Some(i) => {
            let colon = last_slash + i;
            (
                &name_and_tag[..colon],
                Some(name_and_tag[colon + 1..].to_string()),
                Some(colon + 1..name_and_tag.len()),
            )
        }
        None => (name_and_tag, None, None),
    };
    let (registry, repository) = match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (Some(first.to_string()), rest.to_string())
        }
        _ => (None, name.to_string()),
    };
    // Repository names are lowercase by the reference grammar; `IMAGE` or `${IMAGE}` is a
    // placeholder a build script substitutes, not an image.
    let valid_repository = !repository.is_empty()
        && repository
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-/".contains(&b));
    if !valid_repository {
        return None;
    }
    Some(ImageRef {
        registry,
        repository,
        tag,
        tag_range,
        digest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_ecr_reference() {
        let r = parse_image(
            "465002806239.dkr.ecr.ap-southeast-2.amazonaws.com/ml-fashion-recommender/inference:main-latest",
        )
        .expect("parses");
        assert_eq!(
            r.registry.as_deref(),
            Some("465002806239.dkr.ecr.ap-southeast-2.amazonaws.com")
        );
        assert_eq!(r.repository, "ml-fashion-recommender/inference");
        assert_eq!(r.tag.as_deref(), Some("main-latest"));
    }

    #[test]
    fn handles_ports_digests_and_bare_names() {
        let r = parse_image("localhost:5000/app@sha256:abc").expect("parses");
        assert_eq!(r.registry.as_deref(), Some("localhost:5000"));
        assert_eq!(r.tag, None);
        assert_eq!(r.digest.as_deref(), Some("sha256:abc"));
        let r = parse_image("inference:latest").expect("parses");
        assert_eq!(r.registry, None);
        assert_eq!(r.tag_range, Some(10..16));
        assert!(parse_image("").is_none());
        assert!(parse_image("IMAGE").is_none());
        assert!(parse_image("${REGISTRY}/app:1").is_none());
    }
}

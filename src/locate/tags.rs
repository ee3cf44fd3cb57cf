//! Which image tags move (mutable) and which name one build for good (immutable).

use globset::{Glob, GlobSet, GlobSetBuilder};

/// Branch names that are commonly pushed as moving tags.
pub const BRANCH_TAGS: &[&str] = &[
    "main", "master", "develop", "dev", "stable", "edge", "nightly",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagKind {
    /// No tag at all: the runtime pulls `latest`.
    Missing,
    /// `latest`, `<branch>-latest`, a bare branch name, or a configured pattern.
    Mutable,
    /// Carries a 7-40 hex commit id (`main-a0f1347...`, `sha-3f2c1a9`).
    CommitPinned,
    /// `v1.2.3`, `1.25.3-alpine`: immutable by convention only.
    Semver,
    /// Anything else (`3.9`, `2024.01`): not judged.
    Other,
}

/// Extra mutable-tag patterns from config (`tags.mutable`), as globs.
#[derive(Debug, Clone, Default)]
pub struct TagPolicy {
    extra_mutable: Option<GlobSet>,
}

impl TagPolicy {
    pub fn new(patterns: &[String]) -> Result<TagPolicy, globset::Error> {
        if patterns.is_empty() {
            return Ok(TagPolicy::default());
        }
        let mut builder = GlobSetBuilder::new();
        for p in patterns {
            builder.add(Glob::new(p)?);
        }
        Ok(TagPolicy {
            extra_mutable: Some(builder.build()?),
        })
    }

    pub fn classify(&self, tag: Option<&str>) -> TagKind {
        let Some(tag) = tag else {
            return TagKind::Missing;
        };
        if self
            .extra_mutable
            .as_ref()
            .is_some_and(|set| set.is_match(tag))
        {
            return TagKind::Mutable;
        }
        if tag == "latest" || tag.ends_with("-latest") || BRANCH_TAGS.contains(&tag) {
            return TagKind::Mutable;
        }
        if commit_id_in(tag).is_some() {
            return TagKind::CommitPinned;
        }
        if is_semver(tag) {
            return TagKind::Semver;
        }
        TagKind::Other
    }
}

/// The byte range of a 7-40 character hex run standing on its own in `tag` (bounded by the
/// ends or by a non-alphanumeric character), containing at least one letter or being 40 long,
/// so that dates and version numbers are not mistaken for commits.
pub fn commit_id_in(tag: &str) -> Option<std::ops::Range<usize>> {
    let bytes = tag.as_bytes();
    let mut start = 0;
    while start < bytes.len() {
        if !bytes[start].is_ascii_alphanumeric() {
            start += 1;
            continue;
        }
        let mut end = start;
        while end < bytes.len() && bytes[end].is_ascii_alphanumeric() {
            end += 1;
        }
        let word = &tag[start..end];
        let hex = word
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        let has_letter = word.bytes().any(|b| b.is_ascii_alphabetic());
        if hex && (7..=40).contains(&word.len()) && (has_letter || word.len() == 40) {
            return Some(start..end);
        }
        start = end;
    }
    None
}

fn is_semver(tag: &str) -> bool {
    let core = tag.strip_prefix('v').unwrap_or(tag);
    let core = core.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The branch a mutable tag follows: `main-latest` → `main`, `develop` → `develop`.
/// `latest` and a missing tag say nothing about the branch.
pub fn branch_of(tag: Option<&str>) -> Option<String> {
    let tag = tag?;
    if let Some(branch) = tag.strip_suffix("-latest") {
        return (!branch.is_empty()).then(|| branch.to_string());
    }
    BRANCH_TAGS.contains(&tag).then(|| tag.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_tags() {
        let p = TagPolicy::new(&["*-snapshot".to_string()]).expect("globs");
        assert_eq!(p.classify(None), TagKind::Missing);
        assert_eq!(p.classify(Some("latest")), TagKind::Mutable);
        assert_eq!(p.classify(Some("main-latest")), TagKind::Mutable);
        assert_eq!(p.classify(Some("develop")), TagKind::Mutable);
        assert_eq!(p.classify(Some("1.0-snapshot")), TagKind::Mutable);
        assert_eq!(
            p.classify(Some("main-a0f13477eca7bfd3c908afdfff2fa18d1b6be5c0")),
            TagKind::CommitPinned
        );
        assert_eq!(p.classify(Some("sha-3f2c1a9")), TagKind::CommitPinned);
        assert_eq!(p.classify(Some("v1.2.3")), TagKind::Semver);
        assert_eq!(p.classify(Some("1.25.3-alpine")), TagKind::Semver);
        assert_eq!(p.classify(Some("20240101")), TagKind::Other);
        assert_eq!(p.classify(Some("3.9")), TagKind::Other);
    }

    #[test]
    fn finds_branch_of_moving_tags() {
        assert_eq!(branch_of(Some("main-latest")).as_deref(), Some("main"));
        assert_eq!(
            branch_of(Some("release-2-latest")).as_deref(),
            Some("release-2")
        );
        assert_eq!(branch_of(Some("master")).as_deref(), Some("master"));
        assert_eq!(branch_of(Some("latest")), None);
        assert_eq!(branch_of(None), None);
    }
}

//! The values a recipe may hold: names, AWS accounts and regions, registry prefixes, and path
//! globs that stay inside the repository.

pub(super) fn is_name(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

pub(super) fn check_account(text: &str) -> Result<String, String> {
    if crate::config::is_account_id(text) {
        Ok(text.to_string())
    } else {
        Err(format!("{text:?} is not an AWS account ID (12 digits)"))
    }
}

pub(super) fn check_region(text: &str) -> Result<String, String> {
    let parts: Vec<&str> = text.split('-').collect();
    let ok = parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u8>().is_ok();
    if ok {
        Ok(text.to_string())
    } else {
        Err(format!("{text:?} is not an AWS region (like us-east-1)"))
    }
}

/// A registry host with an optional repository prefix: no scheme, tag, digest or spaces.
pub(super) fn check_registry(text: &str) -> Result<String, String> {
    let trimmed = text.trim_end_matches('/');
    let last = trimmed.rsplit('/').next().unwrap_or("");
    let has_tag = trimmed.contains('/') && last.contains(':');
    if trimmed.is_empty()
        || trimmed.contains("://")
        || trimmed.contains('@')
        || has_tag
        || trimmed.chars().any(char::is_whitespace)
    {
        return Err(format!(
            "{text:?} is not a registry host with an optional repository prefix (like 465002806239.dkr.ecr.us-east-1.amazonaws.com/team)"
        ));
    }
    Ok(trimmed.to_string())
}

/// Recipe paths are globs over root-relative paths: one that is absolute or climbs out of the
/// root could only match outside the repository, so it is refused rather than silently empty.
pub(super) fn check_path_glob(glob: &str) -> Result<(), String> {
    if glob.starts_with('/') || glob.split(['/', '\\']).any(|seg| seg == "..") {
        return Err(format!(
            "{glob:?} leaves the repository: paths are relative to the repository root, without .."
        ));
    }
    globset::Glob::new(glob)
        .map(|_| ())
        .map_err(|e| format!("bad glob {glob:?}: {e}"))
}

//! Recognises where an AWS account ID stands inside a string: an ECR registry host or an ARN.
//! A 12-digit number anywhere else is never treated as an account.

use memchr::memmem::Finder;
use std::ops::Range;
use std::sync::LazyLock;

/// What kind of reference holds the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountSite<'a> {
    /// `<acct>.dkr.ecr.<region>.amazonaws.com` — a private ECR registry.
    EcrHost { region: &'a str, host: &'a str },
    /// `arn:<partition>:<service>:<region>:<acct>:<resource>`.
    Arn {
        service: &'a str,
        resource: &'a str,
        arn: &'a str,
    },
}

/// One account found in a string: its digits' byte range in that string. Borrows from the
/// string: this is asked of every relevant value several times in a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRef<'a> {
    pub account: &'a str,
    pub range: Range<usize>,
    pub site: AccountSite<'a>,
}

/// Every account reference in `text`, in order.
///
/// A hand-written scanner: this runs for every relevant string of a repository several times
/// over, and the capture-group regexes it replaces (kept in the tests as the specification,
/// `ECR_HOST` and `ARN` below) were a sixth of a large run's time.
pub fn find_accounts(text: &str) -> Vec<AccountRef<'_>> {
    // Cheap filter first: most strings in a manifest hold neither form.
    if !may_name_account(text) {
        return Vec::new();
    }
    let mut out = Vec::new();
    static ECR_MARKER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(".dkr.ecr"));
    static ARN_MARKER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("arn:"));
    scan(text, &ECR_MARKER, ecr_host_at, &mut out);
    scan(text, &ARN_MARKER, arn_at, &mut out);
    out.sort_by_key(|r| r.range.start);
    out
}

/// Whether `text` holds `amazonaws.com` or `arn:`, the two places an account can stand: one
/// pass over the text's `a`s rather than two substring searches, whose set-up cost more than
/// the search on the short values this is asked of (every scalar of a large run).
pub(crate) fn may_name_account(text: &str) -> bool {
    let bytes = text.as_bytes();
    memchr::memchr_iter(b'a', bytes).any(|i| {
        let rest = &bytes[i..];
        rest.starts_with(b"arn:") || rest.starts_with(b"amazonaws.com")
    })
}

/// Every reference `at` finds where `marker` occurs in `text`, left to right, the next search
/// starting where a reference ends (as a regex's successive matches do).
fn scan<'a>(
    text: &'a str,
    marker: &Finder<'_>,
    at: fn(&'a str, usize) -> Option<(AccountRef<'a>, usize)>,
    out: &mut Vec<AccountRef<'a>>,
) {
    // A searcher built once per marker: `str::find` builds one per call, which cost more than
    // the search on these short values.
    let mut from = 0;
    while let Some(found) = text
        .as_bytes()
        .get(from..)
        .and_then(|rest| marker.find(rest))
        .map(|i| from + i)
    {
        match at(text, found) {
            Some((reference, end)) => {
                from = end;
                out.push(reference);
            }
            None => from = found + 1,
        }
    }
}

/// An ASCII word character, as `(?-u:\b)` judges a boundary.
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Whether an ASCII word boundary lies at `at` (a word character on exactly one side).
fn boundary(bytes: &[u8], at: usize) -> bool {
    let before = at > 0 && is_word(bytes[at - 1]);
    let after = at < bytes.len() && is_word(bytes[at]);
    before != after
}

/// `<12 digits>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]` whose `.dkr.ecr` starts at `at`;
/// the reference and where it ends.
fn ecr_host_at(text: &str, at: usize) -> Option<(AccountRef<'_>, usize)> {
    let bytes = text.as_bytes();
    let start = at.checked_sub(12)?;
    if !bytes[start..at].iter().all(u8::is_ascii_digit) || !boundary(bytes, start) {
        return None;
    }
    let mut pos = at + ".dkr.ecr".len();
    if text[pos..].starts_with("-fips") {
        pos += "-fips".len();
    }
    pos += text[pos..].starts_with('.').then_some(1)?;
    let region_start = pos;
    let region_len = text[pos..]
        .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
        .unwrap_or(text.len() - pos);
    let region = &text[region_start..region_start + region_len];
    if !is_region(region) {
        return None;
    }
    pos = region_start + region_len;
    if !text[pos..].starts_with(".amazonaws.com") {
        return None;
    }
    pos += ".amazonaws.com".len();
    // `(?:\.cn)?` then a boundary: the longer form first, as the regex tries it.
    let end = if text[pos..].starts_with(".cn") && boundary(bytes, pos + 3) {
        pos + 3
    } else if boundary(bytes, pos) {
        pos
    } else {
        return None;
    };
    Some((
        AccountRef {
            account: &text[start..at],
            range: start..at,
            site: AccountSite::EcrHost {
                region,
                host: &text[start..end],
            },
        },
        end,
    ))
}

/// `[a-z]{2}(-[a-z]+)+-[0-9]`: `us-east-1`, `ap-southeast-2`, `us-gov-west-1`.
fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return false;
    };
    first.len() == 2
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && !middle.is_empty()
        && middle
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && last.len() == 1
        && last.bytes().all(|b| b.is_ascii_digit())
}

const PARTITIONS: &[&str] = &["aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b"];

/// `arn:<partition>:<service>:<region>:<12 digits>:<resource>` starting at `at`; the
/// reference and where it ends.
fn arn_at(text: &str, at: usize) -> Option<(AccountRef<'_>, usize)> {
    if !boundary(text.as_bytes(), at) {
        return None;
    }
    let arn_field = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    let rest = &text[at + "arn:".len()..];
    let (partition, rest) = rest.split_once(':')?;
    if !PARTITIONS.contains(&partition) {
        return None;
    }
    let (service, rest) = rest.split_once(':')?;
    if service.is_empty() || !service.chars().all(arn_field) {
        return None;
    }
    let (region, rest) = rest.split_once(':')?;
    if !region.chars().all(arn_field) {
        return None;
    }
    let (account, resource) = rest.split_once(':')?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let resource_len = resource
        .find(|c: char| c.is_whitespace() || ",;\"']})".contains(c))
        .unwrap_or(resource.len());
    if resource_len == 0 {
        return None;
    }
    let account_start = text.len() - rest.len();
    let resource_start = account_start + account.len() + 1;
    let end = resource_start + resource_len;
    Some((
        AccountRef {
            account,
            range: account_start..account_start + 12,
            site: AccountSite::Arn {
                service,
                resource: &resource[..resource_len],
                arn: &text[at..end],
            },
        },
        end,
    ))
}

/// Accounts that belong to AWS itself (registries of EKS add-ons, Deep Learning Containers,
/// load balancer log delivery, ...). Rewriting them would break a working reference.
pub const AWS_OWNED_ACCOUNTS: &[&str] = &[
    // Amazon EKS add-on / pause image registries by region.
    "602401143452",
    "800184023465",
    "558608220178",
    "918309763551",
    "961992271922",
    "900889452093",
    "296578399912",
    "066635153087",
    "151742754352",
    "013241004608",
    "590381155156",
    "380642149876",
    "759879836304",
    // AWS Deep Learning Containers and SageMaker images.
    "763104351884",
    // Elastic Load Balancing log delivery, widely used regions.
    "127311923021",
    "033677994240",
    "027434742980",
    "797873946194",
    "783225319266",
    "114774131450",
    "582318560864",
    "054676820928",
    "156460612806",
];

/// The placeholder accounts templates and documentation use.
pub const DEFAULT_PLACEHOLDERS: &[&str] = &[
    "123456789012",
    "111122223333",
    "444455556666",
    "000000000000",
    "012345678901",
    "999999999999",
];

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    /// The specification of the scanner: what `find_accounts` matched with these regexes.
    const ECR_HOST: &str = r"(?-u:\b)([0-9]{12})\.dkr\.ecr(?:-fips)?\.([a-z]{2}(?:-[a-z]+)+-[0-9])\.amazonaws\.com(?:\.cn)?(?-u:\b)";
    const ARN: &str = r"(?-u:\b)arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b):([a-z0-9-]+):([a-z0-9-]*):([0-9]{12}):([^\s,;\x22'\]\})]+)";

    fn by_regex<'a>(ecr_host: &Regex, arn: &Regex, text: &'a str) -> Vec<AccountRef<'a>> {
        let mut out = Vec::new();
        for caps in ecr_host.captures_iter(text) {
            out.push(AccountRef {
                account: caps.get(1).unwrap().as_str(),
                range: caps.get(1).unwrap().range(),
                site: AccountSite::EcrHost {
                    region: caps.get(2).unwrap().as_str(),
                    host: caps.get(0).unwrap().as_str(),
                },
            });
        }
        for caps in arn.captures_iter(text) {
            out.push(AccountRef {
                account: caps.get(4).unwrap().as_str(),
                range: caps.get(4).unwrap().range(),
                site: AccountSite::Arn {
                    service: caps.get(2).unwrap().as_str(),
                    resource: caps.get(5).unwrap().as_str(),
                    arn: caps.get(0).unwrap().as_str(),
                },
            });
        }
        out.sort_by_key(|r| r.range.start);
        out
    }

    /// The scanner agrees with the regexes on 100k strings built from the pieces both care
    /// about (and the ones that break them), in every order.
    #[test]
    fn scanner_matches_the_regexes() {
        const PIECES: &[&str] = &[
            "123456789012",
            "465002806239",
            "1234567890123",
            "12345",
            "9",
            ".dkr.ecr",
            "-fips",
            ".",
            "us-east-1",
            "ap-southeast-2",
            "us-gov-west-1",
            "eu-x",
            "us-east-10",
            ".amazonaws.com",
            ".cn",
            ".cnx",
            ".com",
            "arn:",
            "aws",
            "aws-cn",
            "aws-iso-b",
            "aws-x",
            ":",
            "iam",
            "s3",
            "ecr",
            "",
            "role/x",
            " ",
            ",",
            ";",
            "\"",
            "'",
            "]",
            "}",
            ")",
            "é",
            "_",
            "x",
            "/",
            "\u{a0}",
            "-",
            "A",
            "\n",
            "dkr",
            ":tag",
            "arn:aws:iam::",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let (ecr_host, arn) = (Regex::new(ECR_HOST).unwrap(), Regex::new(ARN).unwrap());
        for _ in 0..100_000 {
            let n = 1 + next() % 14;
            let text: String = (0..n)
                .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                .collect();
            assert_eq!(
                find_accounts(&text),
                by_regex(&ecr_host, &arn, &text),
                "{text:?}"
            );
        }
    }

    #[test]
    fn finds_ecr_host_and_arn() {
        let found = find_accounts(
            "123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/app:1 arn:aws:iam::465002806239:role/x",
        );
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].account, "123456789012");
        assert_eq!(found[0].range, 0..12);
        assert!(
            matches!(&found[0].site, AccountSite::EcrHost { region, .. } if *region == "ap-southeast-2")
        );
        assert_eq!(found[1].account, "465002806239");
        assert!(
            matches!(&found[1].site, AccountSite::Arn { service, resource, .. }
            if *service == "iam" && *resource == "role/x")
        );
    }

    #[test]
    fn ignores_bare_numbers_and_aws_managed_policies() {
        assert!(find_accounts("123456789012").is_empty());
        assert!(find_accounts("arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy").is_empty());
        assert!(find_accounts("1234567890123.dkr.ecr.us-east-1.amazonaws.com/x").is_empty());
        assert!(find_accounts("docker.io/library/nginx:1.25").is_empty());
        // Prose around an ARN is not part of it.
        let found = find_accounts("(such as arn:aws:iam::123456789012:mfa/user)");
        assert!(
            matches!(&found[0].site, AccountSite::Arn { arn, .. } if *arn == "arn:aws:iam::123456789012:mfa/user")
        );
    }
}

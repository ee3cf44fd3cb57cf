//! Recognises where an AWS account ID stands inside a string: an ECR registry host or an ARN.
//! A 12-digit number anywhere else is never treated as an account.

use regex::Regex;
use std::ops::Range;
use std::sync::OnceLock;

/// What kind of reference holds the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountSite {
    /// `<acct>.dkr.ecr.<region>.amazonaws.com` — a private ECR registry.
    EcrHost { region: String, host: String },
    /// `arn:<partition>:<service>:<region>:<acct>:<resource>`.
    Arn {
        service: String,
        resource: String,
        arn: String,
    },
}

/// One account found in a string: its digits' byte range in that string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRef {
    pub account: String,
    pub range: Range<usize>,
    pub site: AccountSite,
}

fn ecr_host() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            // ASCII word boundaries (`(?-u:\b)`): the values are ASCII where these match, and a
            // Unicode boundary keeps the regex off its fastest engines. Digits are ASCII digits
            // (`\d` would take any script's).
            r"(?-u:\b)([0-9]{12})\.dkr\.ecr(?:-fips)?\.([a-z]{2}(?:-[a-z]+)+-[0-9])\.amazonaws\.com(?:\.cn)?(?-u:\b)",
        )
        .expect("static regex")
    })
}

fn arn() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?-u:\b)arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b):([a-z0-9-]+):([a-z0-9-]*):([0-9]{12}):([^\s,;\x22'\]\})]+)")
            .expect("static regex")
    })
}

/// Every account reference in `text`, in order.
pub fn find_accounts(text: &str) -> Vec<AccountRef> {
    // Cheap filter first: most strings in a manifest hold neither form.
    if !text.contains("amazonaws.com") && !text.contains("arn:") {
        return Vec::new();
    }
    let mut out = Vec::new();
    for caps in ecr_host().captures_iter(text) {
        let (Some(acct), Some(region), Some(all)) = (caps.get(1), caps.get(2), caps.get(0)) else {
            continue;
        };
        out.push(AccountRef {
            account: acct.as_str().to_string(),
            range: acct.range(),
            site: AccountSite::EcrHost {
                region: region.as_str().to_string(),
                host: all.as_str().to_string(),
            },
        });
    }
    for caps in arn().captures_iter(text) {
        let (Some(service), Some(acct), Some(resource), Some(all)) =
            (caps.get(2), caps.get(4), caps.get(5), caps.get(0))
        else {
            continue;
        };
        out.push(AccountRef {
            account: acct.as_str().to_string(),
            range: acct.range(),
            site: AccountSite::Arn {
                service: service.as_str().to_string(),
                resource: resource.as_str().to_string(),
                arn: all.as_str().to_string(),
            },
        });
    }
    out.sort_by_key(|r| r.range.start);
    out
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

    #[test]
    fn finds_ecr_host_and_arn() {
        let found = find_accounts(
            "123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/app:1 arn:aws:iam::465002806239:role/x",
        );
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].account, "123456789012");
        assert_eq!(found[0].range, 0..12);
        assert!(
            matches!(&found[0].site, AccountSite::EcrHost { region, .. } if region == "ap-southeast-2")
        );
        assert_eq!(found[1].account, "465002806239");
        assert!(
            matches!(&found[1].site, AccountSite::Arn { service, resource, .. }
            if service == "iam" && resource == "role/x")
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
            matches!(&found[0].site, AccountSite::Arn { arn, .. } if arn == "arn:aws:iam::123456789012:mfa/user")
        );
    }
}

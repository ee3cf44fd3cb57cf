//! The network side of git: `--offline`, the connect and read limits of every transport,
//! and the credentials each is offered: tokens from the environment only over https and only
//! to the hosts they belong to, git's credential helpers and the ssh agent as git uses them.
//! URLs and messages are shown with their credentials removed.

use git2::{Config, Cred, CredentialType, ProxyOptions, RemoteCallbacks};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Why something that needs the network was not done under `--offline`.
pub const OFFLINE_REASON: &str = "--offline (a URL needs the network)";

/// `--offline` for this process: no URL is listed, fetched, cloned or pushed to, and no
/// registry is asked. Set from the command line only, never from a repository's files.
static OFFLINE: AtomicBool = AtomicBool::new(false);

pub fn set_offline(on: bool) {
    OFFLINE.store(on, Ordering::Relaxed);
}

pub fn offline() -> bool {
    OFFLINE.load(Ordering::Relaxed)
}

/// How long libgit2 waits to connect to a server, and for each read or write once connected:
/// without a limit a server that drops packets, or accepts and never answers, hangs the run.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// The variable that sets both limits, in seconds.
pub const TIMEOUT_VAR: &str = "MANIFIX_GIT_TIMEOUT";

/// The connect and read limits in force, in milliseconds, for messages.
static CONNECT_TIMEOUT_MS: AtomicU64 = AtomicU64::new(CONNECT_TIMEOUT.as_millis() as u64);
static READ_TIMEOUT_MS: AtomicU64 = AtomicU64::new(READ_TIMEOUT.as_millis() as u64);

/// The connect and read limits: the defaults, or both set to `MANIFIX_GIT_TIMEOUT` seconds
/// (decimals allowed); an unreadable value is an error that names it.
pub fn timeouts(var: Option<&str>) -> Result<(Duration, Duration), String> {
    let Some(text) = var.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok((CONNECT_TIMEOUT, READ_TIMEOUT));
    };
    match text.parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs <= 86_400.0 => {
            let limit = Duration::from_secs_f64(secs).max(Duration::from_millis(1));
            Ok((limit, limit))
        }
        _ => Err(format!(
            "{TIMEOUT_VAR}={text:?} is not a number of seconds between 0 and 86400; using \
             {} s to connect and {} s to read",
            CONNECT_TIMEOUT.as_secs(),
            READ_TIMEOUT.as_secs()
        )),
    }
}

/// Sets up the network side of a run, once, before it starts any thread: `--offline`, and the
/// connect and read limits of every libgit2 transport (`MANIFIX_GIT_TIMEOUT` or the defaults).
/// Returns a warning to show when the variable could not be read.
pub fn configure_network(offline: bool) -> Option<String> {
    set_offline(offline);
    let var = std::env::var(TIMEOUT_VAR).ok();
    let (limits, warning) = match timeouts(var.as_deref()) {
        Ok(limits) => (limits, None),
        Err(e) => ((CONNECT_TIMEOUT, READ_TIMEOUT), Some(e)),
    };
    CONNECT_TIMEOUT_MS.store(limits.0.as_millis() as u64, Ordering::Relaxed);
    READ_TIMEOUT_MS.store(limits.1.as_millis() as u64, Ordering::Relaxed);
    warning
}

/// Gives libgit2 the limits, once, before the run's first transport (every one is made with
/// [`callbacks`]). Not at start-up: the first call into libgit2's options initialises it and
/// its TLS library, which costs every run, most of which never touch the network, 20 ms and
/// 5 MB.
fn limits_to_libgit2() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let ms = |limit: &AtomicU64| Duration::from_millis(limit.load(Ordering::Relaxed));
        apply_timeouts(ms(&CONNECT_TIMEOUT_MS), ms(&READ_TIMEOUT_MS));
    });
}

fn apply_timeouts(connect: Duration, read: Duration) {
    let ms = |d: Duration| i32::try_from(d.as_millis()).unwrap_or(i32::MAX);
    CONNECT_TIMEOUT_MS.store(connect.as_millis() as u64, Ordering::Relaxed);
    READ_TIMEOUT_MS.store(read.as_millis() as u64, Ordering::Relaxed);
    // SAFETY: libgit2 keeps these in C globals written without synchronization; they are read
    // only when a transport connects. They are written once (`limits_to_libgit2`, under a
    // `Once` that every transport's `callbacks()` passes first), so no transport of this
    // process reads them while they are written.
    unsafe {
        let _ = git2::opts::set_server_connect_timeout_in_milliseconds(ms(connect));
        let _ = git2::opts::set_server_timeout_in_milliseconds(ms(read));
    }
}

/// A libgit2 error as shown: any token from the environment masked (a server may echo it),
/// and a timeout saying which limit ran out and how to change it.
pub(crate) fn git_message(e: &git2::Error) -> String {
    let message = redact_secrets(e.message());
    if e.code() == git2::ErrorCode::Timeout || message.contains("timed out") {
        let (what, limit) = if message.contains("connect") {
            ("no connection", &CONNECT_TIMEOUT_MS)
        } else {
            ("no answer", &READ_TIMEOUT_MS)
        };
        let secs = limit.load(Ordering::Relaxed) as f64 / 1000.0;
        format!("{message} ({what} within {secs} s; {TIMEOUT_VAR}=SECONDS sets the limit)")
    } else {
        message
    }
}

/// The proxy git would use (`http.proxy`, `https_proxy`, ...).
pub(super) fn auto_proxy<'a>() -> ProxyOptions<'a> {
    let mut proxy = ProxyOptions::new();
    proxy.auto();
    proxy
}

/// Credentials as git would find them, each tried once so a rejected credential ends the attempt
/// instead of looping: the ssh agent, a token from the environment (for CI) where its host
/// policy allows it ([`token_for`]), git credential helpers from the user's config (scoped to
/// hosts by git's own rules), then a bare username for transports that only ask for one.
///
/// The URL judged is the one libgit2 is authenticating to (after any redirect), never the
/// configured one, so a redirect cannot carry a token to another host.
pub(crate) fn callbacks<'a>() -> RemoteCallbacks<'a> {
    limits_to_libgit2();
    let config = Config::open_default().ok();
    let mut tried = [false; 4];
    let mut withheld: Vec<String> = Vec::new();
    let mut callbacks = RemoteCallbacks::new();
    callbacks.credentials(move |url, username, allowed| {
        if allowed.contains(CredentialType::SSH_KEY) && !tried[0] {
            tried[0] = true;
            return Cred::ssh_key_from_agent(username.unwrap_or("git"));
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
            if !tried[1] {
                tried[1] = true;
                match token_for(url, &|var| std::env::var(var).ok()) {
                    TokenChoice::Send { user, token, .. } => {
                        return Cred::userpass_plaintext(username.unwrap_or(user), &token);
                    }
                    TokenChoice::Withheld(notes) => withheld = notes,
                }
            }
            if !tried[2] {
                tried[2] = true;
                // No helper configured is not the answer to show: the run goes on to say why
                // no token was sent.
                if let Some(Ok(cred)) = config
                    .as_ref()
                    .map(|c| Cred::credential_helper(c, url, username))
                {
                    return Ok(cred);
                }
            }
        }
        if allowed.contains(CredentialType::USERNAME) && !tried[3] {
            tried[3] = true;
            return Cred::username(username.unwrap_or("git"));
        }
        let mut message = format!(
            "authentication failed for {} (tried the ssh agent, tokens scoped to their hosts \
             and git credential helpers)",
            redact_url(url)
        );
        for note in &withheld {
            message.push_str("; ");
            message.push_str(note);
        }
        Err(git2::Error::from_str(&message))
    });
    callbacks
}

/// A token variable, the username its forge expects with a token, and the hosts it belongs to.
struct TokenVar {
    var: &'static str,
    user: &'static str,
    /// Hosts the variable always belongs to.
    fixed_hosts: &'static [&'static str],
    /// Variables naming more hosts, and how each names them.
    host_vars: &'static [(&'static str, HostVar)],
    /// How the allowed hosts are described in a message.
    described: &'static str,
}

#[derive(Clone, Copy)]
enum HostVar {
    /// A URL (`GITHUB_SERVER_URL=https://github.example.com`): its host.
    Url,
    /// A host name (`CI_SERVER_HOST=gitlab.example.com`).
    Host,
    /// Comma-separated host names.
    List,
}

const TOKEN_VARS: [TokenVar; 3] = [
    TokenVar {
        var: "MANIFIX_GIT_TOKEN",
        user: "x-access-token",
        fixed_hosts: &[],
        host_vars: &[("MANIFIX_GIT_TOKEN_HOSTS", HostVar::List)],
        described: "only the hosts in MANIFIX_GIT_TOKEN_HOSTS, over https",
    },
    TokenVar {
        var: "GITHUB_TOKEN",
        user: "x-access-token",
        fixed_hosts: &["github.com"],
        host_vars: &[("GITHUB_SERVER_URL", HostVar::Url)],
        described: "only github.com and GITHUB_SERVER_URL's host, over https",
    },
    TokenVar {
        var: "GITLAB_TOKEN",
        user: "oauth2",
        fixed_hosts: &["gitlab.com"],
        host_vars: &[("CI_SERVER_HOST", HostVar::Host)],
        described: "only gitlab.com and CI_SERVER_HOST, over https",
    },
];

/// What the token policy decides for one URL.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TokenChoice {
    /// Send this token (from `var`) with this username.
    Send {
        var: &'static str,
        user: &'static str,
        token: String,
    },
    /// No token for this URL; one note per token variable that is set, saying why it was not
    /// sent and what would allow it (empty when no token variable is set).
    Withheld(Vec<String>),
}

/// The token to send to `url`, if any: only over https, and only to the hosts the variable
/// belongs to (`GITHUB_TOKEN`: github.com and `GITHUB_SERVER_URL`'s host; `GITLAB_TOKEN`:
/// gitlab.com and `CI_SERVER_HOST`; `MANIFIX_GIT_TOKEN`: the hosts in
/// `MANIFIX_GIT_TOKEN_HOSTS`), the first variable that allows the host winning. Hosts are
/// compared whole, ignoring case. `env` reads a variable.
pub(crate) fn token_for(url: &str, env: &dyn Fn(&str) -> Option<String>) -> TokenChoice {
    let set: Vec<(&TokenVar, String)> = TOKEN_VARS
        .iter()
        .filter_map(|v| Some((v, env(v.var).filter(|t| !t.trim().is_empty())?)))
        .collect();
    if set.is_empty() {
        return TokenChoice::Withheld(Vec::new());
    }
    let target = target_host(url);
    let mut notes = Vec::new();
    for (v, token) in set {
        let host = match &target {
            Target::Https(host) => host,
            Target::Other { scheme, host } => {
                notes.push(format!(
                    "{} is set but not sent to {host} over {scheme}: tokens go only over https",
                    v.var
                ));
                continue;
            }
            Target::Unclear => {
                notes.push(format!(
                    "{} is set but not sent: the URL's host cannot be read for certain",
                    v.var
                ));
                continue;
            }
        };
        if allowed_hosts(v, env).iter().any(|h| h == host) {
            return TokenChoice::Send {
                var: v.var,
                user: v.user,
                token,
            };
        }
        notes.push(if v.var == "MANIFIX_GIT_TOKEN" {
            format!(
                "MANIFIX_GIT_TOKEN is set but not sent to {host} ({}); add {host} to \
                 MANIFIX_GIT_TOKEN_HOSTS to send it",
                v.described
            )
        } else {
            format!(
                "{} is set but not sent to {host} ({}); set MANIFIX_GIT_TOKEN with \
                 MANIFIX_GIT_TOKEN_HOSTS={host} to send one",
                v.var, v.described
            )
        });
    }
    TokenChoice::Withheld(notes)
}

/// The hosts a token variable may go to, lowercased.
fn allowed_hosts(v: &TokenVar, env: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    let mut hosts: Vec<String> = v.fixed_hosts.iter().map(|h| h.to_string()).collect();
    for (var, kind) in v.host_vars {
        let Some(value) = env(var) else { continue };
        match kind {
            HostVar::Url => hosts.extend(
                url::Url::parse(value.trim())
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_ascii_lowercase)),
            ),
            HostVar::Host => hosts.push(value.trim().to_ascii_lowercase()),
            HostVar::List => hosts.extend(value.split(',').map(|h| h.trim().to_ascii_lowercase())),
        }
    }
    hosts.retain(|h| !h.is_empty());
    hosts
}

/// Where a URL authenticates to, as far as tokens are concerned.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    /// https to this host (lowercase).
    Https(String),
    /// Another scheme (http, git, ssh...) to this host.
    Other { scheme: String, host: String },
    /// No host, or one two readings of the URL disagree on: nothing is sent.
    Unclear,
}

/// The host of `url` as the `url` crate (WHATWG rules) reads it, checked against a plain
/// reading of the authority (after the last `@`, before any port). libgit2 parses URLs with
/// code of its own, so a URL the two could read differently (a backslash, a space, a
/// percent-encoded host) is refused rather than guessed at.
fn target_host(url: &str) -> Target {
    let Ok(parsed) = url::Url::parse(url) else {
        return Target::Unclear;
    };
    let Some(host) = parsed.host_str().map(str::to_ascii_lowercase) else {
        return Target::Unclear;
    };
    if plain_host(url).as_deref() != Some(host.as_str()) {
        return Target::Unclear;
    }
    match parsed.scheme() {
        "https" => Target::Https(host),
        scheme => Target::Other {
            scheme: scheme.to_string(),
            host,
        },
    }
}

/// The host of `scheme://[userinfo@]host[:port][/...]` read by hand, lowercased; None when the
/// authority holds anything but the plain characters of host names, ports and user names.
fn plain_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let plain = |c: char| c.is_ascii_alphanumeric() || "-._~:@[]".contains(c);
    if authority.is_empty() || !authority.chars().all(plain) {
        return None;
    }
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => format!("[{}]", v6.split_once(']')?.0),
        None => host_port.split(':').next()?.to_string(),
    };
    Some(host.to_ascii_lowercase())
}

/// The URL without its `user:password@` part (over http, without any user part: that is usually
/// a token, `https://TOKEN@github.com/...`), so a credential written into a URL is never shown.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let http = scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http");
    match rest[..authority_end].rfind('@') {
        Some(at) if http || rest[..at].contains(':') => {
            format!("{scheme}://***@{}", &rest[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// A remote's message with any token from the environment masked, in case a server echoes it.
pub(super) fn redact_secrets(message: &str) -> String {
    TOKEN_VARS
        .iter()
        .filter_map(|v| std::env::var(v.var).ok().filter(|t| t.trim().len() >= 4))
        .fold(message.to_string(), |m, token| m.replace(&token, "***"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    fn sent(url: &str, vars: &[(&str, &str)]) -> Option<&'static str> {
        match token_for(url, &env_of(vars)) {
            TokenChoice::Send { var, .. } => Some(var),
            TokenChoice::Withheld(_) => None,
        }
    }

    #[test]
    fn tokens_go_only_over_https_to_their_own_hosts() {
        let gh = [("GITHUB_TOKEN", "ghs_x")];
        for url in [
            "https://github.com/org/app.git",
            "https://GitHub.COM/org/app.git",
            "https://github.com:443/org/app.git",
            "https://x-access-token@github.com/org/app.git",
        ] {
            assert_eq!(sent(url, &gh), Some("GITHUB_TOKEN"), "{url}");
        }
        for url in [
            "http://github.com/org/app.git",
            "git://github.com/org/app.git",
            "ssh://git@github.com/org/app.git",
            "https://github.com.evil.net/org/app.git",
            "https://evil.net/github.com",
            "https://evil.net/?github.com",
            "https://evil.net#github.com",
            "https://github.com@evil.net/org/app.git",
            "https://github.com:443@evil.net/org/app.git",
            "https://user:github.com@evil.net/",
            "https://evil.net\\@github.com/org/app.git",
            "https://evil.net%2f@github.com/",
            "https://gith%75b.com/org/app.git",
            "https://github.com./org/app.git",
            "https://notgithub.com/org/app.git",
            "https://github.co/org/app.git",
            "https://127.0.0.1/evil.git",
            "https://[::1]/evil.git",
            "https:github.com/org/app.git",
            "https://ghithub.com /org",
            "github.com:org/app.git",
            "not a url",
            "",
        ] {
            assert_eq!(sent(url, &gh), None, "{url}");
        }
        // GitHub Enterprise: GITHUB_SERVER_URL's host, and nothing that merely contains it.
        let ghe = [
            ("GITHUB_TOKEN", "ghs_x"),
            ("GITHUB_SERVER_URL", "https://GHE.example.com/"),
        ];
        assert_eq!(
            sent("https://ghe.example.com/org/app.git", &ghe),
            Some("GITHUB_TOKEN")
        );
        assert_eq!(sent("https://ghe.example.com.evil.net/app.git", &ghe), None);
        assert_eq!(sent("https://example.com/app.git", &ghe), None);
        // GitLab: gitlab.com and CI_SERVER_HOST, with GitLab's username for tokens.
        let gl = [
            ("GITLAB_TOKEN", "glpat"),
            ("CI_SERVER_HOST", "gitlab.corp.net"),
        ];
        for url in [
            "https://gitlab.com/g/app.git",
            "https://gitlab.corp.net/g/app.git",
        ] {
            assert_eq!(
                token_for(url, &env_of(&gl)),
                TokenChoice::Send {
                    var: "GITLAB_TOKEN",
                    user: "oauth2",
                    token: "glpat".into()
                },
                "{url}"
            );
        }
        assert_eq!(sent("https://github.com/g/app.git", &gl), None);
        assert_eq!(sent("http://gitlab.corp.net/g/app.git", &gl), None);
        // MANIFIX_GIT_TOKEN: only the listed hosts, and none without the list.
        let own = [
            ("MANIFIX_GIT_TOKEN", "t"),
            ("MANIFIX_GIT_TOKEN_HOSTS", " git.corp.net, 127.0.0.1 ,,"),
        ];
        assert_eq!(
            sent("https://git.corp.net/app.git", &own),
            Some("MANIFIX_GIT_TOKEN")
        );
        assert_eq!(
            sent("https://127.0.0.1:8443/app.git", &own),
            Some("MANIFIX_GIT_TOKEN")
        );
        assert_eq!(sent("http://127.0.0.1/app.git", &own), None);
        assert_eq!(sent("https://corp.net/app.git", &own), None);
        assert_eq!(sent("https://github.com/app.git", &own), None);
        assert_eq!(
            sent(
                "https://git.corp.net/app.git",
                &[("MANIFIX_GIT_TOKEN", "t")]
            ),
            None
        );
        // Several set: each goes to its own host.
        let all = [
            ("MANIFIX_GIT_TOKEN", "m"),
            ("MANIFIX_GIT_TOKEN_HOSTS", "git.corp.net"),
            ("GITHUB_TOKEN", "g"),
            ("GITLAB_TOKEN", "l"),
        ];
        assert_eq!(sent("https://gitlab.com/a", &all), Some("GITLAB_TOKEN"));
        assert_eq!(sent("https://github.com/a", &all), Some("GITHUB_TOKEN"));
        assert_eq!(
            sent("https://git.corp.net/a", &all),
            Some("MANIFIX_GIT_TOKEN")
        );
        assert_eq!(sent("https://a.example/a", &[("GITHUB_TOKEN", " ")]), None);
    }

    #[test]
    fn a_withheld_token_says_which_variable_would_allow_it() {
        let notes = |url: &str, vars: &[(&str, &str)]| match token_for(url, &env_of(vars)) {
            TokenChoice::Withheld(notes) => notes.join("; "),
            other => panic!("{url}: {other:?}"),
        };
        let https = notes("https://git.corp.net/a.git", &[("GITHUB_TOKEN", "g")]);
        assert_eq!(
            https,
            "GITHUB_TOKEN is set but not sent to git.corp.net (only github.com and \
             GITHUB_SERVER_URL's host, over https); set MANIFIX_GIT_TOKEN with \
             MANIFIX_GIT_TOKEN_HOSTS=git.corp.net to send one"
        );
        let plain = notes(
            "http://127.0.0.1:9/evil.git",
            &[
                ("MANIFIX_GIT_TOKEN", "m"),
                ("MANIFIX_GIT_TOKEN_HOSTS", "127.0.0.1"),
            ],
        );
        assert!(plain.contains("MANIFIX_GIT_TOKEN is set but not sent to 127.0.0.1 over http"));
        assert!(plain.contains("only over https"), "{plain}");
        let own = notes("https://b.example/x", &[("MANIFIX_GIT_TOKEN", "m")]);
        assert!(
            own.contains("add b.example to MANIFIX_GIT_TOKEN_HOSTS"),
            "{own}"
        );
        assert_eq!(notes("https://b.example/x", &[]), "");
        for url in ["https://evil.net\\@github.com/", "https:github.com/x"] {
            let unclear = notes(url, &[("GITHUB_TOKEN", "g")]);
            assert!(
                unclear.contains("cannot be read for certain"),
                "{url}: {unclear}"
            );
            assert!(!unclear.contains('g') || unclear.contains("GITHUB_TOKEN"));
        }
    }

    #[test]
    fn timeouts_default_or_from_the_variable() {
        assert_eq!(timeouts(None), Ok((CONNECT_TIMEOUT, READ_TIMEOUT)));
        assert_eq!(timeouts(Some(" ")), Ok((CONNECT_TIMEOUT, READ_TIMEOUT)));
        let two = Duration::from_secs(2);
        assert_eq!(timeouts(Some("2")), Ok((two, two)));
        let half = Duration::from_millis(500);
        assert_eq!(timeouts(Some("0.5")), Ok((half, half)));
        for bad in ["0", "-1", "ten", "1e9", "NaN"] {
            let e = timeouts(Some(bad)).unwrap_err();
            assert!(e.contains("MANIFIX_GIT_TIMEOUT"), "{bad}: {e}");
        }
    }

    /// The limits reach libgit2 (the only test in this crate that sets them).
    #[test]
    fn timeouts_are_set_in_libgit2() {
        apply_timeouts(Duration::from_millis(1500), Duration::from_secs(7));
        // SAFETY: reads of the globals just set; no other test touches them.
        let (connect, read) = unsafe {
            (
                git2::opts::get_server_connect_timeout_in_milliseconds().unwrap(),
                git2::opts::get_server_timeout_in_milliseconds().unwrap(),
            )
        };
        assert_eq!((connect, read), (1500, 7000));
        apply_timeouts(CONNECT_TIMEOUT, READ_TIMEOUT);
        let (connect, read) = unsafe {
            (
                git2::opts::get_server_connect_timeout_in_milliseconds().unwrap(),
                git2::opts::get_server_timeout_in_milliseconds().unwrap(),
            )
        };
        assert_eq!((connect, read), (10_000, 60_000));
    }
}

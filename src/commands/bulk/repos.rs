//! Which repositories a bulk run covers: a list file (paths or clone URLs) or every git
//! repository under a directory, and the stable shard a repository falls in.

use crate::resolve::git::{is_url, redact_url};
use std::path::{Path, PathBuf};

/// One repository of the run. `id` is how it is named in the table, the report and the shard
/// split: as written in the list, or relative to the directory, so it is the same on every
/// machine; a URL's credentials never appear in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoSpec {
    pub id: String,
    pub location: Location,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Local(PathBuf),
    Url(String),
}

/// The repositories named by `--repos`: a directory is searched, a file is read as a list.
pub fn from_arg(arg: &Path) -> Result<Vec<RepoSpec>, String> {
    if arg.is_dir() {
        let mut out = Vec::new();
        find_repositories(arg, arg, &mut out)
            .map_err(|e| format!("--repos {}: {e}", arg.display()))?;
        out.sort_by(|a, b| a.id.cmp(&b.id));
        if out.is_empty() {
            return Err(format!(
                "--repos {}: no git repositories under this directory",
                arg.display()
            ));
        }
        return Ok(out);
    }
    // A list of a hundred thousand URLs fits many times over.
    const MAX_LIST_BYTES: u64 = 16 << 20;
    let text = crate::fsio::read_named_text(arg, MAX_LIST_BYTES, "--repos")
        .map_err(|e| format!("{e}; give a list file or a directory"))?;
    let base = arg.parent().unwrap_or(Path::new(""));
    parse_list(&text, base, &arg.display().to_string())
}

/// A list: one path (relative to the list's directory) or URL per line; `#` starts a comment.
pub fn parse_list(text: &str, base: &Path, shown: &str) -> Result<Vec<RepoSpec>, String> {
    let mut out: Vec<RepoSpec> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let entry = line.split(" #").next().unwrap_or("").trim();
        if entry.is_empty() || entry.starts_with('#') {
            continue;
        }
        let spec = if is_url(entry) {
            RepoSpec {
                id: redact_url(entry),
                location: Location::Url(entry.to_string()),
            }
        } else {
            let id = entry.trim_end_matches('/').to_string();
            RepoSpec {
                location: Location::Local(base.join(&id)),
                id,
            }
        };
        if out.iter().any(|o| o.id == spec.id) {
            return Err(format!("{shown}:{}: {} is listed twice", n + 1, spec.id));
        }
        out.push(spec);
    }
    if out.is_empty() {
        return Err(format!("{shown}: the list names no repositories"));
    }
    Ok(out)
}

/// Every git repository under `dir` (a work tree with `.git`, or a bare repository), not
/// looking inside repositories, hidden directories or symbolic links.
fn find_repositories(root: &Path, dir: &Path, out: &mut Vec<RepoSpec>) -> std::io::Result<()> {
    if dir.join(".git").exists() || is_bare_repository(dir) {
        let rel = crate::discover::relative(root, dir);
        out.push(RepoSpec {
            id: rel,
            location: Location::Local(dir.to_path_buf()),
        });
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if !hidden && entry.file_type()?.is_dir() {
            find_repositories(root, &entry.path(), out)?;
        }
    }
    Ok(())
}

fn is_bare_repository(dir: &Path) -> bool {
    dir.join("HEAD").is_file() && dir.join("objects").is_dir() && dir.join("refs").is_dir()
}

/// `--shard K/N`: shard K (1-based) of N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || {
            format!(
                "--shard {text:?}: expected K/N with 1 <= K <= N, e.g. 2/8 (shards count from 1)"
            )
        };
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count): (u64, u64) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// Whether a repository falls in this shard: decided by its id alone, so adding or
    /// removing other repositories never moves it to another shard.
    pub fn holds(&self, id: &str) -> bool {
        crate::text::stable_hash(id) % self.count == self.index - 1
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_takes_paths_urls_and_comments() {
        let list = "# team repos\napps/one/\nhttps://user:secret@git.example.com/two.git  # the token is redacted\n\n";
        let specs = parse_list(list, Path::new("/base"), "repos.txt").unwrap();
        assert_eq!(specs[0].id, "apps/one");
        assert_eq!(
            specs[0].location,
            Location::Local(PathBuf::from("/base/apps/one"))
        );
        assert!(!specs[1].id.contains("secret"), "{}", specs[1].id);
        assert!(matches!(&specs[1].location, Location::Url(u) if u.contains("secret")));
        let err = parse_list("a\nb\na/\n", Path::new(""), "r.txt").unwrap_err();
        assert_eq!(err, "r.txt:3: a is listed twice");
    }

    #[test]
    fn shards_split_every_repository_exactly_once() {
        let ids: Vec<String> = (0..500).map(|i| format!("org/repo-{i}")).collect();
        let shards: Vec<Shard> = (1..=7)
            .map(|k| Shard::parse(&format!("{k}/7")).unwrap())
            .collect();
        for id in &ids {
            assert_eq!(shards.iter().filter(|s| s.holds(id)).count(), 1, "{id}");
        }
        for s in &shards {
            let n = ids.iter().filter(|id| s.holds(id)).count();
            assert!((40..=105).contains(&n), "shard {s} holds {n} of 500");
        }
        for bad in ["0/3", "4/3", "1/0", "x/2", "3"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }
}

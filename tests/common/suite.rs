//! The yaml-test-suite corpus vendored under `tests/corpus`: where its cases are.

use std::path::{Path, PathBuf};

/// Every case directory under `data` holding an `in.yaml` (top-level cases and the numbered
/// sub-cases of multi-case ids), in a stable order.
pub fn case_dirs(data: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut top: Vec<PathBuf> = std::fs::read_dir(data)
        .expect("yaml-test-suite corpus is missing")
        .map(|e| e.expect("readable dir entry").path())
        .filter(|p| p.is_dir())
        .collect();
    top.sort();
    for dir in top {
        if dir.join("in.yaml").is_file() {
            dirs.push(dir);
            continue;
        }
        let mut subs: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("readable case dir")
            .map(|e| e.expect("readable dir entry").path())
            .filter(|p| p.join("in.yaml").is_file())
            .collect();
        subs.sort();
        dirs.extend(subs);
    }
    dirs
}

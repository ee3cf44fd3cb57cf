#!/usr/bin/env python3
"""Checks that gen.py's inputs mean what the benchmark says they mean: manifix finds something
in exactly the files gen.py planted a problem in, and nothing (not even info) anywhere else.

  MANIFIX=/path/to/manifix bench/verify_gen.py [--files 3000] [--seed 7]

Generates ratio 0, 0.01 and 1 into a temporary directory, runs `manifix check --format json`
on each, and compares the files with findings against `gen.py --list-matches`. Also checks
that each generated repository of `gen.py repos` has both a placeholder account and a mutable
tag to fix. Exit status 0 when everything agrees. Run it after changing gen.py or the rules.
"""

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def check_json(manifix: str, path: str) -> dict:
    # Exit 1 only means "found errors"; 2 is a real failure, and the JSON says which files.
    run = subprocess.run([manifix, "check", "--format", "json", path],
                         capture_output=True, text=True)
    if run.returncode not in (0, 1):
        sys.exit(f"manifix check {path} exited {run.returncode}: {run.stderr.strip()}")
    return json.loads(run.stdout)


def verify_monorepo(manifix: str, tmp: str, files: int, ratio: float, seed: int) -> bool:
    out = os.path.join(tmp, f"mono-{ratio}")
    matches = out + ".matches"
    subprocess.run([sys.executable, os.path.join(HERE, "gen.py"), "monorepo", out,
                    "--files", str(files), "--match-ratio", str(ratio), "--seed", str(seed),
                    "--list-matches", matches], check=True, stdout=subprocess.DEVNULL)
    report = check_json(manifix, out)
    planted = dict(line.rstrip("\n").split("\t") for line in open(matches))
    found = collections.defaultdict(set)
    for f in report["findings"]:
        found[f["path"]].add(f"{f['rule']}/{f['severity']}")
    wrong = sorted(p for p in set(found) | set(planted) if (p in planted) != (p in found))
    ok = not wrong and not report["errors"] and not report["skipped"]
    print(f"ratio {ratio}: {files} files, {len(planted)} planted, {len(found)} with findings, "
          f"{len(report['errors'])} file errors, {len(report['skipped'])} skipped: "
          f"{'ok' if ok else 'MISMATCH'}")
    for p in wrong[:20]:
        print(f"  {p}: planted {planted.get(p, '-')}, found {sorted(found.get(p, [])) or '-'}")
    return ok


def verify_repos(manifix: str, tmp: str, count: int, seed: int) -> bool:
    out = os.path.join(tmp, "repos")
    subprocess.run([sys.executable, os.path.join(HERE, "gen.py"), "repos", out,
                    "--count", str(count), "--seed", str(seed)], check=True,
                   stdout=subprocess.DEVNULL)
    bad = []
    for name in open(os.path.join(out, "repos.txt")).read().split():
        report = check_json(manifix, os.path.join(out, name))
        rules = {f["rule"] for f in report["findings"]}
        if not {"placeholder-account", "mutable-tag"} <= rules or report["errors"]:
            bad.append((name, sorted(rules)))
    print(f"repos: {count} repositories, {len(bad)} without both problems: "
          f"{'ok' if not bad else 'MISMATCH'}")
    for name, rules in bad[:20]:
        print(f"  {name}: {rules}")
    return not bad


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=3000)
    ap.add_argument("--repos", type=int, default=30)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    manifix = os.environ.get("MANIFIX") or "/work/target-bench/release/manifix"
    if not os.access(manifix, os.X_OK):
        sys.exit(f"no manifix binary at {manifix}: set MANIFIX=/path/to/manifix")
    with tempfile.TemporaryDirectory(prefix="manifix-verify-") as tmp:
        ok = all([verify_monorepo(manifix, tmp, args.files, r, args.seed) for r in (0, 0.01, 1)]
                 + [verify_repos(manifix, tmp, args.repos, args.seed)])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

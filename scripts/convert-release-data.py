#!/usr/bin/env python3
"""Convert the upstream Kubernetes release data in a directory into scs-kaas' compact snapshot.

Input directory layout (as in shared/data/k8s/):
  releases.json   {"versions": {"1.35.8": {"name": "1.35.8", "date": "2026-08-20"}, ...}}
  eol.yaml        [{"branch": "1.35", "end-of-life": "2027-02-28"}, ...]
  cves/*.json     one OSV record per file

Output: crates/core/data/k8s-release-data.json, the same format `scs-kaas versions refresh`
writes to its cache. The snapshot date ("as_of") is when the sources were fetched; give it with
--as-of because the files themselves do not record it.

Usage: scripts/convert-release-data.py --as-of 2026-08-22 /path/to/k8s > crates/core/data/k8s-release-data.json
Needs Python 3 and PyYAML. Output is deterministic (sorted keys and lists).
"""
import argparse
import datetime
import glob
import json
import os
import re
import sys

import yaml

# Fields of an OSV record the policy uses; prose (details, references) is dropped to keep the
# binary small.
OSV_KEEP = ("id", "summary", "published", "modified", "severity", "affected")
VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


def version_key(v):
    m = VERSION.match(v)
    if not m:
        sys.exit(f"releases.json: `{v}` is not MAJOR.MINOR.PATCH")
    return tuple(int(x) for x in m.groups())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", help="directory with releases.json, eol.yaml, cves/")
    ap.add_argument("--as-of", required=True, help="date the sources were fetched (YYYY-MM-DD)")
    args = ap.parse_args()
    datetime.date.fromisoformat(args.as_of)

    with open(os.path.join(args.source, "releases.json")) as f:
        versions = json.load(f)["versions"]
    releases = []
    for name in sorted(versions, key=version_key, reverse=True):
        date = versions[name]["date"]
        datetime.date.fromisoformat(date)
        releases.append({"version": name, "published": date})

    with open(os.path.join(args.source, "eol.yaml")) as f:
        eol = yaml.safe_load(f)
    branches = []
    for entry in eol:
        branch = str(entry["branch"])
        end = str(entry["end-of-life"])
        datetime.date.fromisoformat(end)
        branches.append({"branch": branch, "end_of_life": end})
    branches.sort(key=lambda b: tuple(int(x) for x in b["branch"].split(".")), reverse=True)

    cves = []
    for path in sorted(glob.glob(os.path.join(args.source, "cves", "*.json"))):
        with open(path) as f:
            record = json.load(f)
        cves.append({k: record[k] for k in OSV_KEEP if k in record})
    cves.sort(key=lambda r: r["id"])

    out = {
        "format": 1,
        "as_of": args.as_of,
        "sources": {
            "releases": "https://github.com/kubernetes/kubernetes/releases (GA releases, dates)",
            "end_of_life": "https://kubernetes.io/releases/patch-releases/#detailed-release-history-for-active-branches",
            "cves": "https://kubernetes.io/docs/reference/issues-security/official-cve-feed/ (OSV records)",
        },
        "releases": releases,
        "branches": branches,
        "cves": cves,
    }
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

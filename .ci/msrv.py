#!/usr/bin/env python3
"""Checks the declared MSRV without a second toolchain (this machine has one Rust and cannot fetch
another): every workspace member declares the workspace's rust-version, and no locked dependency
declares a newer one. The GitHub workflow's `msrv` job also builds the workspace with that
toolchain itself, which is the check of our own code."""
import json
import subprocess
import sys

metadata = json.loads(
    subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"],
        check=True, capture_output=True, text=True,
    ).stdout
)
members = set(metadata["workspace_members"])


def version(text):
    return tuple(int(part) for part in text.split("."))


declared = {p["rust_version"] for p in metadata["packages"] if p["id"] in members}
if len(declared) != 1 or None in declared:
    sys.exit(f"msrv: workspace members declare rust-version {sorted(map(str, declared))}; expected one, inherited from the workspace")
msrv = declared.pop()
newer = sorted(
    f"{p['name']} {p['version']} needs rust {p['rust_version']}"
    for p in metadata["packages"]
    if p["id"] not in members and p.get("rust_version") and version(p["rust_version"]) > version(msrv)
)
if newer:
    sys.exit(f"msrv: the lock holds dependencies newer than rust-version {msrv}:\n  " + "\n  ".join(newer))
checked = sum(1 for p in metadata["packages"] if p["id"] not in members)
print(f"msrv: rust-version {msrv} declared by {len(members)} members; {checked} locked dependencies allow it")

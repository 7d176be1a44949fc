#!/usr/bin/env python3
"""Checks the declared MSRV without a second toolchain (this machine has one Rust and cannot fetch
another): every workspace member declares the workspace's rust-version, no locked dependency
declares a newer one, and the GitHub workflow installs that toolchain
(`dtolnay/rust-toolchain@<rust-version>`): its `msrv` job builds the workspace with it, which is
the check of our own code."""
import json
import pathlib
import re
import subprocess
import sys

WORKFLOW = pathlib.Path(__file__).resolve().parent.parent / ".github" / "workflows" / "ci.yml"

metadata = json.loads(
    subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"],
        check=True, capture_output=True, text=True,
    ).stdout
)
members = set(metadata["workspace_members"])


def version(text):
    return tuple(int(part) for part in text.split("."))


def release(text):
    """The version as major, minor, patch, so that 1.88 and 1.88.0 compare equal."""
    parts = version(text)
    return parts + (0,) * (3 - len(parts))


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
pinned = re.findall(r"dtolnay/rust-toolchain@(\d+(?:\.\d+)*)", WORKFLOW.read_text())
if not any(release(toolchain) == release(msrv) for toolchain in pinned):
    sys.exit(f"msrv: {WORKFLOW.name} never installs dtolnay/rust-toolchain@{msrv} (the declared rust-version; it pins {pinned or 'no numbered toolchain'}), so no CI job builds with the MSRV")
checked = sum(1 for p in metadata["packages"] if p["id"] not in members)
print(f"msrv: rust-version {msrv} declared by {len(members)} members; {checked} locked dependencies allow it; {WORKFLOW.name} builds with it")

#!/usr/bin/env python3
"""Where the hand-written code still names one resource.

Adding a Cliniko resource must be a spec edit, so hand-written code that names a resource's
fields or operations is a debt: every such line is work for the next resource. This prints every
hand-written, non-test line of the tool and library crates that names the attendee resource (the
word `attendee`, an attendee operationId or its Rust name, or a property of more than one word that
only the attendee's schemas have), and fails when there are more than the budget.

Not counted: generated files (`generated_*.rs`), test code (`#[cfg(test)]` modules, `tests/`,
`benches/`, `examples/`), comments and docs, per-resource rules modules (any file under a
`rules/` folder: that is where what OpenAPI cannot say belongs), and aliases kept for the
attendee API (`pub type ...`, `pub use ...`).

    python3 .ci/resource-names.py [--budget N] [--quiet]
"""

import argparse
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
FOLDERS = [
    "xtask/src",
    "crates/cliniko-spec/src",
    "crates/cliniko-client/src",
    "crates/cliniko-cli/src",
    "crates/cliniko-conformance/src",
]
RESOURCE = "attendee"
# The budget: the lines that still name attendees. Lower it as they go; never raise it to pass.
BUDGET = 80


def names_of_the_resource():
    text = (ROOT / "spec/cliniko-attendees.yaml").read_text()
    operation_ids = set(re.findall(r"operationId:\s*(\w+)", text))
    attendee_ops = {o for o in operation_ids if RESOURCE in o.lower()}
    rust_names = {re.sub(r"(?<!^)(?=[A-Z])", "_", o).lower() for o in attendee_ops}
    # Property names per schema: `    Name:` at 4 spaces under components/schemas, properties at 8.
    schemas = {}
    in_schemas = False
    current = None
    in_properties = False
    for line in text.splitlines():
        if re.match(r"^  schemas:\s*$", line):
            in_schemas = True
            continue
        if in_schemas and re.match(r"^  \S", line):
            in_schemas = False
        if not in_schemas:
            continue
        m = re.match(r"^    (\w+):\s*$", line)
        if m:
            current = m.group(1)
            schemas[current] = set()
            in_properties = False
            continue
        if re.match(r"^      properties:\s*$", line):
            in_properties = True
            continue
        if re.match(r"^      \S", line):
            in_properties = False
        m = re.match(r"^        (\w+):", line)
        if current and in_properties and m:
            schemas[current].add(m.group(1))
    own = set()
    others = set()
    for name, props in schemas.items():
        (own if name.lower().startswith(RESOURCE) else others).update(props)
    generic = {"id", "created_at", "updated_at", "links", "self", "next", "previous", "total_entries"}
    # One-word fields (`notes`, `arrived`) are English words too; only names with an underscore
    # are taken as the resource's own.
    fields = {f for f in own - others - generic if "_" in f}
    if not attendee_ops or not fields:
        # A check that could not read what it looks for fails rather than counting nothing.
        sys.exit(f"FAIL: read no {RESOURCE} operationId or field from spec/cliniko-attendees.yaml")
    words = sorted(attendee_ops | rust_names | fields | {RESOURCE})
    return re.compile(r"(?i)\b(?:\w*attendee\w*|" + "|".join(map(re.escape, words)) + r")\b")


def counted_lines(pattern):
    out = []
    read = 0
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.rs")):
            relative = path.relative_to(ROOT).as_posix()
            if path.name.startswith("generated_") or "/rules/" in relative:
                continue
            if any(part in ("tests", "benches", "examples") for part in path.parts[len(ROOT.parts):]):
                continue
            if path.name == "tests.rs":
                continue
            read += 1
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                stripped = line.strip()
                if stripped.startswith("#[cfg(test)]"):
                    break
                if stripped.startswith("//") or not stripped:
                    continue
                if re.match(r"(pub(\(crate\))? )?(type|use) ", stripped):
                    continue
                # The project's and the spec's name (`cliniko-attendees`) is no resource name.
                if pattern.search(line.replace("cliniko-attendees", "")):
                    out.append((relative, number, stripped))
    if read == 0:
        sys.exit(f"FAIL: no Rust file read under {', '.join(FOLDERS)}")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=BUDGET)
    parser.add_argument("--quiet", action="store_true", help="print the counts only")
    args = parser.parse_args()
    lines = counted_lines(names_of_the_resource())
    if not args.quiet:
        for relative, number, text in lines:
            print(f"{relative}:{number}: {text[:110]}")
    per_folder = {}
    for relative, _, _ in lines:
        folder = next(f for f in FOLDERS if relative.startswith(f))
        per_folder[folder] = per_folder.get(folder, 0) + 1
    for folder in FOLDERS:
        print(f"{per_folder.get(folder, 0):5} {folder}")
    print(f"{len(lines):5} hand-written lines name the {RESOURCE} resource (budget {args.budget})")
    if len(lines) > args.budget:
        print(f"FAIL: over the budget by {len(lines) - args.budget}; derive it from the spec instead", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

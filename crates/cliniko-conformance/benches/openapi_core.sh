#!/usr/bin/env bash
# Validates the benchmark corpus with Python's openapi-core and with cliniko-conformance, and
# prints both throughputs and their ratio (the target: ours at least 100 times faster).
#
#   crates/cliniko-conformance/benches/openapi_core.sh [FILES] [RUNS]
#
# Each tool validates the sample RUNS times (default 5) and the median time is reported, so that
# one cold run (page cache, CPU frequency, a neighbour's build) does not decide the ratio.
#
# Run `cargo bench -p cliniko-conformance` first: it writes the corpus under
# target/conformance-bench/. openapi-core is slow, so only the first FILES recordings (default 100,
# about 12 MB) are validated, by both tools, end to end (reading, parsing, validating). The
# virtualenv is made once, in target/conformance-bench/venv.
set -euo pipefail

files="${1:-100}"
runs="${2:-5}"
root="$(cd "$(dirname "$0")/../../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
bench="$target/conformance-bench"
corpus="$(ls -d "$bench"/corpus-* 2>/dev/null | sort | tail -n 1 || true)"
if [[ -z "$corpus" ]]; then
  echo "no corpus in $bench: run \`cargo bench -p cliniko-conformance\` first" >&2
  exit 2
fi

# A virtualenv that already has openapi-core (OPENAPI_CORE_VENV, or /tmp/tools/venv) is used as is.
venv="${OPENAPI_CORE_VENV:-/tmp/tools/venv}"
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import openapi_core, yaml' 2>/dev/null; then
  venv="$bench/venv"
fi
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'openapi-core>=0.19,<0.20' pyyaml
fi

sample="$bench/sample-$files"
rm -rf "$sample"
mkdir -p "$sample"
# `find | sort | head` under pipefail dies of SIGPIPE (exit 141) once head has its lines and closes
# the pipe; read the whole sorted list first, then take the first FILES.
mapfile -t all_files < <(find "$corpus" -name '*.json' | LC_ALL=C sort)
for file in "${all_files[@]:0:$files}"; do cp "$file" "$sample/"; done

"$venv/bin/python" - "$root/spec/cliniko-attendees.yaml" "$sample" "$runs" > "$bench/openapi-core.out" <<'PY'
import json, pathlib, statistics, sys, time, urllib.parse

import yaml
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

document = yaml.safe_load(pathlib.Path(sys.argv[1]).read_text())


def inline_nullable_refs(node):
    """openapi-core reads `nullable: true` next to `allOf: [$ref]` strictly (the referenced schema
    still refuses null), where cliniko-spec reads it as "this $ref, or null". Inline the target
    with `nullable: true` (and null in its enum) so that both validate the same thing."""
    if isinstance(node, list):
        return [inline_nullable_refs(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: inline_nullable_refs(value) for key, value in node.items()}
    branches = node.get("allOf")
    if node.get("nullable") and isinstance(branches, list) and len(branches) == 1 and "$ref" in branches[0]:
        target = document
        for token in branches[0]["$ref"].lstrip("#/").split("/"):
            target = target[token]
        merged = {**inline_nullable_refs(target), **{k: v for k, v in node.items() if k != "allOf"}}
        if "enum" in merged and None not in merged["enum"]:
            merged["enum"] = [*merged["enum"], None]
        return merged
    return node


spec = OpenAPI.from_dict(inline_nullable_refs(document))
files = sorted(pathlib.Path(sys.argv[2]).glob("*.json"))
runs = int(sys.argv[3])
timings = []
for run in range(runs):
  total = 0
  errors = 0
  started = time.perf_counter()
  for path in files:
      data = path.read_bytes()
      total += len(data)
      recording = json.loads(data)
      request, response = recording["request"], recording["response"]
      url = urllib.parse.urlsplit(request["url"])
      mock_request = MockRequest(
          f"{url.scheme}://{url.netloc}", request["method"].lower(), url.path,
          args=dict(urllib.parse.parse_qsl(url.query)), headers=request.get("headers") or {},
      )
      body = response.get("body")
      mock_response = MockResponse(
          json.dumps(body).encode(), status_code=response["status"],
          headers=response.get("headers") or {}, content_type="application/json",
      )
      try:
          spec.validate_response(mock_request, mock_response)
      except Exception as error:  # report the first few, count them all
          errors += 1
          if errors <= 3:
              print(f"{path.name}: {type(error).__name__}: ...{str(error)[-300:]}", file=sys.stderr)
  timings.append(time.perf_counter() - started)
print(f"{total} {statistics.median(timings)} {len(files)} {errors}")
PY
read -r bytes py_seconds count py_errors < "$bench/openapi-core.out"

cargo build --quiet --release -p cliniko-conformance --manifest-path "$root/Cargo.toml"
rust_times=()
for _ in $(seq "$runs"); do
  start=$(date +%s.%N)
  # Exit 1 (a violation) still times the check; anything else is a failure of the run.
  "$target/release/cliniko-conformance" check "$sample" > /dev/null || [[ $? -eq 1 ]]
  end=$(date +%s.%N)
  rust_times+=("$(echo "$end - $start" | bc -l)")
done
rust_seconds=$(printf '%s\n' "${rust_times[@]}" | LC_ALL=C sort -g | awk '{ t[NR] = $1 } END { print (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2 }')

python3 - "$bytes" "$py_seconds" "$rust_seconds" "$count" "$py_errors" "$runs" <<'PY'
import sys
size, py, rust, count, errors = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
print(f"corpus sample: {count} recordings, {size / 1e6:.1f} MB; median of {sys.argv[6]} runs each")
print(f"openapi-core:        {size / 1e6 / py:8.2f} MB/s  ({py:.2f} s, {errors} exchanges refused)")
print(f"cliniko-conformance: {size / 1e6 / rust:8.2f} MB/s  ({rust:.2f} s, whole process: start, spec, check)")
print(f"ratio: cliniko-conformance is {py / rust:.0f}x faster")
PY

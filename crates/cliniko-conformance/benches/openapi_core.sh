#!/usr/bin/env bash
# Validates the benchmark corpus with Python's openapi-core and with cliniko-conformance, and
# prints both throughputs and their ratio (issue 10's target: ours at least 500 times faster). The
# corpus conforms, so a run in which either tool refuses an exchange fails (exit 1): its timing
# would not be of the same work.
#
#   crates/cliniko-conformance/benches/openapi_core.sh [FILES] [RUNS]
#
# Each tool validates the sample RUNS times (default 5) and the median time is reported, so that
# one cold run (page cache, CPU frequency, a neighbour's build) does not decide the ratio.
#
# Run `cargo bench -p cliniko-conformance --bench validate` first: it writes the corpus under
# target/conformance-bench/. openapi-core is slow, so only the first FILES recordings (default
# 100, about 12 MB) are validated, by both tools, end to end (reading, parsing, validating).
# openapi-core is the version .ci/outside-tools pins (0.23.1), from the same hash-checked
# requirements, installed once into target/conformance-bench/venv unless OPENAPI_CORE_VENV names
# a virtualenv that has it. It reads the spec unchanged, as .ci/outside-tools does.
set -euo pipefail

files="${1:-100}"
runs="${2:-5}"
root="$(cd "$(dirname "$0")/../../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
bench="$target/conformance-bench"
corpus="$(ls -d "$bench"/corpus-* 2>/dev/null | sort | tail -n 1 || true)"
if [[ -z "$corpus" ]]; then
  echo "no corpus in $bench: run \`cargo bench -p cliniko-conformance --bench validate\` first" >&2
  exit 2
fi

pinned="$(sed -n 's/^openapi-core==\([0-9.]*\).*/\1/p' "$root/.ci/outside-tools/requirements.txt")"
has_pinned() {
  [[ -x "$1/bin/python" ]] && "$1/bin/python" - "$pinned" <<'PY' 2>/dev/null
import importlib.metadata, sys
import yaml  # noqa: F401
sys.exit(importlib.metadata.version("openapi-core") != sys.argv[1])
PY
}
venv="${OPENAPI_CORE_VENV:-$bench/venv}"
if ! has_pinned "$venv"; then
  venv="$bench/venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps --require-hashes \
    -r "$root/.ci/outside-tools/requirements.txt"
fi
has_pinned "$venv" || { echo "openapi-core $pinned is not in $venv" >&2; exit 2; }

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
spec = OpenAPI.from_dict(document)
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
# The median whole-process time of `check` on the sample, with the extra arguments given (the
# default spreads files across every core; `--threads 1` is one core, as openapi-core runs).
rust_median() {
  local times=()
  for _ in $(seq "$runs"); do
    start=$(date +%s.%N)
    "$target/release/cliniko-conformance" check "$@" "$sample" > /dev/null || {
      echo "cliniko-conformance refused the sample (exit $?); run it on $sample to see why" >&2
      exit 1
    }
    end=$(date +%s.%N)
    times+=("$(echo "$end - $start" | bc -l)")
  done
  printf '%s\n' "${times[@]}" | LC_ALL=C sort -g | awk '{ t[NR] = $1 } END { print (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2 }'
}
rust_seconds=$(rust_median)
rust_one_seconds=$(rust_median --threads 1)

python3 - "$bytes" "$py_seconds" "$rust_seconds" "$count" "$py_errors" "$runs" "$rust_one_seconds" "$(nproc)" <<'PY'
import sys
size, py, rust, count, errors = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
one, cores = float(sys.argv[7]), sys.argv[8]
print(f"corpus sample: {count} recordings, {size / 1e6:.1f} MB; median of {sys.argv[6]} runs each")
print(f"openapi-core:        {size / 1e6 / py:8.2f} MB/s  ({py:.2f} s, {errors} exchanges refused)")
print(f"cliniko-conformance: {size / 1e6 / rust:8.2f} MB/s  ({rust:.2f} s, whole process: start, spec, check; {cores} cores)")
print(f"  with --threads 1:  {size / 1e6 / one:8.2f} MB/s  ({one:.2f} s)")
print(f"ratio: cliniko-conformance is {py / rust:.0f}x faster ({py / one:.0f}x on one thread)")
PY
if [[ "$py_errors" != 0 ]]; then
  echo "openapi-core refused $py_errors of the $count exchanges: the two did not do the same work" >&2
  exit 1
fi

#!/usr/bin/env python3
"""Asks openapi-core about every recorded exchange and compares its verdict with cliniko-conformance's.

    openapi_core_verdicts.py --checker "CMD" --allow ALLOW.yaml SPEC PATH...

SPEC is read as it is (OpenAPI.from_file_path: no inlining, no rewriting). CMD is the command that
runs cliniko-conformance (its `check --format json PATH...` is appended). For each exchange there
are two verdicts:

- request: openapi-core's validate_request (only when the recording has a request) against
  cliniko-conformance's request findings (`request_parameter`, `request_header`, `request_body`,
  reported as violations or, when the server refused the request, as notes);
- response: openapi-core's validate_response against every other violation kind
  (`accepted_invalid_request` is a consequence of the request verdict, not a response finding).
  `unknown_operation` counts on both sides: no operation, so neither part can be valid.

204 responses are compared on headers only: openapi-core does not look at their bodies, so a body
on a 204 (`unexpected_body`) is not a disagreement.

The recording format is the one in the cliniko-conformance crate docs; HAR 1.2 archives (`*.har`) are
read entry by entry, as cliniko-conformance reads them. Two of its rules are applied
before openapi-core sees the exchange, because they are facts of the recordings, not of the spec:
- the origin is ignored (live recordings are scrubbed to https://cliniko.invalid): every request is
  sent as https://api.au1.cliniko.com/v1/PATH, the spec's server with its default shard;
- recordings carry no credentials (they are scrubbed), so a placeholder `Authorization: Basic`
  header is added for openapi-core's security check, and a recording without a request `headers`
  object has its header checks skipped by cliniko-conformance, so openapi-core's header-parameter
  errors are ignored for it.

Every remaining disagreement must be in ALLOW.yaml (file, side, ours, theirs, reason). Exits 1 on
any disagreement that is not allowed, on an allow-list entry that no longer matches anything, and
when nothing was compared; 2 when the checker or a file cannot be read.
"""
import argparse
import base64
import json
import pathlib
import shlex
import subprocess
import sys
import urllib.parse

import yaml
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

HOST = "https://api.au1.cliniko.com"
REQUEST_KINDS = {"request_parameter", "request_header", "request_body"}
META_KINDS = {"accepted_invalid_request"}
# JSON files beside the recordings that are not recordings.
NOT_RECORDINGS = {"expected.json"}
# A placeholder key, never a real one: recordings are scrubbed of credentials.
PLACEHOLDER_AUTH = "Basic cGxhY2Vob2xkZXI6"


def headers_of(part):
    """Headers as (name, value) pairs; arrays give one pair per value, numbers and booleans their text."""
    pairs = []
    for name, value in (part.get("headers") or {}).items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, bool):
                item = "true" if item else "false"
            pairs.append((name, str(item)))
    return pairs


def body_bytes(part):
    body = part.get("body")
    if body is None or body == "":
        return b""
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()


def header(pairs, name):
    for key, value in pairs:
        if key.lower() == name:
            return value
    return None


def har_part(part, body):
    """A HAR 1.2 request or response as the recording format holds it: headers by name (HTTP/2
    pseudo-headers such as `:path` left out), the body as its text. `body` is the request's
    `postData` or the response's `content`."""
    headers = {}
    for pair in part.get("headers") or []:
        if not pair["name"].startswith(":"):
            headers.setdefault(pair["name"], []).append(pair["value"])
    # `postData.mimeType` stands in for a missing Content-Type header, as cliniko-conformance reads it.
    mime = (body or {}).get("mimeType") if part.get("postData") is body else None
    if mime and not any(name.lower() == "content-type" for name in headers):
        headers["content-type"] = [mime]
    text = (body or {}).get("text")
    if text is not None and (body or {}).get("encoding") == "base64":
        text = base64.b64decode(text).decode("utf-8")
    return {"headers": headers, "body": text}


def exchanges_of(path):
    data = json.loads(path.read_text(encoding="utf-8"))
    if path.suffix.lower() == ".har":
        # Every entry of a HAR archive is an exchange, numbered as cliniko-conformance numbers them.
        return [
            (index, {
                "request": {"method": entry["request"]["method"], "url": entry["request"]["url"],
                            **har_part(entry["request"], entry["request"].get("postData"))},
                "response": {"status": entry["response"]["status"],
                             **har_part(entry["response"], entry["response"].get("content"))},
            })
            for index, entry in enumerate(data["log"]["entries"])
        ]
    if isinstance(data, dict) and "interactions" in data:
        return [(index, item) for index, item in enumerate(data["interactions"])]
    return [(None, data)]


def describe(error):
    parts = [f"{type(error).__name__}: {error}"]
    seen = set()
    cause = error.__cause__ or error.__context__
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        for inner in getattr(cause, "schema_errors", []) or []:
            parts.append(f"{'/'.join(map(str, inner.absolute_path)) or '(root)'}: {inner.message}")
        if not getattr(cause, "schema_errors", None):
            parts.append(f"{type(cause).__name__}: {cause}")
        cause = cause.__cause__ or cause.__context__
    for inner in getattr(error, "errors", []) or []:
        parts.append(describe(inner))
    return "; ".join(parts)[:600]


def openapi_core_verdicts(spec, exchange):
    """(request errors or None when there is no request, response errors, whether header checks were skipped)"""
    request, response = exchange["request"], exchange["response"]
    url = urllib.parse.urlsplit(request["url"])
    path = url.path if url.path.startswith("/v1/") or url.path == "/v1" else "/v1" + url.path
    recorded_headers = "headers" in request and request["headers"] is not None
    request_headers = headers_of(request)
    if header(request_headers, "authorization") is None:
        request_headers.append(("Authorization", PLACEHOLDER_AUTH))
    mock_request = MockRequest(
        HOST, request["method"].lower(), path,
        args=urllib.parse.parse_qsl(url.query, keep_blank_values=True),
        headers=request_headers, data=body_bytes(request) or None,
        content_type=header(request_headers, "content-type") or "",
    )
    response_headers = headers_of(response)
    mock_response = MockResponse(
        body_bytes(response), status_code=response["status"], headers=response_headers,
        content_type=header(response_headers, "content-type") or "",
    )
    request_errors = []
    try:
        spec.validate_request(mock_request)
    except Exception as error:  # openapi-core's verdict, whatever its class
        request_errors = [error]
        if not recorded_headers:
            # Keep only the errors that are not about header parameters (see the module docs).
            request_errors = [
                e for e in spec.iter_request_errors(mock_request)
                if not any(getattr(inner, "location", None) == "header" or
                           "header" in type(inner).__name__.lower() or
                           "User-Agent" in str(inner)
                           for inner in [e, *(getattr(e, "errors", []) or [])])
            ]
    response_errors = []
    try:
        spec.validate_response(mock_request, mock_response)
    except Exception as error:
        response_errors = [error]
    return request_errors, response_errors


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checker", required=True)
    parser.add_argument("--allow", required=True, type=pathlib.Path)
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("spec", type=pathlib.Path)
    parser.add_argument("paths", nargs="+", type=pathlib.Path)
    args = parser.parse_args()

    files = sorted({f for p in args.paths
                    for f in ([p] if p.is_file() else [*p.rglob("*.json"), *p.rglob("*.har")])
                    if f.name not in NOT_RECORDINGS})
    if not files:
        print(f"no recording under {', '.join(map(str, args.paths))}", file=sys.stderr)
        return 1
    command = shlex.split(args.checker) + ["check", "--format", "json", *map(str, files)]
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode not in (0, 1):
        print(f"cliniko-conformance failed ({run.returncode}):\n{run.stderr}", file=sys.stderr)
        return 2
    report = json.loads(run.stdout)
    if report.get("unreadable"):
        print(f"cliniko-conformance could not read: {report['unreadable']}", file=sys.stderr)
        return 2

    allow = yaml.safe_load(args.allow.read_text()) or {}
    allowed = {(e["file"], e["side"]): e for e in allow.get("entries", [])}
    used = set()

    spec = OpenAPI.from_file_path(str(args.spec))
    compared = agreed = 0
    unexplained = []
    cache = {}
    for ours in report["exchanges"]:
        file = pathlib.Path(ours["file"])
        if file not in cache:
            cache[file] = dict(exchanges_of(file))
        exchange = cache[file][ours.get("index")]
        findings = ours.get("violations", []) + ours.get("notes", [])
        our_request = sorted({f["kind"] for f in findings
                              if f["kind"] in REQUEST_KINDS or f["kind"] == "unknown_operation"})
        our_response = sorted({v["kind"] for v in ours.get("violations", [])
                               if v["kind"] not in REQUEST_KINDS | META_KINDS})
        if exchange["response"]["status"] == 204:
            our_response = [k for k in our_response if k != "unexpected_body"]
        request_errors, response_errors = openapi_core_verdicts(spec, exchange)
        name = file.as_posix() + ("" if ours.get("index") is None else f"#{ours['index']}")
        for side, our_kinds, their_errors in (
            ("request", our_request, request_errors),
            ("response", our_response, response_errors),
        ):
            compared += 1
            ours_ok, theirs_ok = not our_kinds, not their_errors
            theirs = "accepts" if theirs_ok else describe(their_errors[0])
            ours_text = "accepts" if ours_ok else "refuses: " + ", ".join(our_kinds)
            if args.verbose:
                print(f"{name} {side}: ours {ours_text}; openapi-core {theirs}")
            if ours_ok == theirs_ok:
                agreed += 1
                continue
            entry = allowed.get((name, side))
            if entry and entry.get("ours") == ("accepts" if ours_ok else "refuses") \
                    and entry.get("openapi_core") == ("accepts" if theirs_ok else "refuses"):
                used.add((name, side))
                print(f"allowed  {name} {side}: ours {ours_text}; openapi-core {theirs}\n         reason: {entry['reason'].strip()}")
                continue
            unexplained.append(f"{name} {side}: ours {ours_text}; openapi-core {theirs}")

    stale = sorted(set(allowed) - used)
    for line in unexplained:
        print(f"DISAGREE {line}")
    for name, side in stale:
        print(f"STALE    allow-list entry {name} {side}: no such disagreement any more")
    print(f"openapi-core vs cliniko-conformance: {len(report['exchanges'])} exchanges, {compared} verdicts "
          f"compared, {agreed} agree, {len(used)} allowed disagreements, {len(unexplained)} unexplained, "
          f"{len(stale)} stale allow-list entries")
    if not report["exchanges"] or compared == 0:
        print("nothing was compared", file=sys.stderr)
        return 1
    return 1 if unexplained or stale else 0


if __name__ == "__main__":
    sys.exit(main())

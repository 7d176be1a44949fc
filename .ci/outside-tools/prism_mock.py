#!/usr/bin/env python3
"""Calls every operation of the spec on a running `prism mock` and checks each answer.

    prism_mock.py --checker "CMD" --spec SPEC --out DIR BASE_URL

For each operation of SPEC (all of them, found by reading the document, so a new operation is
called without editing this script) it sends one valid request: Basic auth, a User-Agent of the
spec's form, `Accept: application/json`, path IDs and query parameters from the parameters'
examples, and the request body from the operation's first example. Every answer must be 2xx; each
exchange is written to DIR as a recording (the cliniko-conformance format) and CMD
(`check DIR` appended) must find every one conforming. Exits 1 on any failure, and when no
operation was called.

Prism 5 serves the paths of the document as they are, without the path of `servers` (`/v1`):
`GET /attendees/1`, not `/v1/attendees/1`. The recordings keep the path as sent; the checker
accepts a path without `/v1`.
"""
import argparse
import base64
import json
import pathlib
import shlex
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

import yaml

HEADERS = {
    "Authorization": "Basic " + base64.b64encode(b"prism-placeholder-key:").decode(),
    "User-Agent": "cliniko-attendees CI (ci@example.com)",
    "Accept": "application/json",
}


def resolve(document, node):
    while isinstance(node, dict) and "$ref" in node:
        target = document
        for token in node["$ref"].lstrip("#/").split("/"):
            target = target[token.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def first_example(document, media):
    if "example" in media:
        return media["example"]
    for example in (media.get("examples") or {}).values():
        return resolve(document, example)["value"]
    schema = resolve(document, media.get("schema", {}))
    if "example" in schema:
        return schema["example"]
    raise SystemExit("a request body without an example")


def requests_of(document):
    for path, item in document["paths"].items():
        shared = item.get("parameters", [])
        for method in ("get", "put", "post", "delete", "patch"):
            operation = item.get(method)
            if operation is None:
                continue
            url_path, query = path, []
            for parameter in [resolve(document, p) for p in shared + operation.get("parameters", [])]:
                example = parameter.get("example")
                if parameter["in"] == "path":
                    url_path = url_path.replace("{" + parameter["name"] + "}", urllib.parse.quote(str(example)))
                elif parameter["in"] == "query" and example is not None:
                    for value in example if isinstance(example, list) else [example]:
                        query.append((parameter["name"], str(value)))
            body = None
            if "requestBody" in operation:
                media = resolve(document, operation["requestBody"])["content"]["application/json"]
                body = first_example(document, media)
            yield operation["operationId"], method.upper(), url_path, query, body


def call(base, method, path, query, body):
    url = base.rstrip("/") + path + ("?" + urllib.parse.urlencode(query) if query else "")
    headers = dict(HEADERS)
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            status, answer_headers, raw = answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as error:
        status, answer_headers, raw = error.code, error.headers, error.read()
    recorded_request_headers = {k.lower(): v for k, v in headers.items() if k != "Authorization"}
    text = raw.decode("utf-8", "replace")
    try:  # a JSON body is recorded as its value, anything else as its text
        recorded_body = json.loads(text) if text else None
        if isinstance(recorded_body, str):
            recorded_body = text
    except ValueError:
        recorded_body = text
    return status, {
        "request": {"method": method, "url": url, "headers": recorded_request_headers, "body": body},
        "response": {"status": status, "headers": {k.lower(): v for k, v in answer_headers.items()},
                     "body": recorded_body},
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checker", required=True)
    parser.add_argument("--spec", required=True, type=pathlib.Path)
    parser.add_argument("--out", required=True, type=pathlib.Path)
    parser.add_argument("base_url")
    args = parser.parse_args()
    document = yaml.safe_load(args.spec.read_text())
    args.out.mkdir(parents=True, exist_ok=True)
    failures, called = [], 0
    for operation_id, method, path, query, body in requests_of(document):
        status, exchange = call(args.base_url, method, path, query, body)
        called += 1
        (args.out / f"{operation_id}-{status}.json").write_text(json.dumps(exchange, indent=2))
        print(f"  {status} {method:6} {path:55} {operation_id}")
        if not 200 <= status < 300:
            failures.append(f"{operation_id}: {status} {exchange['response']['body']}")
    if called == 0:
        print("prism: no operation called", file=sys.stderr)
        return 1
    check = subprocess.run(shlex.split(args.checker) + ["check", str(args.out)], capture_output=True, text=True)
    print("\n".join("  cliniko-conformance: " + line for line in check.stdout.splitlines() if " exchanges checked" in line))
    if check.returncode != 0:
        failures.append(f"cliniko-conformance check exited {check.returncode}:\n{check.stdout}{check.stderr}")
    for failure in failures:
        print(f"FAIL {failure}")
    print(f"prism mock: {called} operations called, {sum(1 for _ in args.out.glob('*.json'))} recordings, "
          f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

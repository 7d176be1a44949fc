#!/usr/bin/env python3
"""Writes one recording per operation and documented status from the spec's own examples.

Run from the workspace root: python3 tests/recordings/spec-examples/generate.py
It rewrites every *.json file in this folder; the output is deterministic.
"""
import json
import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
OUT = pathlib.Path(__file__).resolve().parent
SPEC = yaml.safe_load((ROOT / "spec" / "cliniko-attendees.yaml").read_text())
BASE = "https://api.au1.cliniko.com/v1"
USER_AGENT = "cliniko-conformance (conformance@example.com)"


def resolve(node):
    while isinstance(node, dict) and "$ref" in node:
        target = SPEC
        for token in node["$ref"].lstrip("#/").split("/"):
            target = target[token.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def example_of(media):
    for example in (media.get("examples") or {}).values():
        return resolve(example)["value"]
    if "example" in media:
        return media["example"]
    return resolve(media.get("schema", {})).get("example")


def main():
    for old in OUT.glob("*.json"):
        old.unlink()
    for path, item in SPEC["paths"].items():
        for method in ("get", "put", "post", "delete", "patch"):
            operation = item.get(method)
            if operation is None:
                continue
            url = BASE + re.sub(r"\{[^}]+\}", "1", path)
            request_headers = {"accept": "application/json", "user-agent": USER_AGENT}
            request_body = None
            if "requestBody" in operation:
                media = resolve(operation["requestBody"])["content"]["application/json"]
                request_body = example_of(media)
                request_headers["content-type"] = "application/json"
            for status, response in operation["responses"].items():
                response = resolve(response)
                code = 500 if status.upper() == "5XX" else int(status)
                contents = response.get("content") or {None: None}
                for media_type, media in contents.items():
                    headers = {}
                    for name, header in (response.get("headers") or {}).items():
                        headers[name.lower()] = str(resolve(header)["example"])
                    body = None
                    if media_type is not None:
                        headers["content-type"] = media_type + ("; charset=utf-8" if media_type == "application/json" else "")
                        body = example_of(media)
                    if code == 201:
                        headers["location"] = BASE + "/attendees/1"
                    suffix = "" if media_type in (None, "application/json") else "-" + media_type.split("/")[-1]
                    recording = {
                        "request": {"method": method.upper(), "url": url, "headers": request_headers, "body": request_body},
                        "response": {"status": code, "headers": headers, "body": body},
                    }
                    name = f"{operation['operationId']}-{code}{suffix}.json"
                    (OUT / name).write_text(json.dumps(recording, indent=2) + "\n")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes mixed.har: five spec-example exchanges from ../../recordings/spec-examples/ as one HAR 1.2
archive, the shape browser devtools, mitmproxy and schemathesis export, with one entry broken.

    entry-0  listAttendees 200, request headers with HTTP/2 pseudo-headers, as browsers record them
    entry-1  getAttendee 200, the body base64-encoded (`content.encoding: base64`)
    entry-2  getAttendee 200 whose `id` is a number: body_schema at /id
    entry-3  createAttendee 201, the request body as `postData` (its mimeType, no Content-Type header)
    entry-4  getAttendee 404, the HTML page Cliniko's front end sends

Rerun after changing the spec's examples (and after generate.py there).
"""
import base64
import json
import pathlib

here = pathlib.Path(__file__).resolve().parent
examples = here.parent.parent / "recordings" / "spec-examples"


def load(name):
    return json.loads((examples / name).read_text())


def headers(recorded):
    out = []
    for name, value in (recorded or {}).items():
        for one in value if isinstance(value, list) else [value]:
            out.append({"name": name, "value": str(one)})
    return out


def text_of(body):
    if body is None:
        return None
    return body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))


def entry(recording, *, pseudo=False, base64_body=False, post_data=False, started="2024-03-01T09:15:00.000Z"):
    request, response = recording["request"], recording["response"]
    request_headers = headers(request.get("headers"))
    if pseudo:
        request_headers = [
            {"name": ":method", "value": request["method"]},
            {"name": ":authority", "value": "api.au1.cliniko.com"},
            {"name": ":scheme", "value": "https"},
            {"name": ":path", "value": request["url"].split("cliniko.com", 1)[1]},
        ] + request_headers
    har_request = {
        "method": request["method"],
        "url": request["url"],
        "httpVersion": "HTTP/2" if pseudo else "HTTP/1.1",
        "cookies": [],
        "headers": request_headers,
        "queryString": [],
        "headersSize": -1,
        "bodySize": 0,
    }
    body = text_of(request.get("body"))
    if body is not None:
        mime = next((h["value"] for h in request_headers if h["name"].lower() == "content-type"), "application/json")
        if post_data:
            har_request["headers"] = [h for h in request_headers if h["name"].lower() != "content-type"]
        har_request["postData"] = {"mimeType": mime, "text": body}
        har_request["bodySize"] = len(body.encode())
    response_headers = headers(response.get("headers"))
    mime = next((h["value"] for h in response_headers if h["name"].lower() == "content-type"), "")
    content = {"size": 0, "mimeType": mime}
    text = text_of(response.get("body"))
    if text is not None:
        content["size"] = len(text.encode())
        if base64_body:
            content["text"] = base64.b64encode(text.encode()).decode()
            content["encoding"] = "base64"
        else:
            content["text"] = text
    return {
        "startedDateTime": started,
        "time": 12.5,
        "request": har_request,
        "response": {
            "status": response["status"],
            "statusText": "",
            "httpVersion": har_request["httpVersion"],
            "cookies": [],
            "headers": response_headers,
            "content": content,
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": content["size"],
        },
        "cache": {},
        "timings": {"send": 0.5, "wait": 11.5, "receive": 0.5},
    }


broken = load("getAttendee-200.json")
broken["response"]["body"]["id"] = 1
entries = [
    entry(load("listAttendees-200.json"), pseudo=True),
    entry(load("getAttendee-200.json"), base64_body=True),
    entry(broken),
    entry(load("createAttendee-201.json"), post_data=True),
    entry(load("getAttendee-404-html.json")),
]
archive = {
    "log": {
        "version": "1.2",
        "creator": {"name": "tests/recordings-bad/har/generate.py", "version": "1"},
        "entries": entries,
    }
}
(here / "mixed.har").write_text(json.dumps(archive, indent=2) + "\n")

#!/usr/bin/env python3
"""Fills schemathesis.toml's dictionaries of seeded records from the running fake itself.

    seeded_ids.py --url URL --auth KEY: --user-agent UA [--cancellable-out FILE] CONFIG OUT

Some operations only succeed on a record in a given state: cancelAttendee on an attendee of a group
appointment that is neither cancelled nor archived, archiveAttendee on a live attendee (of an
individual appointment, so that the ones the other operations use stay in place), archivePatient on
a live patient. Which seeded IDs those are depends on how the fake seeds, so they are read from the
fake that schemathesis runs against, rather than written into the config by hand: each dictionary
named in DICTIONARIES has its `values = [...]` line replaced in a copy of CONFIG, written to OUT.
`--cancellable-out` also writes every cancellable attendee's ID, one a line, then a blank line and
every other seeded attendee's, for the hook that gives each cancel a fresh one
(schemathesis_hooks.py). Fails (exit 1) when a dictionary would be empty or is not in CONFIG: a run without those IDs would
warn that the route mostly answered 404 or refused valid data.
"""
import argparse
import base64
import json
import re
import sys
import urllib.request

# The fake's fixtures (cliniko_fake::Fixtures): individual appointments' IDs start here, group
# appointments' are below.
INDIVIDUAL_APPOINTMENTS_FROM = 3_000_000_001


def fetch_all(url, headers, plural):
    """Every record of a list, cancelled and archived ones included."""
    records, page = [], 1
    while True:
        query = "q%5B%5D=archived_at:*&per_page=100&page=" + str(page)
        if plural == "attendees":
            query = "q%5B%5D=cancelled_at:*&" + query
        request = urllib.request.Request(f"{url}/{plural}?{query}", headers=headers)
        with urllib.request.urlopen(request, timeout=30) as answer:
            body = json.load(answer)
        records += body[plural]
        if not body["links"].get("next"):
            return records
        page += 1


def link_id(record, field):
    link = record.get(field) or {}
    return int(link.get("links", {}).get("self", "/0").rsplit("/", 1)[1])


def live(record):
    return not record.get("archived_at") and not record.get("deleted_at")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--auth", required=True)
    parser.add_argument("--user-agent", required=True)
    parser.add_argument("--cancellable-out")
    parser.add_argument("config")
    parser.add_argument("out")
    args = parser.parse_args()
    headers = {
        "Authorization": "Basic " + base64.b64encode(args.auth.encode()).decode(),
        "User-Agent": args.user_agent,
        "Accept": "application/json",
    }
    attendees = fetch_all(args.url, headers, "attendees")
    patients = fetch_all(args.url, headers, "patients")
    group = lambda a: link_id(a, "booking") < INDIVIDUAL_APPOINTMENTS_FROM
    dictionaries = {
        "disposable_attendees": [a["id"] for a in attendees if live(a) and not group(a)],
        "cancellable_attendees": [
            a["id"] for a in attendees if live(a) and group(a) and not a.get("cancelled_at")
        ],
        "live_patients": [p["id"] for p in patients if live(p)],
    }
    text = open(args.config, encoding="utf-8").read()
    for name, values in dictionaries.items():
        if not values:
            sys.exit(f"seeded_ids: the fake at {args.url} has no record for dictionary {name}")
        pattern = re.compile(r"(\[dictionaries\." + name + r"\]\nvalues = )\[[^\]]*\]")
        if not pattern.search(text):
            sys.exit(f"seeded_ids: {args.config} has no [dictionaries.{name}] with a values line")
        text = pattern.sub(lambda m: m.group(1) + json.dumps(values[:100]), text)
        print(f"seeded_ids: {name}: {len(values)} from the fake")
    open(args.out, "w", encoding="utf-8").write(text)
    if args.cancellable_out:
        # The cancellable attendees, then a blank line, then every other seeded attendee (of an
        # individual appointment, cancelled or archived), which a cancel answers 422 or 404.
        others = [a["id"] for a in attendees if a["id"] not in dictionaries["cancellable_attendees"]]
        with open(args.cancellable_out, "w", encoding="utf-8") as out:
            out.write("".join(f"{i}\n" for i in dictionaries["cancellable_attendees"]))
            out.write("\n" + "".join(f"{i}\n" for i in others))


if __name__ == "__main__":
    main()

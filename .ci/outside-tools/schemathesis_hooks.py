"""schemathesis hooks for the run against cliniko-fake (loaded through schemathesis.toml).

Two hooks, each for one reason.

1. A `q[]` filter on a date-time field (`updated_at:>2024-01-01T00:00:00Z`)
is described in the spec by a pattern, `[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}...Z`,
because the filter is one string `FIELD:OPERATORVALUE` and OpenAPI 3.0.3 offers no `format` for a
part of a string. The spec's words say the value is a UTC date-time ("Date-times are UTC, as in
`2014-08-30T18:00:00Z`"); a regular expression cannot say which days a month has. schemathesis
draws its "valid" values from the pattern alone, so it sends `0872-60-00T88:02:97Z` as valid, the
fake (rightly) answers 400, and positive_data_acceptance reports a valid request rejected.

The hook moves each such date-time onto the calendar (month 1-12, day 1-28, hour 0-23, minute and
second 0-59) and leaves everything else of the value alone: a value that matched the pattern still
matches it, and one that did not (a negative case) still does not.

2. Only an attendee of a group appointment that is neither cancelled nor archived can be cancelled
(otherwise 422 or 404, as the spec documents), and schemathesis sends cancelAttendee many valid
bodies for one `id`: the examples phase for the spec's example attendee (which, in the fake, may
belong to an individual appointment), the coverage phase all its variants for one attendee (often
one a create just made, so only the first succeeds), and hypothesis draws the same few values of
the dictionary of cancellable attendees (schemathesis.toml) again and again. Every valid cancel of
a phase then met an attendee that cannot be cancelled, and schemathesis warned that the route
"mostly rejected" valid data. A test of a real account would pick an appointment it may cancel: the
hooks give a cancel whose `id` names a seeded attendee that cannot be cancelled, or one a cancel
already succeeded on, an attendee nobody has cancelled yet (while any is left); random IDs go as
drawn, so the 404s are still tested. The attendees are the file CLINIKO_FAKE_CANCELLABLE_FILE
names, written by seeded_ids.py from the running fake: the cancellable ones, a blank line, then
the rest.
"""
import os
import re

import schemathesis

DATE_TIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})")


def _on_calendar(match):
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    return (f"{year:04d}-{min(max(month, 1), 12):02d}-{min(max(day, 1), 28):02d}"
            f"T{min(hour, 23):02d}:{min(minute, 59):02d}:{min(second, 59):02d}")


def _fix(value):
    if isinstance(value, str):
        return DATE_TIME.sub(_on_calendar, value)
    if isinstance(value, list):
        return [_fix(item) for item in value]
    return value


@schemathesis.hook
def map_query(context, query):
    if query and "q[]" in query:
        query = dict(query)
        query["q[]"] = _fix(query["q[]"])
    return query


def _attendees():
    """The cancellable seeded attendees, and the ones that cannot be cancelled."""
    path = os.environ.get("CLINIKO_FAKE_CANCELLABLE_FILE")
    if not path:
        return [], set()
    with open(path, encoding="utf-8") as text:
        cancellable, _, others = text.read().partition("\n\n")
    return cancellable.split(), set(others.split())


_CANCELLABLE, _CANNOT = _attendees()
_CANCELLED = set()
CANCEL = "PATCH /attendees/{id}/cancel"


@schemathesis.hook
def before_call(context, case, kwargs):
    if getattr(case.operation, "label", "") != CANCEL or not case.path_parameters:
        return
    drawn = str(case.path_parameters.get("id", ""))
    if drawn in _CANCELLED or drawn in _CANNOT:
        fresh = next((i for i in _CANCELLABLE if i not in _CANCELLED), None)
        if fresh is not None:
            case.path_parameters["id"] = fresh


@schemathesis.hook
def after_call(context, case, response):
    if getattr(case.operation, "label", "") == CANCEL and response.status_code == 204:
        _CANCELLED.add(str((case.path_parameters or {}).get("id", "")))

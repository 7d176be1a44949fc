"""schemathesis hooks for the run against cliniko-fake (loaded through schemathesis.toml).

One hook, for one reason. A `q[]` filter on a date-time field (`updated_at:>2024-01-01T00:00:00Z`)
is described in the spec by a pattern, `[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}...Z`,
because the filter is one string `FIELD:OPERATORVALUE` and OpenAPI 3.0.3 offers no `format` for a
part of a string. The spec's words say the value is a UTC date-time ("Date-times are UTC, as in
`2014-08-30T18:00:00Z`"); a regular expression cannot say which days a month has. schemathesis
draws its "valid" values from the pattern alone, so it sends `0872-60-00T88:02:97Z` as valid, the
fake (rightly) answers 400, and positive_data_acceptance reports a valid request rejected.

The hook moves each such date-time onto the calendar (month 1-12, day 1-28, hour 0-23, minute and
second 0-59) and leaves everything else of the value alone: a value that matched the pattern still
matches it, and one that did not (a negative case) still does not.
"""
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

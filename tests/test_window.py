"""Window bounds: ISO-8601 times, spans back from now, and the errors."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tfdrift_hook.window import Window, WindowError, parse_bound, window_from_options

NOW = datetime(2026, 12, 3, 12, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("72h", datetime(2026, 11, 30, 12, 0, 0, tzinfo=timezone.utc)),
        ("7d", datetime(2026, 11, 26, 12, 0, 0, tzinfo=timezone.utc)),
        ("90m", datetime(2026, 12, 3, 10, 30, 0, tzinfo=timezone.utc)),
        ("2w", datetime(2026, 11, 19, 12, 0, 0, tzinfo=timezone.utc)),
        ("30s", datetime(2026, 12, 3, 11, 59, 30, tzinfo=timezone.utc)),
        ("2026-11-30T08:15:00Z", datetime(2026, 11, 30, 8, 15, 0, tzinfo=timezone.utc)),
        (
            "2026-11-30T10:15:00+02:00",
            datetime(2026, 11, 30, 8, 15, tzinfo=timezone.utc),
        ),
        ("2026-11-30", datetime(2026, 11, 30, 0, 0, 0, tzinfo=timezone.utc)),
    ],
)
def test_bounds_parse_to_utc(text: str, expected: datetime) -> None:
    assert parse_bound(text, NOW, "--since") == expected


@pytest.mark.parametrize("text", [None, "", "   "])
def test_an_empty_bound_is_open(text: str | None) -> None:
    assert parse_bound(text, NOW, "--since") is None


def test_a_bound_that_is_neither_names_the_option_and_both_forms() -> None:
    with pytest.raises(WindowError) as error:
        parse_bound("yesterday", NOW, "--until")

    message = str(error.value)
    assert "--until 'yesterday'" in message
    assert "2026-11-30T12:00:00Z" in message and "72h" in message


def test_a_window_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(WindowError, match="swap --since and --until"):
        window_from_options("2026-12-01T00:00:00Z", "2026-11-01T00:00:00Z", NOW)


def test_bounds_compare_as_cloudtrail_writes_event_time() -> None:
    window = window_from_options("72h", None, NOW)

    assert window.bounds_text() == ("2026-11-30T12:00:00Z", None)
    assert window.describe() == "2026-11-30T12:00:00Z to the last record"
    assert Window().describe() == "every record given (no --since/--until)"


@pytest.mark.parametrize("text", ["1000000d", "999999w", "9999999999999999999999h"])
def test_a_span_too_long_for_the_calendar_is_an_error(text: str) -> None:
    with pytest.raises(WindowError, match="reaches back before the year 1"):
        parse_bound(text, NOW, "--since")


@pytest.mark.parametrize("text", ["9999-12-31T23:59:59Z", "2026-12-04"])
def test_a_bound_in_the_future_is_an_error(text: str) -> None:
    with pytest.raises(WindowError, match="is in the future"):
        parse_bound(text, NOW, "--since")

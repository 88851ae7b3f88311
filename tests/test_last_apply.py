"""The window's start: --since, else the receipt's apply end, else the state's mtime."""

from __future__ import annotations

from datetime import datetime, timezone

from tfdrift_hook.last_apply import window_start
from tfdrift_hook.receipts import Receipt

STARTED = datetime(2026, 11, 23, 16, 39, 55, tzinfo=timezone.utc)
FINISHED = datetime(2026, 11, 23, 16, 40, 30, tzinfo=timezone.utc)
WRITTEN = datetime(2026, 11, 23, 16, 40, 31, tzinfo=timezone.utc)
SINCE = datetime(2026, 11, 1, tzinfo=timezone.utc)
RECEIPT = Receipt(STARTED, FINISHED, "lin", 3, "arn:aws:iam::1:role/ci", "1.11.4")


def test_the_receipt_starts_the_window_at_the_apply_end() -> None:
    start = window_start(None, RECEIPT, "r.json", WRITTEN, "terraform.tfstate")

    assert start.since == FINISHED
    assert start.reason == "end of the last apply, from the receipt r.json"
    assert start.apply_window is not None and start.apply_window.start == STARTED


def test_an_explicit_since_wins_but_the_apply_span_is_still_terraforms() -> None:
    start = window_start(SINCE, RECEIPT, "r.json", WRITTEN, "terraform.tfstate")

    assert (start.since, start.reason) == (SINCE, "--since")
    assert start.apply_window is not None


def test_without_a_receipt_the_state_write_time_is_used_and_said() -> None:
    start = window_start(None, None, "r.json", WRITTEN, "terraform.tfstate")

    assert start.since == WRITTEN
    assert "last write of terraform.tfstate (no receipt" in start.reason
    assert start.apply_window is None


def test_with_nothing_known_every_record_is_in_the_window() -> None:
    start = window_start(None, None, "r.json", None, "")

    assert (start.since, start.reason) == (None, "")

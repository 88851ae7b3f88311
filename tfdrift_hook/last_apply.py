"""Where the window starts: at the end of the last apply, and how that was known.

The best start is the receipt of the last apply: its end, with the apply's own span
kept so the applying principal's calls in it count as Terraform's. An explicit
``--since`` overrides it. Without either, the time the state was last written (a local
file's modification time, an S3 object's LastModified) is the closest known apply; the
result says which was used, so a reader can judge how far to trust the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tfdrift_hook.receipts import Receipt
from tfdrift_hook.trust import ApplyWindow


@dataclass(frozen=True)
class WindowStart:
    """The start of the window, why it is there, and the last apply's own span."""

    since: datetime | None
    reason: str
    apply_window: ApplyWindow | None = None


def window_start(
    since_option: datetime | None,
    receipt: Receipt | None,
    receipt_where: str,
    state_written: datetime | None,
    state_where: str,
) -> WindowStart:
    """The start to search from, in the order: --since, receipt, state write time."""
    apply_window = receipt.apply_window() if receipt is not None else None
    if since_option is not None:
        return WindowStart(since_option, "--since", apply_window)

    if receipt is not None:
        reason = f"end of the last apply, from the receipt {receipt_where}"
        return WindowStart(receipt.apply_finished, reason, apply_window)

    if state_written is not None:
        reason = f"last write of {state_where} (no receipt; record one after apply)"
        return WindowStart(state_written, reason)

    return WindowStart(None, "")

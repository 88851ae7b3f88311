"""Values from outside the pipeline, made inert for markdown surfaces.

Tags, descriptions, alias names, role session names, user agents and the rule outputs
that embed them can be set by anyone who can call KMS. In a pull-request comment or a
job summary such a value must not become a link, an image, an HTML tag or comment, a
mention that notifies someone, a code span or fence, a new table cell or a new line.

:func:`escape_markdown` makes one value safe inline. It escapes the few characters
that matter rather than every punctuation mark, so the text stays readable where
markdown is not rendered: Atlantis shows command output inside a code fence, where
every backslash and entity is printed as written.
"""

from __future__ import annotations

import re

#: Longest value written inline; a flood of text in one tag must not fill a comment.
MAX_VALUE = 1000

#: A zero-width joiner: invisible, but it stops GitHub reading ``@name`` as a mention
#: and Atlantis reading ``Refreshing state...`` as the end of Terraform's refresh.
ZWJ = "\u200d"

# Backslash escapes for the characters that start inline markup: code spans,
# emphasis, links and images, strikethrough, table cells and GitHub's math.
_MARKUP = re.compile(r"[\\`*\[\]~|$]")
# Emphasis by underscore; one between two letters or digits (key_id) is only a letter.
_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_HTML_CHARS = re.compile("[&<>]")
_MENTION = re.compile(r"@(?=[0-9A-Za-z_-])")
# With ``output: strip_refreshing`` Atlantis drops every line up to the last one that
# holds these words, so a value holding them could erase the lines above it.
_REFRESHING = re.compile("Refreshing state", re.IGNORECASE)
# What starts a block at the start of a line: heading, list, quote, setext rule.
_BLOCK_START = re.compile(r"^(?:[#+=-]|\d+(?=[.)]))")

#: Characters a value must not carry onto any surface: control characters, line and
#: paragraph separators, zero-width characters and bidirectional overrides. They would
#: break a line, colour a log, hide text or reorder the text around them.
UNSAFE_CODES: tuple[int, ...] = (
    *range(0x00, 0x20),
    *range(0x7F, 0xA0),
    *range(0x200B, 0x2010),
    *range(0x2028, 0x202F),
    *range(0x2060, 0x2070),
    0xFEFF,
)


def visible_escapes(codes: tuple[int, ...] = UNSAFE_CODES) -> dict[int, str]:
    """A translation table writing each of ``codes`` as ``\\xNN`` or ``\\uNNNN``."""
    return {
        code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" for code in codes
    }


_CONTROL = visible_escapes()
_CONTROL.update({ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"})
# GitHub turns a bare URL, ``www.`` address or ``#123`` into a link or a reference.
_AUTOLINK = re.compile(r"(?<=:)(?=//)|(?<=www)(?=\.)", re.IGNORECASE)
_REFERENCE = re.compile(r"#(?=\d)")


def escape_markdown(value: object, limit: int = MAX_VALUE) -> str:
    """``value`` as inline markdown that renders as the text itself, on one line.

    Longer values are cut at ``limit`` characters, saying how much was left out.
    """
    text = shorten("" if value is None else str(value), limit).translate(_CONTROL)
    text = _MARKUP.sub(r"\\\g<0>", text)
    text = _UNDERSCORE.sub(r"\\_", text)
    text = _HTML_CHARS.sub(lambda match: _HTML[match.group(0)], text)
    text = _REFERENCE.sub(r"\\#", text)
    text = _MENTION.sub("@" + ZWJ, text)
    text = _AUTOLINK.sub(ZWJ, text)
    text = _REFRESHING.sub(lambda match: _broken(match.group(0)), text)
    return _BLOCK_START.sub(_escaped_start, text)


def shorten(text: str, limit: int) -> str:
    """``text`` cut at ``limit`` characters, saying how many more there were."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


def _broken(words: str) -> str:
    """``Refreshing state`` with a joiner inside, which a substring match misses."""
    return words[:10] + ZWJ + words[10:]


def _escaped_start(match: re.Match[str]) -> str:
    """A backslash before the mark (``\\#``), or before the dot of ``1.``."""
    mark = match.group(0)
    return f"\\{mark}" if not mark.isdigit() else mark + "\\"

"""Inline waivers: a ``tfdrift:ignore`` comment on a resource block of a ``.tf`` file.

    # tfdrift:ignore kms_key_rotation_disabled rotation is done by the HSM team
    resource "aws_kms_key" "logs" {
      // tfdrift:ignore kms_key_tags_changed FinOps sets cost tags until=2025-12-31
    }

A marker waives its rule (a name, or a glob on names: ``*`` any text, ``?`` one
character, brackets literal, as in every waiver) for the block's address, when it is
written on the comment lines right above the block (no blank line between) or
anywhere inside it. The words after the rule are the reason, and
``until=YYYY-MM-DD`` among them gives an expiry; without one the waiver lasts as long
as the comment. Its owner is ``inline (FILE:LINE)``: the commit that wrote the line
says who.

Markers are read from python-hcl2's parse tree, so text inside strings and heredocs
is never taken for one. Files are first scanned as text and only those holding
``tfdrift:ignore`` are parsed; a marker in a module's files waives the rule for every
address the module is called under, which takes parsing the whole configuration (the
module calls say the prefixes).

A marker that cannot be read (no rule, a rule no rule in force matches, no reason, a
bad date, not on a resource block) waives nothing and becomes a note naming its file
and line and the fix: a typo never waives silently.
"""

from __future__ import annotations

import datetime
import difflib
import logging
import os
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from tfdrift_hook.hcl_values import block_header, file_blocks
from tfdrift_hook.waivers import Waiver, glob, parse_day

if TYPE_CHECKING:
    from lark import Token, Tree

    from tfdrift_hook.hcl_source import SourceMap

    _Node = Tree[Token]

__all__ = ["MARKER", "MarkerError", "inline_waivers", "marked_files", "marker_waiver"]

logger = logging.getLogger(__name__)

MARKER = "tfdrift:ignore"

_COMMENT_MARKS = re.compile(r"^(?:#|//|/\*)|\*/$")
_LOCAL_SOURCE = re.compile(r"""\bsource\s*=\s*"(\.\.?/[^"]*)\"""")
_FORM = f"`# {MARKER} RULE reason [until=YYYY-MM-DD]`"


@dataclass(frozen=True)
class _Marker:
    """One comment holding the marker: where it is and what it says after it."""

    where: str
    line: int
    #: The comment's text, without ``#``, ``//``, ``/*`` and ``*/``.
    text: str
    #: Whether nothing but blanks comes before it on its line.
    starts_line: bool


@dataclass(frozen=True)
class _Parsed:
    """One marked file: its parse tree and the lines that hold only a comment."""

    #: The file's path from the configuration directory, as notes and sources say it.
    relative: Path
    tree: _Node
    comment_lines: frozenset[int]


def inline_waivers(
    config_dir: Path,
    rule_names: Collection[str] | None = None,
    source: SourceMap | None = None,
) -> tuple[list[Waiver], list[str]]:
    """The waivers written as ``tfdrift:ignore`` comments in ``config_dir``, and notes.

    ``rule_names`` are the rules in force (the built-in rules when None): a marker
    whose rule matches none of them is a note, not a waiver. ``source`` is the
    configuration's source map when the caller has one already, so that a marker in
    a module does not cost a second parse of the configuration.
    """
    files = marked_files(config_dir)
    if not files:
        return [], []

    reader = _Reader(config_dir, _known_rules(rule_names), source)
    for path in files:
        reader.read(path)
    return reader.waivers, reader.notes


def marked_files(config_dir: Path) -> list[Path]:
    """The ``.tf`` files of ``config_dir`` and of the local modules it may call that
    hold the marker's text, found without parsing.

    Module directories are found from the text of ``source = "./…"`` lines, which may
    name more directories than the configuration really calls: a marker there is
    placed (or noted) once the files are parsed.
    """
    found: list[Path] = []
    seen: set[Path] = set()
    pending = [config_dir]
    while pending:
        directory = pending.pop(0)
        if not directory.is_dir() or directory.resolve() in seen:
            continue
        seen.add(directory.resolve())
        for path in sorted(directory.glob("*.tf")):
            text = _text(path)
            found.extend([path] if MARKER in text else [])
            pending.extend(directory / name for name in _LOCAL_SOURCE.findall(text))
    return found


def _text(path: Path) -> str:
    # An unreadable file is reported by the parse that follows or by the source map;
    # here it only holds no marker anyone could read.
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _known_rules(rule_names: Collection[str] | None) -> frozenset[str]:
    if rule_names is not None:
        return frozenset(rule_names)

    from tfdrift_hook.rule_files import load_rule_files
    from tfdrift_hook.rules import BUILTIN_RULES

    return frozenset(rule.name for rule in load_rule_files([BUILTIN_RULES]).rules)


class _Reader:
    """Turns the markers of marked files into waivers, and the unreadable into notes."""

    def __init__(
        self, root: Path, rules: frozenset[str], source: SourceMap | None
    ) -> None:
        self.root = root
        self.rules = rules
        self.source = source
        self.waivers: list[Waiver] = []
        self.notes: list[str] = []

    def read(self, path: Path) -> None:
        parsed = self._parse(path)
        if parsed is None:
            return

        blocks = file_blocks(parsed.tree)
        for marker in _markers(parsed):
            block = _block_of(marker, blocks, parsed.comment_lines)
            if block is None:
                self._note(marker, "is on no block", "put it on a resource block")
                continue
            self._add(marker, block, parsed)

    def _add(self, marker: _Marker, block: _Node, parsed: _Parsed) -> None:
        kind, labels = block_header(block)
        if kind != "resource" or len(labels) != 2 or not all(labels):
            self._note(marker, f"is on a {kind} block", "put it on a resource block")
            return

        try:
            waiver = marker_waiver(marker.text, marker.where, self.rules)
        except MarkerError as exc:
            self._note(marker, exc.problem, exc.fix)
            return

        addresses = self._addresses(parsed, block, ".".join(labels))
        if not addresses:
            self._note(
                marker,
                f"is in {parsed.relative.parent}, which no module call of the "
                "configuration reads (or one python-hcl2 could not parse)",
                "call the module from a local path, or remove the marker",
            )
        self.waivers.extend(replace(waiver, address=item) for item in addresses)

    def _addresses(self, parsed: _Parsed, block: _Node, local: str) -> list[str]:
        """The addresses a block has: its own in the root module, else one for each
        call of the module it is in."""
        if parsed.relative.parent == Path("."):
            return [local]

        if self.source is None:
            from tfdrift_hook.hcl_source import source_map

            self.source = source_map(self.root)
        line = block.meta.line
        return [
            address
            for address, where in self.source.blocks.items()
            if where.file == parsed.relative
            and where.line == line
            and address.endswith(f".{local}")
        ]

    def _parse(self, path: Path) -> _Parsed | None:
        # Deferred: importing python-hcl2 and loading its parser is most of the cost.
        import hcl2
        from lark.exceptions import LarkError, UnexpectedInput

        from tfdrift_hook.hcl_source import close_heredoc_markers

        relative = Path(os.path.relpath(path, self.root))
        try:
            text = path.read_text(encoding="utf-8")
            tree = hcl2.parses_to_tree(close_heredoc_markers(text))
        except (OSError, UnicodeDecodeError) as exc:
            self._unparsed(f"{relative}", f"not read ({exc})")
            return None
        except UnexpectedInput as exc:
            self._unparsed(f"{relative}:{exc.line}", "python-hcl2 stopped here")
            return None
        except LarkError as exc:
            self._unparsed(f"{relative}", f"python-hcl2 failed ({exc})")
            return None
        return _Parsed(relative, tree, _comment_lines(tree, text))

    def _unparsed(self, where: str, problem: str) -> None:
        fix = "fix the file (if `terraform validate` passes, python-hcl2 is wrong)"
        note = f"{where}: {problem}, so its {MARKER} comments waive nothing; {fix}"
        logger.warning("%s", note)
        self.notes.append(note)

    def _note(self, marker: _Marker, problem: str, fix: str) -> None:
        note = f"{marker.where}: {MARKER} {problem}, so it waives nothing; {fix}"
        logger.warning("%s", note)
        self.notes.append(note)


class MarkerError(ValueError):
    """A marker that cannot be read: what is wrong with it, and how to write it."""

    def __init__(self, problem: str, fix: str = f"write {_FORM}") -> None:
        super().__init__(f"{problem}; {fix}")
        self.problem = problem
        self.fix = fix


def marker_waiver(text: str, where: str, rules: Collection[str]) -> Waiver:
    """The waiver a marker's comment text (``tfdrift:ignore RULE reason…``) writes,
    without its address; :class:`MarkerError` when it cannot be read."""
    words = text.split()
    if not words or words[0] != MARKER:
        raise MarkerError(f"does not start the comment as {MARKER}")

    rule, until, reason = _parts(words[1:])
    if rule is None:
        raise MarkerError("names no rule")
    if set(rule) <= set("*?"):
        msg = f"waives every rule of the block ({rule})"
        raise MarkerError(msg, "name the rule, or a glob such as kms_key_tags_*")
    if not any(glob(rule).match(name) for name in rules):
        raise MarkerError(f"names no rule in force ({rule})", _rule_fix(rule, rules))
    if not reason:
        raise MarkerError(f"gives no reason to ignore {rule}")
    return Waiver(
        owner=f"inline ({where})",
        reason=reason,
        expires=_until(until),
        rule=rule,
        source=where,
        inline=True,
    )


def _parts(words: list[str]) -> tuple[str | None, list[str], str]:
    """The rule, the ``until=`` values and the reason of a marker's words."""
    until = [word[len("until=") :] for word in words if word.startswith("until=")]
    rest = [word for word in words if not word.startswith("until=")]
    if not words or words[0].startswith("until="):
        return None, until, " ".join(rest)
    return rest[0], until, " ".join(rest[1:])


def _until(values: list[str]) -> datetime.date | None:
    """The expiry ``until=`` gives; None without one."""
    if not values:
        return None
    if len(values) > 1:
        raise MarkerError("gives until= more than once", "keep one date")

    day = parse_day(values[0])
    if day is None:
        fix = "write until=YYYY-MM-DD, the last day it waives"
        raise MarkerError(f"until={values[0]} is not a date", fix)
    return day


def _rule_fix(rule: str, rules: Collection[str]) -> str:
    close = difflib.get_close_matches(rule, sorted(rules), n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    return f"{hint}`tfdrift-hook rules list` names the rules in force"


# -- reading a parse tree ------------------------------------------------------------


def _comment_tokens(tree: _Node) -> Iterator[Token]:
    for token in tree.scan_values(lambda value: True):
        if getattr(token, "type", None) == "NL_OR_COMMENT" and token.strip():
            yield token


def _comment_lines(tree: _Node, text: str) -> frozenset[int]:
    """The lines (from 1) that hold nothing but a comment, or part of one."""
    lines = text.splitlines()
    found: set[int] = set()
    for token in _comment_tokens(tree):
        first = token.line or 0
        if first and not lines[first - 1][: (token.column or 1) - 1].strip():
            found.update(range(first, first + token.rstrip("\n").count("\n") + 1))
    return frozenset(found)


def _markers(parsed: _Parsed) -> Iterator[_Marker]:
    for token in _comment_tokens(parsed.tree):
        if MARKER not in token:
            continue
        line = token.line or 0
        yield _Marker(
            where=f"{parsed.relative.as_posix()}:{line}",
            line=line,
            text=" ".join(_COMMENT_MARKS.sub("", token.strip()).split()),
            starts_line=line in parsed.comment_lines,
        )


def _block_of(
    marker: _Marker, blocks: list[_Node], comment_lines: frozenset[int]
) -> _Node | None:
    """The block a marker is in, or the one it is written right above."""
    for block in blocks:
        if block.meta.line <= marker.line <= block.meta.end_line:
            return block

    if not marker.starts_line:
        return None
    following = [block for block in blocks if block.meta.line > marker.line]
    if not following:
        return None
    block = min(following, key=lambda item: item.meta.line)
    between = range(marker.line + 1, block.meta.line)
    return block if all(line in comment_lines for line in between) else None

"""Where each address of a configuration is written.

A configuration directory's ``*.tf`` files, and those of the modules it calls through
a local ``./`` or ``../`` source, are parsed with python-hcl2 the first time a location
or a value is asked for: loading python-hcl2's parser alone costs more than a hook that
finds nothing should spend, so a run that annotates nothing never pays for it.

A file python-hcl2 cannot parse costs only its own addresses' locations and values,
with a warning naming the file and the line the parser stopped at. Lines come from
the positions in python-hcl2's parse tree: its ``with_meta`` option (8.1.4) adds none.
``*.tf.json`` files are not read; their addresses have no location.

The values a block writes are read from its tree by :mod:`tfdrift_hook.hcl_values`;
:class:`Expression` is imported from here as well.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tfdrift_hook.hcl_values import (
    Expression,
    attribute_nodes,
    attribute_value,
    block_header,
    file_blocks,
    node_values,
)
from tfdrift_hook.problems import Problems

if TYPE_CHECKING:
    from lark import Token, Tree

    _Node = Tree[Token]

__all__ = [
    "Expression",
    "SourceLocation",
    "SourceMap",
    "config_address",
    "literal_attributes",
    "source_map",
]

logger = logging.getLogger(__name__)

_INSTANCE_KEY = re.compile(r'\[(?:\d+|"(?:[^"\\]|\\.)*")\]')
_HEREDOC_OPENER = re.compile(r"<<-?([A-Za-z][A-Za-z0-9._-]*)\r?\n\Z")
_OVERRIDE = re.compile(r"(^|_)override\.tf$")
_NO_LOCATION = "its addresses have no source location"
_UNREADABLE_FIX = (
    "if `terraform validate` passes, the file is valid and python-hcl2 is wrong"
)


@dataclass(frozen=True)
class SourceLocation:
    """A block's place in the configuration: its file (relative to the root directory
    the map was made for) and its first and last line, counted from 1."""

    file: Path
    line: int
    end_line: int


@dataclass(frozen=True)
class _Block:
    location: SourceLocation
    tree: _Node


@dataclass
class _Mapped:
    blocks: dict[str, _Block] = field(default_factory=dict)
    problems: Problems = field(default_factory=Problems)


class SourceMap:
    """The blocks of one configuration directory, by address, parsed on first use."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._mapped: _Mapped | None = None

    @property
    def blocks(self) -> dict[str, SourceLocation]:
        """``aws_kms_key.this``, ``module.logs.aws_kms_key.this``, ``data.…``,
        ``module.logs`` and ``local.name`` (one local value) to their locations."""
        return {address: b.location for address, b in self._load().blocks.items()}

    @property
    def warnings(self) -> list[str]:
        """One line per file or module call that could not be mapped."""
        return [str(problem) for problem in self._load().problems.items]

    def locate(self, address: str) -> SourceLocation | None:
        """Where ``address`` is written, instance keys (``[0]``, ``["a"]``) ignored."""
        block = self._load().blocks.get(config_address(address))
        return block.location if block else None

    def attributes(self, address: str) -> dict[str, Any] | None:
        """The attributes written in ``address``'s block, None when it has no block.

        Values are literals (str, int, float, bool, None, list, dict) or an
        :class:`Expression`; nested blocks are lists of their attributes under their
        type (``lifecycle``, ``statement``). A local value (``local.name``) has one
        attribute, ``value``.
        """
        block = self._load().blocks.get(config_address(address))
        return node_values(block.tree) if block else None

    def literal_attributes(self) -> dict[str, dict[str, Any]]:
        """:meth:`attributes` for every address of the map."""
        found = self._load().blocks
        return {address: node_values(block.tree) for address, block in found.items()}

    def _load(self) -> _Mapped:
        if self._mapped is None:
            self._mapped = _Mapped()
            _map_module(self.root, self.root, "", frozenset(), self._mapped)
        return self._mapped


def source_map(directory: Path) -> SourceMap:
    """The source map of a configuration directory; nothing is read until asked."""
    return SourceMap(directory)


def literal_attributes(directory: Path) -> dict[str, dict[str, Any]]:
    """Each address of ``directory`` to the attributes its block writes; see
    :meth:`SourceMap.attributes`."""
    return source_map(directory).literal_attributes()


def config_address(address: str) -> str:
    """The address of the block behind an instance: no ``[0]`` or ``["key"]``."""
    return _INSTANCE_KEY.sub("", address)


# -- walking a configuration -------------------------------------------------------


def _map_module(
    root: Path, directory: Path, prefix: str, callers: frozenset[Path], out: _Mapped
) -> None:
    if not directory.is_dir():
        out.problems.add(str(directory), "not a directory; no address has a location")
        return

    callers = callers | {directory.resolve()}
    for path in _config_files(directory):
        tree = _parse_file(path, _relative(root, path), out.problems)
        if tree is not None:
            _map_file(root, path, tree, prefix, callers, out)


def _config_files(directory: Path) -> list[Path]:
    # Override files only amend blocks written elsewhere, so those blocks' own
    # files are read first and keep the location.
    files = sorted(directory.glob("*.tf"))
    return sorted(files, key=lambda path: bool(_OVERRIDE.search(path.name)))


def _map_file(
    root: Path,
    path: Path,
    tree: _Node,
    prefix: str,
    callers: frozenset[Path],
    out: _Mapped,
) -> None:
    relative = _relative(root, path)
    for address, node in _addressed_nodes(tree, prefix):
        location = SourceLocation(relative, node.meta.line, node.meta.end_line)
        known = out.blocks.setdefault(address, _Block(location, node)).location
        if known != location and not _OVERRIDE.search(path.name):
            where = f"{relative}:{location.line}"
            out.problems.add(where, f"{address} written again; kept at {_place(known)}")
        if address.startswith(f"{prefix}module."):
            _map_call(root, path, node, address, callers, out)


def _addressed_nodes(tree: _Node, prefix: str) -> Iterator[tuple[str, _Node]]:
    """Each block of a file with an address, and each local value as ``local.x``."""
    for block in file_blocks(tree):
        kind, labels = block_header(block)
        if kind == "locals" and not labels:
            for name, attribute in attribute_nodes(block):
                yield f"{prefix}local.{name}", attribute
        address = _block_address(prefix, kind, labels)
        if address is not None:
            yield address, block


def _map_call(
    root: Path,
    path: Path,
    block: _Node,
    address: str,
    callers: frozenset[Path],
    out: _Mapped,
) -> None:
    source = attribute_value(block, "source")
    if not isinstance(source, str) or not source.startswith(("./", "../")):
        logger.debug("%s: source %r is not a local path; not mapped", address, source)
        return

    child = path.parent / source
    where = f"{_relative(root, path)}:{block.meta.line}"
    if not child.is_dir():
        message = f"{address} source {source!r} is not a directory"
        out.problems.add(where, f"{message}; its addresses have no source location")
    elif child.resolve() in callers:
        message = f"{address} source {source!r} calls a module that is calling it"
        out.problems.add(where, f"{message}; it is mapped once, not again")
    else:
        _map_module(root, child, address + ".", callers, out)


def _block_address(prefix: str, kind: str, labels: list[str]) -> str | None:
    if not all(labels):
        return None
    if kind == "resource" and len(labels) == 2:
        return f"{prefix}{labels[0]}.{labels[1]}"
    if kind == "data" and len(labels) == 2:
        return f"{prefix}data.{labels[0]}.{labels[1]}"
    if kind == "module" and len(labels) == 1:
        return f"{prefix}module.{labels[0]}"
    return None


def _place(location: SourceLocation) -> str:
    return f"{location.file}:{location.line}"


def _relative(root: Path, path: Path) -> Path:
    return Path(os.path.relpath(path, root))


# -- parsing a file ----------------------------------------------------------------


def _parse_file(path: Path, shown: Path, problems: Problems) -> _Node | None:
    # Deferred: importing python-hcl2 and loading its parser is most of the cost.
    import hcl2
    from lark.exceptions import LarkError, UnexpectedInput

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.add(str(shown), f"not read ({exc}); {_NO_LOCATION}")
        return None

    try:
        return hcl2.parses_to_tree(close_heredoc_markers(text))
    except UnexpectedInput as exc:
        line = exc.line if exc.line > 0 else text.count("\n") + 1
        problems.add(str(shown), _stopped_at(line), _UNREADABLE_FIX)
    except LarkError as exc:
        problems.add(str(shown), f"python-hcl2 failed ({exc}); {_NO_LOCATION}")
    return None


def _stopped_at(line: int) -> str:
    return f"python-hcl2 stopped at line {line}; {_NO_LOCATION}"


def close_heredoc_markers(text: str) -> str:
    """``text`` with blanks removed after each heredoc's closing marker.

    Terraform accepts ``POLICY`` followed by spaces as the end of a heredoc;
    python-hcl2 8.1 does not and fails on the whole file. Only those blanks go, so
    every line keeps its number and every heredoc body its text.
    """
    lines = text.splitlines(keepends=True)
    marker: str | None = None
    for number, line in enumerate(lines):
        if marker is None:
            opener = _HEREDOC_OPENER.search(line)
            marker = opener.group(1) if opener else None
        elif line.strip() == marker:
            body = line.rstrip("\r\n")
            lines[number] = body.rstrip(" \t") + line[len(body) :]
            marker = None
    return "".join(lines)

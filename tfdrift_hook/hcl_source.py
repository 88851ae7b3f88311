"""Where each address of a configuration is written, and the literal values it sets.

A configuration directory's ``*.tf`` files, and those of the modules it calls through
a local ``./`` or ``../`` source, are parsed with python-hcl2 the first time a location
or a value is asked for: loading python-hcl2's parser alone costs more than a hook that
finds nothing should spend, so a run that annotates nothing never pays for it.

A file python-hcl2 cannot parse costs only its own addresses' locations and values,
with a warning naming the file and the line the parser stopped at. Lines come from
the positions in python-hcl2's parse tree: its ``with_meta`` option (8.1.4) adds none.

Values are what the HCL says, not what Terraform evaluated: a value that needs
evaluating (a reference, a function call, an interpolation) is an :class:`Expression`,
and the evaluated value comes from state and plan. Strings are never parsed as JSON.
``*.tf.json`` files are not read; their addresses have no location.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tfdrift_hook.problems import Problems

if TYPE_CHECKING:
    from lark import Token, Tree

    _Node = Tree[Token]

logger = logging.getLogger(__name__)

_INSTANCE_KEY = re.compile(r'\[(?:\d+|"(?:[^"\\]|\\.)*")\]')
_HEREDOC_OPENER = re.compile(r"<<-?([A-Za-z][A-Za-z0-9._-]*)\r?\n\Z")
_TEMPLATE_MARK = re.compile(r"\$\$\{|%%\{|\$\{|%\{")
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
class Expression:
    """A value the HCL computes, as python-hcl2 writes it back, and what it reads.

    ``references`` are the traversals it reads (``var.name``,
    ``data.aws_caller_identity.current.account_id``), each cut at its first index or
    splat, in order of appearance. For-expression variables are not references.
    """

    text: str
    references: tuple[str, ...]


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
        return _node_values(block.tree) if block else None

    def literal_attributes(self) -> dict[str, dict[str, Any]]:
        """:meth:`attributes` for every address of the map."""
        found = self._load().blocks
        return {address: _node_values(block.tree) for address, block in found.items()}

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
    for block in _child_trees(_child_trees(tree, "body")[0], "block"):
        kind, labels = _block_header(block)
        if kind == "locals" and not labels:
            for name, attribute in _attribute_nodes(block):
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
    source = _attribute_value(block, "source")
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
        return hcl2.parses_to_tree(_close_heredoc_markers(text))
    except UnexpectedInput as exc:
        line = exc.line if exc.line > 0 else text.count("\n") + 1
        problems.add(str(shown), _stopped_at(line), _UNREADABLE_FIX)
    except LarkError as exc:
        problems.add(str(shown), f"python-hcl2 failed ({exc}); {_NO_LOCATION}")
    return None


def _stopped_at(line: int) -> str:
    return f"python-hcl2 stopped at line {line}; {_NO_LOCATION}"


def _close_heredoc_markers(text: str) -> str:
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


# -- reading the tree --------------------------------------------------------------


def _child_trees(node: _Node, kind: str | None = None) -> list[_Node]:
    from lark import Tree

    trees = [child for child in node.children if isinstance(child, Tree)]
    return [child for child in trees if kind is None or child.data == kind]


def _block_header(block: _Node) -> tuple[str, list[str]]:
    parts = [
        child
        for child in _child_trees(block)
        if child.data not in ("body", "new_line_or_comment")
    ]
    return _token_text(parts[0]), [_label_text(part) for part in parts[1:]]


def _label_text(node: _Node) -> str:
    if node.data != "string":
        return _token_text(node)
    try:
        return str(_string_value(node))
    except _NotLiteral:
        # python-hcl2 takes a template as a label, Terraform does not: no address.
        return ""


def _token_text(node: _Node) -> str:
    return str(node.children[0])


# -- values ------------------------------------------------------------------------


class _NotLiteral(Exception):
    """Raised inside the literal reader when a value needs Terraform to evaluate it."""


def _attribute_nodes(block: _Node) -> Iterator[tuple[str, _Node]]:
    for child in _child_trees(_child_trees(block, "body")[0], "attribute"):
        name_node, _value = _child_trees(child)
        yield _token_text(name_node), child


def _attribute_value(block: _Node, name: str) -> Any:
    for found, attribute in _attribute_nodes(block):
        if found == name:
            return _value_or_expression(_child_trees(attribute)[1])
    return None


def _node_values(node: _Node) -> dict[str, Any]:
    # A local value's node is its attribute; it has one value, under "value".
    if node.data == "attribute":
        return {"value": _value_or_expression(_child_trees(node)[1])}
    return _body_values(node)


def _body_values(block: _Node) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for child in _child_trees(_child_trees(block, "body")[0]):
        if child.data == "attribute":
            name_node, value_node = _child_trees(child)
            values[_token_text(name_node)] = _value_or_expression(value_node)
        elif child.data == "block":
            kind, _labels = _block_header(child)
            values.setdefault(kind, []).append(_body_values(child))
    return values


def _value_or_expression(node: _Node) -> Any:
    try:
        return _literal(node)
    except _NotLiteral:
        return _expression(node)


def _literal(node: _Node) -> Any:
    reader = _LITERAL_READERS.get(node.data)
    if reader is None:
        raise _NotLiteral(node.data)
    return reader(node)


def _term_value(node: _Node) -> Any:
    # One child, or an expression in parentheses between comments and newlines.
    inner = [
        child for child in _child_trees(node) if child.data != "new_line_or_comment"
    ]
    return _literal(inner[0])


def _number_value(node: _Node) -> Any:
    text = _token_text(node)
    return int(text) if node.data == "int_lit" else float(text)


def _keyword_value(node: _Node) -> Any:
    return {"true": True, "false": False, "null": None}[_token_text(node)]


def _unary_value(node: _Node) -> Any:
    value = _literal(_child_trees(node)[0])
    if str(node.children[0]) != "-" or not isinstance(value, (int, float)):
        raise _NotLiteral("unary")
    return -value


def _string_value(node: _Node) -> Any:
    from hcl2.utils import process_escape_sequences

    pieces = []
    for part in _child_trees(node, "string_part"):
        piece = part.children[0]
        kind = getattr(piece, "type", None)
        if kind == "STRING_CHARS":
            pieces.append(process_escape_sequences(str(piece)))
        elif kind in ("ESCAPED_INTERPOLATION", "ESCAPED_DIRECTIVE"):
            pieces.append(str(piece)[1:])
        else:
            raise _NotLiteral("template")
    return "".join(pieces)


def _heredoc_value(node: _Node) -> Any:
    return _template_text(_heredoc_body(str(node.children[0])))


def _heredoc_body(token: str) -> str:
    """The text a heredoc stands for, from its source (``<<ID`` to the closing line).

    Every body line keeps its newline, so a blank last line is part of the value and
    an empty heredoc is ``""``. In the ``<<-ID`` form the smallest indent of the
    non-blank lines is taken off every line.
    """
    opener, *lines = token.splitlines(keepends=True)
    lines = lines[:-1]
    if not opener.startswith("<<-"):
        return "".join(lines)

    indent = min((_indent(line) for line in lines if line.strip()), default=0)
    return "".join(line[min(indent, _indent(line)) :] for line in lines)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _template_text(text: str) -> str:
    def unescape(match: re.Match[str]) -> str:
        if match.group() in ("${", "%{"):
            raise _NotLiteral("template")
        return match.group()[1:]

    return _TEMPLATE_MARK.sub(unescape, text)


def _tuple_value(node: _Node) -> Any:
    elements = _child_trees(node)
    return [_literal(e) for e in elements if e.data != "new_line_or_comment"]


def _object_value(node: _Node) -> Any:
    values = {}
    for element in _child_trees(node, "object_elem"):
        key_node, value_node = _child_trees(element)
        values[_object_key(key_node)] = _literal(value_node)
    return values


def _object_key(node: _Node) -> str:
    # A bare name is the key itself, not a reference: `{ Version = "…" }`.
    key = _child_trees(node)[0]
    name = _child_trees(key)
    if key.data == "keyword" or (len(name) == 1 and name[0].data == "identifier"):
        return _token_text(name[0] if name else key)
    value = _literal(key)
    if isinstance(value, (dict, list)) or value is None:
        raise _NotLiteral("object key")
    return str(value).lower() if isinstance(value, bool) else str(value)


_LITERAL_READERS = {
    "expr_term": _term_value,
    "int_lit": _number_value,
    "float_lit": _number_value,
    "literal_value": _keyword_value,
    "unary_op": _unary_value,
    "string": _string_value,
    "heredoc_template": _heredoc_value,
    "heredoc_template_trim": _heredoc_value,
    "tuple": _tuple_value,
    "object": _object_value,
}


# -- expressions -------------------------------------------------------------------


def _expression(node: _Node) -> Expression:
    import hcl2
    from hcl2.utils import SerializationOptions

    options = SerializationOptions(wrap_objects=True, wrap_tuples=True)
    text = hcl2.transform(node, discard_comments=True).serialize(options)
    references = tuple(dict.fromkeys(_references(node)))
    return Expression(str(text), references)


def _references(node: _Node) -> Iterator[str]:
    chain = _traversal(node)
    if chain is not None:
        yield chain
        return
    if node.data in ("for_tuple_expr", "for_object_expr"):
        yield from _for_references(node)
        return
    if node.data in ("heredoc_template", "heredoc_template_trim"):
        yield from _heredoc_references(str(node.children[0]))
        return

    for child in _child_trees(node):
        if not _is_name_position(node, child):
            yield from _references(child)


def _traversal(node: _Node) -> str | None:
    """``a.b.c`` when ``node`` is a plain traversal; None for anything else."""
    if node.data == "identifier":
        return _token_text(node)
    if node.data == "expr_term":
        inner = _child_trees(node)
        return _traversal(inner[0]) if len(node.children) == 1 and inner else None
    if node.data != "get_attr_expr_term":
        return None

    base, attribute = _child_trees(node)
    root = _traversal(base)
    return f"{root}.{_token_text(_child_trees(attribute)[0])}" if root else None


def _is_name_position(parent: _Node, child: _Node) -> bool:
    # Names that are not reads: attribute names after a dot, function names, bare
    # object keys and for-expression variables.
    if child.data == "get_attr":
        return True
    if parent.data in ("function_call", "for_intro"):
        return child.data == "identifier"
    return parent.data == "object_elem_key" and _traversal(child) is not None


def _for_references(node: _Node) -> Iterator[str]:
    intro = _child_trees(node)[0]
    names = {_token_text(n) for n in _child_trees(intro, "identifier")}
    for child in _child_trees(node):
        for reference in _references(child):
            if reference.split(".")[0] not in names:
                yield reference


def _heredoc_references(token: str) -> Iterator[str]:
    import hcl2
    from lark.exceptions import LarkError

    for inner in _interpolations(_heredoc_body(token)):
        try:
            tree = hcl2.parses_to_tree(f"x = {inner}")
        except LarkError:
            logger.debug("interpolation %r in a heredoc not parsed", inner)
            continue
        attribute = _child_trees(_child_trees(tree)[0], "attribute")[0]
        yield from _references(_child_trees(attribute)[1])


def _interpolations(text: str) -> Iterator[str]:
    """The expressions inside ``${…}`` in a template's text (``$${`` is no start)."""
    for match in _TEMPLATE_MARK.finditer(text):
        if match.group() != "${":
            continue
        depth, end = 1, match.end()
        while depth and end < len(text):
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            end += 1
        yield text[match.end() : end - 1]

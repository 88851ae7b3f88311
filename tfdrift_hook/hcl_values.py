"""The values a block of python-hcl2's parse tree writes, as the HCL says them.

Values are what the HCL says, not what Terraform evaluated: a value that needs
evaluating (a reference, a function call, an interpolation) is an :class:`Expression`,
and the evaluated value comes from state and plan. Strings are never parsed as JSON.

Heredocs read as Terraform reads them: every body line keeps its newline, and the
``<<-`` form loses the smallest indent. python-hcl2 is imported only inside the
functions that need it, so importing this module costs nothing until a tree is read.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lark import Token, Tree

    _Node = Tree[Token]

logger = logging.getLogger(__name__)

_TEMPLATE_MARK = re.compile(r"\$\$\{|%%\{|\$\{|%\{")


@dataclass(frozen=True)
class Expression:
    """A value the HCL computes, as python-hcl2 writes it back, and what it reads.

    ``references`` are the traversals it reads (``var.name``,
    ``data.aws_caller_identity.current.account_id``), each cut at its first index or
    splat, in order of appearance. For-expression variables are not references.
    """

    text: str
    references: tuple[str, ...]


# -- reading the tree --------------------------------------------------------------


def file_blocks(tree: _Node) -> list[_Node]:
    """The top-level blocks of a parsed file, in the order they are written."""
    return _child_trees(_child_trees(tree, "body")[0], "block")


def _child_trees(node: _Node, kind: str | None = None) -> list[_Node]:
    from lark import Tree

    trees = [child for child in node.children if isinstance(child, Tree)]
    return [child for child in trees if kind is None or child.data == kind]


def block_header(block: _Node) -> tuple[str, list[str]]:
    """A block's type and its labels; a label that is a template is ``""``."""
    parts = [
        child
        for child in _child_trees(block)
        if child.data not in ("body", "new_line_or_comment")
    ]
    return _token_text(parts[0]), [_label_text(part) for part in parts[1:]]


def attribute_nodes(block: _Node) -> Iterator[tuple[str, _Node]]:
    """Each attribute of ``block`` by name, as its ``attribute`` node."""
    for child in _child_trees(_child_trees(block, "body")[0], "attribute"):
        name_node, _value = _child_trees(child)
        yield _token_text(name_node), child


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


def attribute_value(block: _Node, name: str) -> Any:
    """The value of ``block``'s attribute ``name``, None when it has none."""
    for found, attribute in attribute_nodes(block):
        if found == name:
            return _value_or_expression(_child_trees(attribute)[1])
    return None


def node_values(node: _Node) -> dict[str, Any]:
    """The attributes a block writes, or a local value's one value as ``value``;
    see :meth:`tfdrift_hook.hcl_source.SourceMap.attributes`."""
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
            kind, _labels = block_header(child)
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

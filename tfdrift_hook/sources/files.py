"""CloudTrail records read from files and directory trees of them.

Each path is a file or a directory; a directory is walked in sorted order and its
``*.json``, ``*.json.gz``, ``*.jsonl``, ``*.jsonl.gz`` and ``*.ndjson`` files are read,
except CloudTrail digest files. The walk follows linked folders, each real folder once,
so that a link back up the tree ends; it passes over pipes, sockets and devices with a
warning, as they hold no records and opening a pipe waits for a writer. A file given by
name is always read, unless it is not a regular file. What a file holds is found from
its bytes, not its name (gzip by its magic number):

- a CloudTrail log file, ``{"Records": [...]}`` (other top-level keys are ignored);
- one record (an object with ``eventName`` or ``eventSource``), or a list of records;
- the output of ``aws cloudtrail lookup-events``, ``{"Events": [{"CloudTrailEvent":
  "<record as a JSON string>"}, ...]}``, or several such pages one after another;
- JSON Lines, one record or one ``{"Records": [...]}`` per line.

A file that is empty, or binary rather than JSON text (a file gzipped twice inflates to
another gzip file), or nested deeper than the parsers go (about a thousand levels; no
CloudTrail record comes near) is a problem of its own, and the other files are read.

Speed comes from not building Python objects for records that are filtered out.
msgspec checks the syntax of the whole document in one pass and hands each record over
as raw bytes; only the records in which the name of a wanted ``eventSource`` occurs are
parsed, and the parsed ``eventSource`` then decides. The byte test assumes the name is
written plainly, as CloudTrail writes it, not with ``\\u`` escapes. In JSON Lines the
test runs before a line is parsed, and a line that names no wanted source is skipped
only when it looks whole, starting with ``{`` and ending with ``}`` (or ``[`` and
``]``); any other line is parsed, so that a line cut short is reported by its number.
A broken line that still starts and ends with braces and names no wanted source is
skipped without a word.

Files up to :data:`WHOLE_FILE_LIMIT` once inflated (CloudTrail's own are a few MiB) are
read whole; larger ones are streamed, line by line or with ijson, so that memory does
not grow with them. The syntax error of a streamed document is reported with ijson's
text rather than a line and column, which ijson does not count. ijson keeps the path to
the current value at every level, so a streamed document nested tens of thousands of
levels deep takes memory that grows with the square of its depth; only files held whole
are safe from that, until the streaming parser can be told a depth limit.
"""

from __future__ import annotations

import codecs
import gzip
import json
import logging
import os
import re
import stat
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple, cast

import ijson
import msgspec
import orjson

from tfdrift_hook.hookspecs import hookimpl
from tfdrift_hook.problems import Problems

if TYPE_CHECKING:
    from tfdrift_hook.pipeline import CheckRequest

__all__ = [
    "WHOLE_FILE_LIMIT",
    "FileSource",
    "SourceRecord",
    "Wanted",
    "records_from_bytes",
]

logger = logging.getLogger(__name__)

#: Inflated size up to which a file is read into memory whole.
WHOLE_FILE_LIMIT = 32 * 1024 * 1024
#: Longest first line looked at to tell JSON Lines from one big document.
_PEEK = 1024 * 1024

_GZIP_MAGIC = b"\x1f\x8b"
_LINE_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")
_SUFFIXES = (".json", ".json.gz", *_LINE_SUFFIXES)
_DIGEST_KEYS = frozenset({"digestStartTime", "digestEndTime", "logFiles"})
_RECORD_KEYS = frozenset({"eventName", "eventSource"})
_OPEN_BRACE = ord("{")
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_BLANK = re.compile(rb"\s*\Z")
#: Raw control characters, which JSON text never holds outside tab, LF and CR.
_CONTROL = bytes(range(0x09)) + b"\x0b\x0c" + bytes(range(0x0E, 0x20))
#: How much of a file's start is looked at to tell binary data from text.
_SNIFF = 256
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
#: First and last byte of a line that looks like one whole JSON object or list.
_WHOLE_LINE_ENDS = frozenset({(ord("{"), ord("}")), (ord("["), ord("]"))})
_TOO_DEEP = "is nested too deeply to read"

_decompressobj: Callable[..., Any] = zlib.decompressobj
_INFLATE_ERRORS: tuple[type[Exception], ...] = (zlib.error, EOFError)
try:
    from isal import isal_zlib
except ImportError:  # ISA-L is optional; zlib inflates the same bytes at half the speed
    pass
else:
    _decompressobj = isal_zlib.decompressobj
    # isal's stub declares ``error`` as an instance; at run time it is the class.
    _INFLATE_ERRORS = (cast("type[Exception]", isal_zlib.error), EOFError)

_FIX_PATH = "check the path and that it can be read"
_FIX_FOLDER = (
    "point at the folder the trail's objects were copied to; .json, .json.gz, "
    ".jsonl, .jsonl.gz and .ndjson files are read, digest files are skipped"
)
_FIX_GZIP = (
    "fetch the object again; an interrupted download leaves a gzip file cut short"
)
_FIX_JSON = (
    "correct the JSON at that position (examples copied from documentation often "
    "have a missing or trailing comma), or leave the file out"
)
_FIX_UTF8 = "CloudTrail writes UTF-8; convert the file to UTF-8"
_FIX_SPECIAL = "pass the regular file the records were saved to, not a pipe or device"
_FIX_EMPTY = (
    "fetch or export the file again (a copy cut short can be empty), or leave it out"
)
_FIX_BINARY = "pass CloudTrail log files as JSON text or gzipped JSON, or leave it out"
_FIX_TWICE = (
    "inflate it until JSON text comes out (zcat FILE | zcat), or fetch the object again"
)
_FIX_DEPTH = "no CloudTrail record is nested that deep; leave the file out"
_FIX_LINE = "correct or remove that line"
_FIX_RECORD = "each CloudTrail record must be a JSON object"
_FIX_LOOKUP = "pass the output of 'aws cloudtrail lookup-events' unchanged"
_FIX_SHAPE = (
    'pass CloudTrail log files ({"Records": [...]}), single records, JSON Lines '
    "or the output of 'aws cloudtrail lookup-events'"
)


class SourceRecord(NamedTuple):
    """One CloudTrail record and where it was read."""

    #: The record, as CloudTrail wrote it.
    record: dict[str, Any]
    #: ``"trail/x.json.gz#Records[12]"`` or ``"events.jsonl:line 7"``.
    where: str


class FileSource:
    """CloudTrail records from files and directories on disk."""

    name = "files"

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = tuple(Path(path) for path in paths)

    def records(
        self, problems: Problems, event_sources: frozenset[str] | None = None
    ) -> Iterator[SourceRecord]:
        """Yield the records of every file, in the order of the paths, then files."""
        wanted = Wanted(event_sources)
        for path in self._files(problems):
            yield from _file_records(path, problems, wanted)

    def _files(self, problems: Problems) -> Iterator[Path]:
        for path in self.paths:
            if not path.is_dir():
                yield path
                continue
            files = _walk(path, problems)
            first = next(files, None)
            if first is None:
                problems.add(str(path), "holds no files to read", _FIX_FOLDER)
                continue
            yield first
            yield from files


class Wanted:
    """Which records to hand out, and a search for the bytes each of them holds."""

    def __init__(self, sources: frozenset[str] | None) -> None:
        self.sources = sources
        self.search: Callable[[Any], object] | None = None
        if sources is not None:
            names = [re.escape(source.encode()) for source in sorted(sources)]
            self.search = re.compile(b"|".join(names) or b"(?!)").search

    def may_match(self, data: Any) -> bool:
        return self.search is None or self.search(data) is not None

    def keeps(self, record: Mapping[str, Any]) -> bool:
        if self.sources is None:
            return True
        source = record.get("eventSource")
        return isinstance(source, str) and source in self.sources


# --- files ------------------------------------------------------------------------


def _walk(root: Path, problems: Problems) -> Iterator[Path]:
    """The files under ``root`` worth reading, in sorted order, linked folders too.

    A folder that cannot be listed is a problem: its records would be lost unseen.
    """
    visited: set[str] = set()

    def unlisted(error: OSError) -> None:
        where = error.filename or str(root)
        problems.add(str(where), f"cannot be listed: {error.strerror}", _FIX_PATH)

    for folder, subfolders, names in os.walk(root, onerror=unlisted, followlinks=True):
        if not _first_visit(folder, visited):
            subfolders.clear()
            continue
        subfolders.sort()
        for name in sorted(names):
            path = Path(folder, name)
            if not _skipped(path, path.relative_to(root)):
                yield path


def _first_visit(folder: str, visited: set[str]) -> bool:
    """Whether ``folder`` is met for the first time, which ends a link that loops."""
    real = os.path.realpath(folder)
    if real in visited:
        logger.debug("skipping %s: a link to %s, which is read already", folder, real)
        return False
    visited.add(real)
    return True


def _skipped(path: Path, inside: Path) -> bool:
    if "CloudTrail-Digest" in inside.as_posix():
        logger.debug("skipping %s: a CloudTrail digest file", path)
        return True
    if not path.name.lower().endswith(_SUFFIXES):
        logger.debug("skipping %s: not a .json, .jsonl or .ndjson file", path)
        return True
    if _is_special(path):
        logger.warning("skipping %s: not a regular file, so it holds no records", path)
        return True
    return False


def _is_special(path: Path) -> bool:
    """Whether ``path`` is a pipe, socket or device rather than a file or a fault."""
    try:
        mode = path.stat().st_mode
    except OSError:
        # The reader names what is wrong, such as a link to nothing.
        return False
    return not stat.S_ISREG(mode)


def _file_records(
    path: Path, problems: Problems, wanted: Wanted
) -> Iterator[SourceRecord]:
    """The records of one file; a file too deep to parse is one problem, not a crash."""
    try:
        yield from _readable_file_records(path, problems, wanted)
    except RecursionError:
        # msgspec and the json module recurse once a level, and orjson's limit of
        # 1024 levels is raised as the same error, so one handler serves all three.
        problems.add(str(path), _TOO_DEEP, _FIX_DEPTH)


def _readable_file_records(
    path: Path, problems: Problems, wanted: Wanted
) -> Iterator[SourceRecord]:
    where = str(path)
    try:
        if _is_special(path):
            problems.add(where, "is not a regular file", _FIX_SPECIAL)
            return
        data, gzipped = _read(path, WHOLE_FILE_LIMIT)
    except FileNotFoundError:
        problems.add(where, "does not exist", _FIX_PATH)
        return
    except OSError as exc:
        problems.add(where, f"cannot be read: {exc.strerror or exc}", _FIX_PATH)
        return
    except _INFLATE_ERRORS as exc:
        problems.add(where, f"is not a readable gzip file: {exc}", _FIX_GZIP)
        return
    if data is None:
        yield from _streamed_records(path, problems, wanted)
        return
    lines = _is_lines_name(path)
    yield from records_from_bytes(data, where, problems, wanted, gzipped, lines)


def records_from_bytes(
    data: bytes,
    where: str,
    problems: Problems,
    wanted: Wanted,
    gzipped: bool = False,
    lines: bool = False,
) -> Iterator[SourceRecord]:
    """The records of one file's inflated bytes, whatever source fetched them.

    ``lines`` says the name promises JSON Lines; other documents are told apart by
    their content. What cannot be read is added to ``problems`` under ``where``.
    """
    text = _utf8(data)
    if _BLANK.match(text):
        problems.add(where, "is empty", _FIX_EMPTY)
    elif _is_binary(text):
        problems.add(where, *_binary_problem(gzipped))
    elif lines:
        yield from _line_records(text.splitlines(), where, problems, wanted)
    else:
        yield from _document_records(text, where, problems, wanted)


def _read(path: Path, limit: int) -> tuple[bytes | None, bool]:
    """The file's bytes, inflated if gzipped, and whether they were.

    The bytes are None when they would pass ``limit``.
    """
    with path.open("rb") as stream:
        if os.fstat(stream.fileno()).st_size > limit:
            return None, False
        blob = stream.read()
    if blob[:2] != _GZIP_MAGIC:
        return blob, False
    return _gunzip(blob, limit), True


def _gunzip(blob: bytes, limit: int) -> bytes | None:
    """The inflated bytes of every gzip member, or None once they pass ``limit``."""
    parts: list[bytes] = []
    size = 0
    while blob[:2] == _GZIP_MAGIC:
        inflater = _decompressobj(wbits=31)
        part = inflater.decompress(blob, limit + 1 - size)
        size += len(part)
        if size > limit:
            return None
        if not inflater.eof:
            raise EOFError("the compressed data ends before the gzip stream does")
        parts.append(part)
        blob = inflater.unused_data
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _utf8(data: bytes) -> bytes:
    """The text as UTF-8 without a byte order mark, as Windows tools may write it."""
    if data[:2] not in _UTF16_BOMS:
        return data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-16").encode()
    except UnicodeDecodeError:
        # Not UTF-16 after all; the parsers report the bytes as they are.
        return data


def _is_binary(data: bytes) -> bool:
    """Whether the bytes start with a control byte, which no JSON text holds.

    Random bytes hold one within a few hundred, and a gzip header starts with one.
    Only the start is looked at, so that text with a stray byte further on has its
    syntax error reported where the byte is.
    """
    head = data[:_SNIFF]
    if head[:2] in _UTF16_BOMS:
        return False
    # Deleting them is a table lookup a byte, several times faster than a search.
    return len(head.translate(None, _CONTROL)) < len(head)


def _binary_problem(gzipped: bool) -> tuple[str, str]:
    if gzipped:
        return "is not JSON text (binary data; was it compressed twice?)", _FIX_TWICE
    return "is not JSON text (binary data)", _FIX_BINARY


def _is_lines_name(path: Path) -> bool:
    return path.name.lower().endswith(_LINE_SUFFIXES)


# --- documents held in memory ----------------------------------------------------


class _LogFile(msgspec.Struct):
    """A CloudTrail log file: every other top-level key is skipped unparsed."""

    Records: list[msgspec.Raw] | msgspec.UnsetType = msgspec.UNSET


_LOG_FILE = msgspec.json.Decoder(_LogFile)
_TOP_LEVEL = msgspec.json.Decoder(dict[str, msgspec.Raw])
_RAW_LIST = msgspec.json.Decoder(list[msgspec.Raw])


def _document_records(
    data: bytes, where: str, problems: Problems, wanted: Wanted
) -> Iterator[SourceRecord]:
    """Records of one document; a log file's unwanted records are never parsed."""
    try:
        log_file = _LOG_FILE.decode(data)
    except msgspec.ValidationError:
        log_file = _LogFile()
    except msgspec.DecodeError:
        yield from _irregular_records(data, where, problems, wanted)
        return
    if isinstance(log_file.Records, list):
        yield from _records(log_file.Records, f"{where}#Records", problems, wanted)
        return
    try:
        top = _TOP_LEVEL.decode(data)
    except msgspec.ValidationError:
        # Not an object: a list of records, several lists, or nothing of ours.
        yield from _parsed_records(data, where, problems, wanted)
        return
    if _shape(top) == "record":
        yield from _parsed_records(data, where, problems, wanted)
        return
    yield from _shaped_records(top, where, problems, wanted)


def _parsed_records(
    data: bytes, where: str, problems: Problems, wanted: Wanted
) -> Iterator[SourceRecord]:
    """Records of a document parsed whole, whose syntax msgspec may not have checked."""
    try:
        value = _loads(data)
    except orjson.JSONDecodeError:
        yield from _irregular_records(data, where, problems, wanted)
        return
    yield from _value_records(value, where, problems, wanted)


def _loads(data: Any) -> Any:
    """The parsed JSON value; orjson's depth limit is raised as a RecursionError."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        _raise_if_too_deep(exc)
        raise


def _raise_if_too_deep(exc: orjson.JSONDecodeError) -> None:
    """Raise orjson's depth limit as the RecursionError the other parsers give."""
    if _is_too_deep(exc):
        raise RecursionError(exc.msg) from exc


def _is_too_deep(exc: orjson.JSONDecodeError) -> bool:
    return exc.msg.startswith("depth limit")


def _shape(top: Mapping[str, Any]) -> str:
    """What a top-level object is, from its keys alone."""
    if "Records" in top:
        return "Records"
    if "Events" in top:
        return "Events"
    if not _RECORD_KEYS.isdisjoint(top):
        return "record"
    if top.keys() >= _DIGEST_KEYS:
        return "digest"
    return ""


def _shaped_records(
    top: Mapping[str, Any], where: str, problems: Problems, wanted: Wanted
) -> Iterator[SourceRecord]:
    """Records of a log file or lookup-events page whose values are raw or parsed."""
    shape = _shape(top)
    if shape == "Records":
        items = _list_value(top, shape, where, problems)
        yield from _records(items, f"{where}#Records", problems, wanted)
    elif shape == "Events":
        for index, item in enumerate(_list_value(top, shape, where, problems)):
            yield from _lookup_event(item, f"{where}#Events[{index}]", problems, wanted)
    elif shape == "record":
        found = _checked(top, where, problems, wanted)
        if found:
            yield found
    elif shape == "digest":
        logger.debug("skipping %s: a CloudTrail digest file", where)
    else:
        problems.add(where, "is JSON but holds no CloudTrail records", _FIX_SHAPE)


def _list_value(
    top: Mapping[str, Any], key: str, where: str, problems: Problems
) -> list[Any]:
    value = top[key]
    if isinstance(value, msgspec.Raw):
        try:
            return _RAW_LIST.decode(value)
        except msgspec.ValidationError:
            pass
    elif isinstance(value, list):
        return value
    problems.add(f"{where}#{key}", "is not a list", _FIX_SHAPE)
    return []


def _records(
    items: list[Any], where: str, problems: Problems, wanted: Wanted
) -> Iterator[SourceRecord]:
    """The wanted records of a list whose items are raw JSON or parsed values.

    This loop runs once for every record of a trail, so a raw object that does not
    name a wanted source is passed over before anything else is done with it.
    """
    search = wanted.search
    for index, item in enumerate(items):
        if isinstance(item, msgspec.Raw):
            view = memoryview(item)
            if search is not None and search(view) is None and view[0] == _OPEN_BRACE:
                continue
            try:
                # orjson itself: this runs for every wanted record of a trail.
                item = orjson.loads(view)
            except orjson.JSONDecodeError as exc:
                _raise_if_too_deep(exc)
                # msgspec checked the syntax but not the UTF-8 inside strings.
                message = f"is not valid JSON: {exc.msg}"
                problems.add(f"{where}[{index}]", message, _FIX_UTF8)
                continue
        found = _checked(item, f"{where}[{index}]", problems, wanted)
        if found:
            yield found


def _checked(
    record: Any, where: str, problems: Problems, wanted: Wanted
) -> SourceRecord | None:
    if not isinstance(record, dict):
        problems.add(where, f"is a JSON {_kind(record)}, not a record", _FIX_RECORD)
        return None
    return SourceRecord(record, where) if wanted.keeps(record) else None


def _kind(value: Any) -> str:
    names = {list: "list", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _lookup_event(
    item: Any, where: str, problems: Problems, wanted: Wanted
) -> Iterator[SourceRecord]:
    """The record inside one lookup-events entry, where it is a JSON string."""
    if isinstance(item, msgspec.Raw):
        if not wanted.may_match(item):
            return
        try:
            item = _loads(memoryview(item))
        except orjson.JSONDecodeError as exc:
            problems.add(where, f"is not valid JSON: {exc.msg}", _FIX_LOOKUP)
            return
    text = item.get("CloudTrailEvent") if isinstance(item, dict) else None
    if not isinstance(text, str):
        problems.add(where, "has no CloudTrailEvent string", _FIX_LOOKUP)
        return
    try:
        record = _loads(text)
    except orjson.JSONDecodeError as exc:
        message = f"CloudTrailEvent is not valid JSON: {exc.msg} at column {exc.colno}"
        problems.add(where, message, _FIX_LOOKUP)
        return
    found = _checked(record, where, problems, wanted)
    if found:
        yield found


def _value_records(
    value: Any, where: str, problems: Problems, wanted: Wanted
) -> Iterator[SourceRecord]:
    """Records of a value already parsed: a line, a page, a list of records."""
    if isinstance(value, list):
        yield from _records(value, where, problems, wanted)
    elif isinstance(value, dict):
        yield from _shaped_records(value, where, problems, wanted)
    else:
        problems.add(where, f"is a JSON {_kind(value)}, not a record", _FIX_SHAPE)


# --- several values in one file, and syntax errors --------------------------------


def _irregular_records(
    data: bytes, where: str, problems: Problems, wanted: Wanted
) -> Iterator[SourceRecord]:
    """Several JSON values one after another, or a syntax error to report."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.add(where, f"is not UTF-8 text (byte offset {exc.start})", _FIX_UTF8)
        return
    try:
        _, end = json.JSONDecoder().raw_decode(text, _skip_space(text, 0))
    except json.JSONDecodeError:
        problems.add(where, _syntax_error(data), _FIX_JSON)
        return
    if _skip_space(text, end) == len(text):
        # One value that only the strict parser refused, such as NaN.
        yield from _value_records(json.loads(text), where, problems, wanted)
        return
    newline = data.find(b"\n")
    if newline > 0 and _parses(data[:newline]):
        yield from _line_records(data.splitlines(), where, problems, wanted)
        return
    yield from _concatenated_records(text, where, problems, wanted)


def _skip_space(text: str, index: int) -> int:
    match = _WHITESPACE.match(text, index)
    return match.end() if match else index


def _parses(data: bytes) -> bool:
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    return True


def _syntax_error(data: bytes) -> str:
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    return "is not valid JSON"


def _concatenated_records(
    text: str, where: str, problems: Problems, wanted: Wanted
) -> Iterator[SourceRecord]:
    """Documents written one after another, as appended CLI output pages are."""
    decoder = json.JSONDecoder()
    index = _skip_space(text, 0)
    while index < len(text):
        try:
            value, end = decoder.raw_decode(text, index)
        except json.JSONDecodeError as exc:
            position = f"at line {exc.lineno} column {exc.colno}"
            problems.add(where, f"is not valid JSON: {exc.msg} {position}", _FIX_JSON)
            return
        line = text.count("\n", 0, index) + 1
        yield from _value_records(value, f"{where}:line {line}", problems, wanted)
        index = _skip_space(text, end)


def _line_records(
    lines: Iterable[bytes], where: str, problems: Problems, wanted: Wanted
) -> Iterator[SourceRecord]:
    """The wanted records of JSON Lines, each line parsed on its own.

    This loop runs once for every line, so a line that does not name a wanted source
    is passed over unparsed; only when it looks whole, though, so that a line cut
    short is still reported.
    """
    search = wanted.search
    for number, line in enumerate(lines, 1):
        if search is not None and search(line) is None:
            text = line.strip()
            if not text or (text[0], text[-1]) in _WHOLE_LINE_ENDS:
                continue
        elif not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            problems.add(f"{where}:line {number}", *_line_problem(exc))
            continue
        yield from _value_records(value, f"{where}:line {number}", problems, wanted)


def _line_problem(exc: orjson.JSONDecodeError) -> tuple[str, str]:
    if _is_too_deep(exc):
        return _TOO_DEEP, _FIX_DEPTH
    return f"is not valid JSON: {exc.msg} at column {exc.colno}", _FIX_LINE


# --- files too big to hold --------------------------------------------------------


def _streamed_records(
    path: Path, problems: Problems, wanted: Wanted
) -> Iterator[SourceRecord]:
    """Records of a file too big to hold, read as it is inflated."""
    where = str(path)
    try:
        if _is_binary_stream(path):
            problems.add(where, *_binary_problem(_is_gzip(path)))
            return
        if _is_lines_name(path) or _starts_with_a_line(path):
            with _open_stream(path) as stream:
                yield from _line_records(stream, where, problems, wanted)
            return
        read = yield from _streamed_log_file(path, where, problems, wanted)
        if read == 0:
            with _open_stream(path) as stream:
                yield from _streamed_document(stream, where, problems, wanted)
    except (OSError, EOFError, zlib.error) as exc:
        problems.add(where, f"stopped reading: {exc}", _FIX_GZIP)


def _is_binary_stream(path: Path) -> bool:
    with _open_stream(path) as stream:
        return _is_binary(stream.read(_SNIFF))


def _starts_with_a_line(path: Path) -> bool:
    """Whether the file's first line is a JSON value on its own, as in JSON Lines."""
    with _open_stream(path) as stream:
        first = stream.readline(_PEEK)
    return first.endswith(b"\n") and _parses(first)


def _streamed_log_file(
    path: Path, where: str, problems: Problems, wanted: Wanted
) -> Generator[SourceRecord, None, int]:
    """The records of a big log file; returns how many there were, or -1 on error.

    ijson builds each record in C, which is several times faster than building it
    from the parser's events here; documents of any other shape hold no Records,
    give 0, and are read again by :func:`_streamed_document`.
    """
    read = 0
    with _open_stream(path) as stream:
        try:
            for item in ijson.items(stream, "Records.item", use_float=True):
                found = _checked(item, f"{where}#Records[{read}]", problems, wanted)
                read += 1
                if found:
                    yield found
        except ijson.JSONError as exc:
            message = f"is not valid JSON after {read} records: {exc}"
            problems.add(where, message, _FIX_JSON)
            return -1
    return read


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as probe:
        return probe.read(2) == _GZIP_MAGIC


def _open_stream(path: Path) -> BinaryIO:
    if _is_gzip(path):
        # typeshed calls this a GzipFile, which reads like any binary stream.
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb", buffering=1024 * 1024)


#: ijson prefixes of the items of each list a document may hold records in.
_STREAMED_LISTS = {"Records.item": "Records", "Events.item": "Events", "item": ""}
_VALUE_STARTS = frozenset({"start_map", "string", "number", "boolean", "null"})


def _streamed_document(
    stream: BinaryIO, where: str, problems: Problems, wanted: Wanted
) -> Iterator[SourceRecord]:
    """Records of one large document, each built from the parser's events."""
    events = ijson.parse(stream, use_float=True)
    keys: set[str] = set()
    counts = dict.fromkeys(_STREAMED_LISTS.values(), 0)
    try:
        for prefix, event, value in events:
            if prefix == "":
                keys.update([value] if event == "map_key" else [])
                continue
            if prefix in counts and event in _VALUE_STARTS:
                problems.add(f"{where}#{prefix}", "is not a list", _FIX_SHAPE)
            container = _STREAMED_LISTS.get(prefix)
            if container is None or (container == "" and keys):
                continue
            item = _build(event, value, events)
            label = f"{where}#{container}" if container else where
            label = f"{label}[{counts[container]}]"
            counts[container] += 1
            if container == "Events":
                yield from _lookup_event(item, label, problems, wanted)
                continue
            found = _checked(item, label, problems, wanted)
            if found:
                yield found
    except ijson.JSONError as exc:
        read = sum(counts.values())
        problems.add(where, f"is not valid JSON after {read} records: {exc}", _FIX_JSON)
        return
    if not keys.isdisjoint({"Records", "Events"}) or any(counts.values()):
        return
    if keys >= _DIGEST_KEYS:
        logger.debug("skipping %s: a CloudTrail digest file", where)
        return
    problems.add(where, "holds no CloudTrail records that can be streamed", _FIX_SHAPE)


def _build(event: str, value: Any, events: Iterator[tuple[str, str, Any]]) -> Any:
    """The whole value that starts with ``event``, taking its events from ``events``."""
    builder = ijson.ObjectBuilder()
    depth = 0
    while True:
        builder.event(event, value)
        if event in ("start_map", "start_array"):
            depth += 1
        elif event in ("end_map", "end_array"):
            depth -= 1
        if depth == 0:
            return builder.value
        _, event, value = next(events)


@hookimpl(trylast=True)
def tfdrift_event_sources(request: CheckRequest) -> Sequence[FileSource]:
    """The built-in file source, when the check names ``--events`` paths."""
    paths = tuple(request.event_paths)
    return [FileSource(paths)] if paths else []

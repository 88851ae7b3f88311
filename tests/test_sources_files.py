"""Reading CloudTrail records from files: every shape, every way a file can be wrong."""

from __future__ import annotations

import codecs
import gzip
import importlib.util
import json
import logging
import os
import re
import sys
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tfdrift_hook.problems import Problems
from tfdrift_hook.sources import files
from tfdrift_hook.sources.files import FileSource, SourceRecord

KMS = frozenset({"kms.amazonaws.com"})


def event(
    name: str, source: str = "kms.amazonaws.com", **fields: Any
) -> dict[str, Any]:
    return {
        "eventVersion": "1.08",
        "eventTime": "2025-01-06T10:00:00Z",
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "eventID": f"id-{name}",
        **fields,
    }


def read(
    *paths: Path, sources: frozenset[str] | None = None
) -> tuple[list[SourceRecord], Problems]:
    problems = Problems()
    found = list(FileSource(list(paths)).records(problems, sources))
    return found, problems


def names(found: list[SourceRecord]) -> list[str]:
    return [item.record["eventName"] for item in found]


def wheres(found: list[SourceRecord]) -> list[str]:
    return [item.where for item in found]


def messages(problems: Problems) -> list[str]:
    return [str(problem) for problem in problems.items]


def write_json(path: Path, value: Any, indent: int | None = None) -> Path:
    path.write_text(json.dumps(value, indent=indent), encoding="utf-8")
    return path


# --- shapes -----------------------------------------------------------------------


def test_log_file_gives_each_record_with_its_index(tmp_path: Path) -> None:
    trail = {"Records": [event("DisableKey"), event("EnableKey")], "other": [1, 2]}
    path = write_json(tmp_path / "trail.json", trail)

    found, problems = read(path)

    assert names(found) == ["DisableKey", "EnableKey"]
    assert wheres(found) == [f"{path}#Records[0]", f"{path}#Records[1]"]
    assert not problems


def test_records_key_need_not_come_first(tmp_path: Path) -> None:
    trail = {
        "terraform_apply_window": {"since": "x"},
        "Records": [event("TagResource")],
    }
    path = write_json(tmp_path / "case.json", trail, indent=2)

    found, problems = read(path)

    assert names(found) == ["TagResource"]
    assert not problems


def test_gzip_is_found_by_its_magic_not_its_name(tmp_path: Path) -> None:
    data = json.dumps({"Records": [event("PutKeyPolicy")]}).encode()
    hidden = tmp_path / "looks-plain.json"
    hidden.write_bytes(gzip.compress(data))
    plain = tmp_path / "looks-gzipped.json.gz"
    plain.write_bytes(data)

    found, problems = read(hidden, plain)

    assert wheres(found) == [f"{hidden}#Records[0]", f"{plain}#Records[0]"]
    assert not problems


def test_every_member_of_a_concatenated_gzip_is_read(tmp_path: Path) -> None:
    first = gzip.compress(json.dumps({"Records": [event("DisableKey")]}).encode())
    second = gzip.compress(json.dumps({"Records": [event("EnableKey")]}).encode())
    path = tmp_path / "joined.json.gz"
    path.write_bytes(first + second)

    found, problems = read(path)

    # Two documents, one after the other, once inflated.
    assert names(found) == ["DisableKey", "EnableKey"]
    assert wheres(found) == [f"{path}:line 1#Records[0]", f"{path}:line 1#Records[0]"]
    assert not problems


def test_single_record_file_is_one_record_named_by_the_path(tmp_path: Path) -> None:
    path = write_json(tmp_path / "one.json", event("ScheduleKeyDeletion"), indent=4)

    found, problems = read(path)

    assert names(found) == ["ScheduleKeyDeletion"]
    assert wheres(found) == [str(path)]
    assert not problems


def test_list_of_records_is_read(tmp_path: Path) -> None:
    path = write_json(tmp_path / "list.json", [event("EnableKey"), event("DisableKey")])

    found, _ = read(path)

    assert wheres(found) == [f"{path}[0]", f"{path}[1]"]


def test_json_lines_name_the_line(tmp_path: Path) -> None:
    lines = [
        json.dumps(event("DisableKey")),
        "",
        json.dumps({"Records": [event("EnableKey"), event("TagResource")]}),
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    found, problems = read(path)

    assert names(found) == ["DisableKey", "EnableKey", "TagResource"]
    assert wheres(found) == [
        f"{path}:line 1",
        f"{path}:line 3#Records[0]",
        f"{path}:line 3#Records[1]",
    ]
    assert not problems


def test_json_lines_are_found_by_content_and_gzipped(tmp_path: Path) -> None:
    text = "\n".join(json.dumps(event(name)) for name in ("EnableKey", "DisableKey"))
    in_json = tmp_path / "export.json"
    in_json.write_text(text, encoding="utf-8")
    gzipped = tmp_path / "export.ndjson.gz"
    gzipped.write_bytes(gzip.compress(text.encode()))

    found, problems = read(in_json, gzipped)

    assert wheres(found) == [
        f"{in_json}:line 1",
        f"{in_json}:line 2",
        f"{gzipped}:line 1",
        f"{gzipped}:line 2",
    ]
    assert not problems


def lookup_page(*records: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    page: dict[str, Any] = {
        "Events": [
            {
                "EventId": record["eventID"],
                "EventName": record["eventName"],
                "EventSource": record["eventSource"],
                "CloudTrailEvent": json.dumps(record),
            }
            for record in records
        ]
    }
    if token:
        page["NextToken"] = token
    return page


def test_lookup_events_output_gives_the_embedded_records(tmp_path: Path) -> None:
    page = lookup_page(event("PutKeyPolicy"), event("DisableKey"), token="abc")
    path = write_json(tmp_path / "lookup.json", page, indent=4)

    found, problems = read(path)

    assert names(found) == ["PutKeyPolicy", "DisableKey"]
    assert wheres(found) == [f"{path}#Events[0]", f"{path}#Events[1]"]
    assert found[0].record["awsRegion"] == "us-east-1"
    assert not problems


def test_lookup_pages_appended_to_one_file_are_all_read(tmp_path: Path) -> None:
    first = json.dumps(lookup_page(event("EnableKey"), token="t1"), indent=4)
    second = json.dumps(lookup_page(event("DisableKey")), indent=4)
    path = tmp_path / "pages.json"
    path.write_text(first + "\n" + second + "\n", encoding="utf-8")
    second_starts = first.count("\n") + 2

    found, problems = read(path)

    assert names(found) == ["EnableKey", "DisableKey"]
    assert wheres(found) == [
        f"{path}:line 1#Events[0]",
        f"{path}:line {second_starts}#Events[0]",
    ]
    assert not problems


def test_broken_lookup_entries_are_reported_and_the_rest_read(tmp_path: Path) -> None:
    page = lookup_page(event("EnableKey"), event("DisableKey"), event("TagResource"))
    page["Events"][0]["CloudTrailEvent"] = '{"eventName": "Enable'
    del page["Events"][1]["CloudTrailEvent"]
    path = write_json(tmp_path / "lookup.json", page)

    found, problems = read(path)

    assert names(found) == ["TagResource"]
    assert [problem.where for problem in problems.items] == [
        f"{path}#Events[0]",
        f"{path}#Events[1]",
    ]
    assert "CloudTrailEvent is not valid JSON" in problems.items[0].message
    assert problems.items[1].message == "has no CloudTrailEvent string"


# --- filtering --------------------------------------------------------------------


def lookalikes() -> list[dict[str, Any]]:
    """Records of other services that a loose match would take for KMS."""
    return [
        event("CreateAlias20150331", "lambda.amazonaws.com"),
        event("TagResource", "dynamodb.amazonaws.com"),
        event(
            "CreateServiceLinkedRole",
            "iam.amazonaws.com",
            requestParameters={"aWSServiceName": "mrk.kms.amazonaws.com"},
        ),
        event(
            "Decrypt",
            "s3.amazonaws.com",
            userIdentity={"invokedBy": "kms.amazonaws.com"},
        ),
    ]


def test_only_records_of_the_wanted_sources_come_out(tmp_path: Path) -> None:
    records = [event("DisableKey"), *lookalikes(), event("Decrypt", readOnly=True)]
    trail = write_json(tmp_path / "trail.json", {"Records": records})
    lines = tmp_path / "trail.jsonl"
    lines.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    lookup = write_json(tmp_path / "lookup.json", lookup_page(*records))

    found, problems = read(trail, lines, lookup, sources=KMS)

    assert wheres(found) == [
        f"{trail}#Records[0]",
        f"{trail}#Records[5]",
        f"{lines}:line 1",
        f"{lines}:line 6",
        f"{lookup}#Events[0]",
        f"{lookup}#Events[5]",
    ]
    assert not problems


def test_without_a_filter_every_record_comes_out(tmp_path: Path) -> None:
    trail = write_json(tmp_path / "trail.json", {"Records": lookalikes()})

    found, _ = read(trail)

    assert len(found) == 4


def test_an_empty_filter_lets_nothing_through(tmp_path: Path) -> None:
    trail = write_json(tmp_path / "trail.json", {"Records": [event("DisableKey")]})

    found, problems = read(trail, sources=frozenset())

    assert found == []
    assert not problems


# --- directories ------------------------------------------------------------------


def test_directory_is_walked_in_sorted_order_skipping_what_is_not_a_trail(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    logs = tmp_path / "AWSLogs" / "123456789012" / "CloudTrail" / "us-east-1" / "2025"
    day2 = logs / "01" / "07"
    day1 = logs / "01" / "06"
    digests = tmp_path / "AWSLogs" / "123456789012" / "CloudTrail-Digest" / "us-east-1"
    for folder in (day1, day2, digests):
        folder.mkdir(parents=True)
    for folder, name, hour in (
        (day2, "b", "0000"),
        (day1, "z", "2355"),
        (day1, "a", "0005"),
    ):
        data = json.dumps({"Records": [event(f"{name}-{hour}")]}).encode()
        (
            folder / f"123456789012_CloudTrail_us-east-1_{hour}_{name}.json.gz"
        ).write_bytes(gzip.compress(data))
    write_json(digests / "123456789012_CloudTrail-Digest_x.json", {"logFiles": []})
    (day1 / "README.txt").write_text("not a trail", encoding="utf-8")
    (day1 / "notes.md").write_text("# not a trail", encoding="utf-8")
    digest = {"digestStartTime": "a", "digestEndTime": "b", "logFiles": []}
    write_json(day2 / "copied-digest.json", digest)
    (day2 / "extra.jsonl").write_text(json.dumps(event("from-lines")), encoding="utf-8")

    # The handler goes on the module's logger itself, so that a logging setup left
    # behind by another test (propagation turned off higher up) cannot hide it.
    reader_logger = logging.getLogger(files.__name__)
    reader_logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.DEBUG, logger=files.__name__):
            found, problems = read(tmp_path)
    finally:
        reader_logger.removeHandler(caplog.handler)

    assert names(found) == ["a-0005", "z-2355", "b-0000", "from-lines"]
    assert not problems
    skipped = " ".join(caplog.messages)
    for name in ("README.txt", "notes.md", "CloudTrail-Digest_x.json", "copied-digest"):
        assert name in skipped


def test_a_file_named_explicitly_is_read_whatever_its_name(tmp_path: Path) -> None:
    path = write_json(tmp_path / "events.txt", {"Records": [event("EnableKey")]})

    found, problems = read(path)

    assert names(found) == ["EnableKey"]
    assert not problems


def test_missing_path_and_empty_folder_are_problems_and_the_rest_is_read(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "nowhere.json"
    empty = tmp_path / "empty"
    empty.mkdir()
    good = write_json(tmp_path / "good.json", event("DisableKey"))

    found, problems = read(missing, empty, good)

    assert wheres(found) == [str(good)]
    assert [(p.where, p.message) for p in problems.items] == [
        (str(missing), "does not exist"),
        (str(empty), "holds no files to read"),
    ]


# --- broken input -----------------------------------------------------------------


#: Each published example that is not JSON, and where its error is, worked out by
#: reading the file: a missing comma at the end of line 17 shows at line 18 column 5,
#: where the next key starts; a trailing comma is reported where it stands.
BROKEN_EXAMPLES = {
    "ct-decrypt-2.raw.txt": (18, 5),
    "ct-decrypt-enclave.raw.txt": (25, 152),
    "ct-encrypt.raw.txt": (22, 51),
    "ct-replicate-key.raw.txt": (55, 566),
}


def test_published_examples_that_are_not_json_name_the_line_and_column(
    real_inputs: Path,
) -> None:
    docs = real_inputs / "cloudtrail" / "aws-docs"
    broken = [docs / name for name in BROKEN_EXAMPLES]
    repaired = docs / "ct-encrypt.repaired.json"

    found, problems = read(*broken, repaired)

    assert wheres(found) == [str(repaired)]
    assert [problem.where for problem in problems.items] == [str(p) for p in broken]
    for problem, (line, column) in zip(
        problems.items, BROKEN_EXAMPLES.values(), strict=True
    ):
        assert f"at line {line} column {column}" in problem.message
        assert "comma" in problem.fix


def test_broken_records_are_reported_by_index_and_the_others_read(
    tmp_path: Path,
) -> None:
    records = [event("EnableKey"), 5, event("DisableKey"), "text", None, [1]]
    path = write_json(tmp_path / "trail.json", {"Records": records})

    for sources in (None, KMS):
        found, problems = read(path, sources=sources)

        assert wheres(found) == [f"{path}#Records[0]", f"{path}#Records[2]"]
        assert [(p.where, p.message) for p in problems.items] == [
            (f"{path}#Records[1]", "is a JSON number, not a record"),
            (f"{path}#Records[3]", "is a JSON string, not a record"),
            (f"{path}#Records[4]", "is a JSON null, not a record"),
            (f"{path}#Records[5]", "is a JSON list, not a record"),
        ]


def test_records_that_is_not_a_list_is_reported(tmp_path: Path) -> None:
    path = write_json(tmp_path / "trail.json", {"Records": {"eventName": "x"}})
    good = write_json(tmp_path / "good.json", event("EnableKey"))

    found, problems = read(path, good)

    assert wheres(found) == [str(good)]
    assert [(p.where, p.message) for p in problems.items] == [
        (f"{path}#Records", "is not a list")
    ]


def test_record_with_bytes_that_are_not_utf8_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "trail.json"
    good = json.dumps(event("EnableKey")).encode()
    bad = (
        json.dumps(event("DisableKey", userName="X"))
        .encode()
        .replace(b'"X"', b'"\xff"')
    )
    path.write_bytes(b'{"Records": [' + bad + b", " + good + b"]}")

    found, problems = read(path, sources=KMS)

    assert wheres(found) == [f"{path}#Records[1]"]
    assert [p.where for p in problems.items] == [f"{path}#Records[0]"]


def test_json_that_holds_no_records_is_reported(tmp_path: Path) -> None:
    path = write_json(tmp_path / "plan.json", {"format_version": "1.2"})
    number = write_json(tmp_path / "number.json", 42)

    _, problems = read(path, number)

    assert [(p.where, p.message) for p in problems.items] == [
        (str(path), "is JSON but holds no CloudTrail records"),
        (str(number), "is a JSON number, not a record"),
    ]


def test_broken_json_lines_are_reported_by_line(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    lines = [json.dumps(event("EnableKey")), '{"eventSource": "kms.amazonaws.com",']
    path.write_text("\n".join([*lines, json.dumps(event("DisableKey"))]), "utf-8")

    found, problems = read(path)

    assert wheres(found) == [f"{path}:line 1", f"{path}:line 3"]
    assert [p.where for p in problems.items] == [f"{path}:line 2"]
    assert "column 37" in problems.items[0].message


def test_unreadable_gzip_is_reported_and_the_rest_read(tmp_path: Path) -> None:
    whole = gzip.compress(json.dumps({"Records": [event("EnableKey")]}).encode())
    cut = tmp_path / "cut.json.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    garbage = tmp_path / "garbage.json.gz"
    garbage.write_bytes(b"\x1f\x8b" + b"\x00" * 40)
    good = write_json(tmp_path / "good.json", event("DisableKey"))

    found, problems = read(cut, garbage, good)

    assert wheres(found) == [str(good)]
    assert [p.where for p in problems.items] == [str(cut), str(garbage)]
    for problem in problems.items:
        assert problem.message.startswith("is not a readable gzip file")


def test_text_that_is_not_utf8_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes('{"Records": [{"eventName": "café"'.encode("latin-1"))

    _, problems = read(path)

    # 13 bytes of '{"Records": [', 14 of '{"eventName": ', 4 of '"caf': é is byte 31.
    assert [(p.where, p.message) for p in problems.items] == [
        (str(path), "is not UTF-8 text (byte offset 31)")
    ]


def test_text_written_by_windows_tools_is_read(tmp_path: Path) -> None:
    text = json.dumps(lookup_page(event("DisableKey")), indent=4)
    utf16 = tmp_path / "powershell.json"
    utf16.write_bytes(text.encode("utf-16"))
    marked = tmp_path / "notepad.json"
    marked.write_bytes(text.encode("utf-8-sig"))

    found, problems = read(utf16, marked)

    assert wheres(found) == [f"{utf16}#Events[0]", f"{marked}#Events[0]"]
    assert not problems


def test_a_cut_line_that_names_no_wanted_source_is_reported(tmp_path: Path) -> None:
    # Line 2 is cut inside its eventSource, so it never names kms.amazonaws.com;
    # line 3 is whole S3 record and line 4 a bare number, neither of them KMS.
    lines = [
        json.dumps(event("EnableKey")),
        '{"eventSource": "s3.amaz',
        json.dumps(event("GetObject", "s3.amazonaws.com")),
        "42",
        json.dumps(event("DisableKey")),
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    found, problems = read(path, sources=KMS)

    assert wheres(found) == [f"{path}:line 1", f"{path}:line 5"]
    # The cut line is 24 characters long, so its data ends at column 25.
    assert [(p.where, p.message, p.fix) for p in problems.items] == [
        (
            f"{path}:line 2",
            "is not valid JSON: unexpected end of data at column 25",
            "correct or remove that line",
        ),
        (f"{path}:line 4", "is a JSON number, not a record", files._FIX_SHAPE),
    ]


def test_nesting_too_deep_to_parse_is_a_problem_of_its_file(tmp_path: Path) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    trail = tmp_path / "trail.json"
    trail.write_bytes(b'{"Records":[' + deep + b"]}")
    listed = tmp_path / "list.json"
    listed.write_bytes(deep)
    gzipped = tmp_path / "trail.json.gz"
    gzipped.write_bytes(gzip.compress(b'{"Events":[' + deep + b"]}"))
    good = write_json(tmp_path / "good.json", event("DisableKey"))

    for sources in (None, KMS):
        found, problems = read(trail, listed, gzipped, good, sources=sources)

        assert wheres(found) == [str(good)]
        assert [(p.where, p.message, p.fix) for p in problems.items] == [
            (str(path), "is nested too deeply to read", files._FIX_DEPTH)
            for path in (trail, listed, gzipped)
        ]


def test_a_line_nested_too_deep_is_a_problem_of_that_line(tmp_path: Path) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    lines = [
        json.dumps(event("EnableKey")),
        '{"eventSource": "kms.amazonaws.com", "x": ' + deep + "}",
        json.dumps(event("DisableKey")),
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")

    for sources in (None, KMS):
        found, problems = read(path, sources=sources)

        assert wheres(found) == [f"{path}:line 1", f"{path}:line 3"]
        assert [(p.where, p.message) for p in problems.items] == [
            (f"{path}:line 2", "is nested too deeply to read")
        ]


def test_a_broken_list_of_records_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text('[{"eventName": "x"},', encoding="utf-8")
    good = write_json(tmp_path / "good.json", event("DisableKey"))

    found, problems = read(path, good)

    assert wheres(found) == [str(good)]
    # The text is 20 characters long; the next value was due at column 21.
    assert [(p.where, p.message) for p in problems.items] == [
        (str(path), "is not valid JSON: unexpected end of data at line 1 column 21")
    ]


#: Every byte value once: NUL first, and nothing any JSON text could start with.
BINARY = bytes(range(256)) * 4


def test_binary_data_is_not_taken_for_text_in_another_encoding(
    tmp_path: Path,
) -> None:
    inner = gzip.compress(json.dumps({"Records": [event("EnableKey")]}).encode())
    twice = tmp_path / "twice.json.gz"
    twice.write_bytes(gzip.compress(inner))
    noise = tmp_path / "noise.json.gz"
    noise.write_bytes(gzip.compress(BINARY))
    lines = tmp_path / "noise.jsonl.gz"
    lines.write_bytes(gzip.compress(BINARY))
    plain = tmp_path / "noise.json"
    plain.write_bytes(BINARY)
    good = write_json(tmp_path / "good.json", event("DisableKey"))

    found, problems = read(twice, noise, lines, plain, good, sources=KMS)

    assert wheres(found) == [str(good)]
    gzipped = "is not JSON text (binary data; was it compressed twice?)"
    assert [(p.where, p.message, p.fix) for p in problems.items] == [
        (str(twice), gzipped, files._FIX_TWICE),
        (str(noise), gzipped, files._FIX_TWICE),
        (str(lines), gzipped, files._FIX_TWICE),
        (str(plain), "is not JSON text (binary data)", files._FIX_BINARY),
    ]


def test_broken_utf16_is_reported_not_raised(tmp_path: Path) -> None:
    # A byte order mark, then an odd number of bytes: no UTF-16 text ends that way.
    path = tmp_path / "broken.json"
    path.write_bytes(codecs.BOM_UTF16_LE + b"{\x00}")

    _, problems = read(path)

    # Byte 0 is the first byte of the mark, which UTF-8 never starts with.
    assert [(p.where, p.message) for p in problems.items] == [
        (str(path), "is not UTF-8 text (byte offset 0)")
    ]


def test_empty_files_are_problems_whatever_their_name(tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"")
    blank = tmp_path / "blank.jsonl"
    blank.write_bytes(b"\n  \r\n\t\n")
    inflated_empty = tmp_path / "nothing.ndjson.gz"
    inflated_empty.write_bytes(gzip.compress(b""))
    mark_only = tmp_path / "notepad.json"
    mark_only.write_bytes(codecs.BOM_UTF8 + b"\n")
    good = write_json(tmp_path / "good.json", event("DisableKey"))

    found, problems = read(empty, blank, inflated_empty, mark_only, good)

    assert wheres(found) == [str(good)]
    assert [(p.where, p.message, p.fix) for p in problems.items] == [
        (str(path), "is empty", files._FIX_EMPTY)
        for path in (empty, blank, inflated_empty, mark_only)
    ]


class Collected(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def debug_log() -> Iterator[Collected]:
    """Each record of the reader's logger once, whatever another test left set up."""
    reader_logger = logging.getLogger(files.__name__)
    handler = Collected()
    level = reader_logger.level
    reader_logger.addHandler(handler)
    reader_logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        reader_logger.removeHandler(handler)
        reader_logger.setLevel(level)


def test_linked_folders_are_walked_and_a_loop_is_read_once(
    tmp_path: Path, debug_log: Collected
) -> None:
    trail = tmp_path / "trail"
    day = trail / "real" / "2025"
    day.mkdir(parents=True)
    write_json(day / "a.json", {"Records": [event("EnableKey")]})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    write_json(elsewhere / "b.json", {"Records": [event("DisableKey")]})
    (trail / "linked").symlink_to(elsewhere, target_is_directory=True)
    (trail / "real" / "loop").symlink_to(trail, target_is_directory=True)
    (trail / "real" / "gone.json").symlink_to(tmp_path / "nowhere.json")

    found, problems = read(trail)

    # Sorted: "linked" before "real"; in "real", its own files before "2025".
    assert wheres(found) == [
        f"{trail}/linked/b.json#Records[0]",
        f"{trail}/real/2025/a.json#Records[0]",
    ]
    assert [(p.where, p.message) for p in problems.items] == [
        (f"{trail}/real/gone.json", "does not exist")
    ]
    loops = [r for r in debug_log.records if f"{trail}/real/loop" in r.getMessage()]
    assert [r.levelno for r in loops] == [logging.DEBUG]


def read_in_time(*paths: Path) -> tuple[list[SourceRecord], Problems]:
    """Read in a thread, so that a reader blocked on opening a pipe fails the test."""
    result: list[tuple[list[SourceRecord], Problems]] = []
    reader = threading.Thread(target=lambda: result.append(read(*paths)), daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert result, "reading blocked"
    return result[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_pipes_and_devices_in_a_folder_are_passed_over_with_a_warning(
    tmp_path: Path, debug_log: Collected
) -> None:
    os.mkfifo(tmp_path / "pipe.json")
    (tmp_path / "null.jsonl").symlink_to(os.devnull)
    write_json(tmp_path / "trail.json", {"Records": [event("EnableKey")]})

    found, problems = read_in_time(tmp_path)

    assert wheres(found) == [f"{tmp_path}/trail.json#Records[0]"]
    assert not problems
    warned = [r.getMessage() for r in debug_log.records if r.levelno == logging.WARNING]
    assert warned == [
        f"skipping {tmp_path}/null.jsonl: not a regular file, so it holds no records",
        f"skipping {tmp_path}/pipe.json: not a regular file, so it holds no records",
    ]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_pipe_named_explicitly_is_a_problem_and_never_opened(tmp_path: Path) -> None:
    pipe = tmp_path / "events.json"
    os.mkfifo(pipe)
    good = write_json(tmp_path / "good.json", event("DisableKey"))

    found, problems = read_in_time(pipe, Path(os.devnull), good)

    assert wheres(found) == [str(good)]
    assert [(p.where, p.message, p.fix) for p in problems.items] == [
        (str(pipe), "is not a regular file", files._FIX_SPECIAL),
        (os.devnull, "is not a regular file", files._FIX_SPECIAL),
    ]


# --- files too big to hold --------------------------------------------------------


@pytest.fixture
def small_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every file in the test count as too big to read whole."""
    monkeypatch.setattr(files, "WHOLE_FILE_LIMIT", 64)


@pytest.mark.usefixtures("small_limit")
def test_big_log_files_are_streamed_with_the_same_results(tmp_path: Path) -> None:
    records = [event("DisableKey"), 7, *lookalikes(), event("EnableKey")]
    plain = write_json(tmp_path / "big.json", {"x": {"y": [1]}, "Records": records})
    gzipped = tmp_path / "big.json.gz"
    gzipped.write_bytes(gzip.compress(plain.read_bytes()))

    found, problems = read(plain, gzipped, sources=KMS)

    assert wheres(found) == [
        f"{plain}#Records[0]",
        f"{plain}#Records[6]",
        f"{gzipped}#Records[0]",
        f"{gzipped}#Records[6]",
    ]
    assert [(p.where, p.message) for p in problems.items] == [
        (f"{plain}#Records[1]", "is a JSON number, not a record"),
        (f"{gzipped}#Records[1]", "is a JSON number, not a record"),
    ]


@pytest.mark.usefixtures("small_limit")
def test_big_files_of_other_shapes_are_streamed(tmp_path: Path) -> None:
    lookup = write_json(tmp_path / "lookup.json", lookup_page(event("EnableKey")))
    listed = write_json(tmp_path / "list.json", [event("DisableKey")])
    lines = tmp_path / "lines.json"
    lines.write_text(json.dumps(event("TagResource")) + "\n", encoding="utf-8")
    digest = {"digestStartTime": "a", "digestEndTime": "b", "logFiles": [1] * 40}
    digest_path = write_json(tmp_path / "digest.json", digest)

    found, problems = read(lookup, listed, lines, digest_path)

    assert wheres(found) == [f"{lookup}#Events[0]", f"{listed}[0]", f"{lines}:line 1"]
    assert not problems


@pytest.mark.usefixtures("small_limit")
def test_big_broken_documents_are_reported(tmp_path: Path) -> None:
    text = json.dumps({"Records": [event("EnableKey"), event("DisableKey")]})
    cut = tmp_path / "cut.json"
    cut.write_text(text[:-40], encoding="utf-8")
    not_list = write_json(tmp_path / "odd.json", {"Records": "x" * 100})
    other = write_json(tmp_path / "plan.json", {"planned_values": "x" * 100})

    found, problems = read(cut, not_list, other)

    assert wheres(found) == [f"{cut}#Records[0]"]
    assert [(p.where, p.message[:34]) for p in problems.items] == [
        (str(cut), "is not valid JSON after 1 records:"),
        (f"{not_list}#Records", "is not a list"),
        (str(other), "holds no CloudTrail records that c"),
    ]


@pytest.mark.usefixtures("small_limit")
def test_big_binary_files_are_reported_before_streaming(tmp_path: Path) -> None:
    inner = gzip.compress(json.dumps({"Records": [event("EnableKey")]}).encode())
    twice = tmp_path / "twice.json.gz"
    twice.write_bytes(gzip.compress(inner))
    plain = tmp_path / "noise.jsonl"
    plain.write_bytes(BINARY)

    found, problems = read(twice, plain)

    assert found == []
    assert [(p.where, p.message) for p in problems.items] == [
        (str(twice), "is not JSON text (binary data; was it compressed twice?)"),
        (str(plain), "is not JSON text (binary data)"),
    ]


def test_big_file_is_read_without_holding_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    padding = "x" * 1000
    records = [event("Decrypt", padding=padding) for _ in range(8000)]
    path = tmp_path / "big.json.gz"
    path.write_bytes(gzip.compress(json.dumps({"Records": records}).encode()))
    monkeypatch.setattr(files, "WHOLE_FILE_LIMIT", 1024 * 1024)

    tracemalloc.start()
    try:
        count = sum(1 for _ in FileSource([path]).records(Problems(), KMS))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert count == 8000
    # The inflated document is over 9 MiB. Reading stops at the 1 MiB limit and then
    # streams, holding one record at a time.
    assert peak < 3 * 1024 * 1024


# --- the real inputs --------------------------------------------------------------


#: Records in each multi-record file, counted by hand from the files.
MULTI_RECORD_FILES = {
    "aws-docs/ct-ec2one.json": 2,
    "aws-docs/ct-ec2two.json": 4,
    "captured/awslab-kms-console-and-service-events.json": 4,
    "captured/invictus-aws_dataset-kms-read-events.json": 8,
    "captured/invictus-aws_dataset-userIdentity-shapes.json": 10,
    "fixtures/panther-analysis-kms-test-events.json": 7,
}


def cloudtrail_files(real_inputs: Path) -> list[Path]:
    root = real_inputs / "cloudtrail"
    return sorted(
        p for p in root.rglob("*.json") if p.name != "userIdentity-variants.json"
    )


def test_every_real_cloudtrail_file_reads_without_a_problem(real_inputs: Path) -> None:
    root = real_inputs / "cloudtrail"
    for path in cloudtrail_files(real_inputs):
        found, problems = read(path)

        assert not problems, messages(problems)
        expected = MULTI_RECORD_FILES.get(path.relative_to(root).as_posix(), 1)
        assert len(found) == expected, path


def test_real_files_keep_their_kms_records_when_filtered(real_inputs: Path) -> None:
    root = real_inputs / "cloudtrail"
    ec2two = root / "aws-docs" / "ct-ec2two.json"
    shapes = root / "captured" / "invictus-aws_dataset-userIdentity-shapes.json"
    lab = root / "captured" / "awslab-kms-console-and-service-events.json"

    found, problems = read(ec2two, shapes, lab, sources=KMS)

    # ct-ec2two: RunInstances, then three KMS calls; the shapes file has no KMS
    # record; the lab file ends with a CloudTrail LookupEvents call.
    assert wheres(found) == [
        f"{ec2two}#Records[1]",
        f"{ec2two}#Records[2]",
        f"{ec2two}#Records[3]",
        f"{lab}#Records[0]",
        f"{lab}#Records[1]",
        f"{lab}#Records[2]",
    ]
    assert not problems


def test_identity_catalogue_is_not_taken_for_a_trail(real_inputs: Path) -> None:
    # This file lists userIdentity blocks with the actor each should give; it holds
    # no CloudTrail record, so reading it as one would hide a wrong path.
    path = real_inputs / "cloudtrail" / "userIdentity-variants.json"

    found, problems = read(path)

    assert found == []
    assert [p.message for p in problems.items] == [
        "is JSON but holds no CloudTrail records"
    ]


def test_real_folder_walk_skips_the_broken_raw_copies(real_inputs: Path) -> None:
    docs = real_inputs / "cloudtrail" / "aws-docs"

    found, problems = read(docs)

    # 70 .json files: 68 single records, ct-ec2one with 2 and ct-ec2two with 4.
    assert len(found) == 68 + 2 + 4
    assert not problems
    assert not any(".raw.txt" in item.where for item in found)


# --- the benchmark trail ----------------------------------------------------------


def load_generator() -> Any:
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "generate_trail.py"
    spec = importlib.util.spec_from_file_location("generate_trail", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate_trail"] = module
    spec.loader.exec_module(module)
    return module


def test_generated_trail_reads_back_in_cloudtrail_layout(tmp_path: Path) -> None:
    generator = load_generator()
    generator.main([str(tmp_path), "--records", "2500", "--seed", "3"])
    log_name = re.compile(
        r"AWSLogs/123456789012/CloudTrail/us-east-1/\d{4}/\d\d/\d\d/"
        r"123456789012_CloudTrail_us-east-1_\d{8}T\d{4}Z_[0-9A-F]{16}\.json\.gz"
    )

    found, problems = read(tmp_path / "AWSLogs")

    assert len(found) == 2500
    assert not problems
    logs = {item.where.split("#")[0] for item in found}
    assert all(log_name.search(where) for where in logs)
    kms, _ = read(tmp_path / "AWSLogs", sources=KMS)
    assert {item.record["eventSource"] for item in kms} == {"kms.amazonaws.com"}
    state = json.loads((tmp_path / "terraform.tfstate").read_text("utf-8"))
    types = sorted(resource["type"] for resource in state["resources"])
    assert types == ["aws_kms_alias"] + ["aws_kms_key"] * 4


def test_a_folder_that_cannot_be_listed_is_a_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Permissions do not stop root, so the listing error is made to happen.
    import os

    from tfdrift_hook.sources import files

    (tmp_path / "locked").mkdir()
    real_scandir = os.scandir

    def scandir(path: Any = ".") -> Any:
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(files.os, "scandir", scandir)
    (tmp_path / "good.json").write_text('{"Records": []}', encoding="utf-8")
    problems = Problems()

    list(FileSource([tmp_path]).records(problems))

    assert [str(problem) for problem in problems.items] == [
        f"{tmp_path / 'locked'}: cannot be listed: Permission denied "
        "(check the path and that it can be read)"
    ]

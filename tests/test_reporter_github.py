"""``--format github`` as a workflow step sees it: annotations, summary, outputs.

The real CLI runs in-process with ``GITHUB_ACTIONS=true`` and temporary summary and
output files; what it wrote is parsed back the way the runner reads it.
"""

from __future__ import annotations

import importlib.resources
import json
import os
import re
import subprocess
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from tests.kms_state import (
    ACCOUNT,
    kms_alias,
    kms_key,
    run_cli,
    write_records,
    write_state,
)
from tests.test_check_command import record
from tfdrift_hook.priorities import PRIORITIES
from tfdrift_hook.reporters import github
from tfdrift_hook.reporters.escaping import UNSAFE_CODES, visible_escapes
from tfdrift_hook.reporters.github import (
    Annotation,
    escape_data,
    escape_property,
    output_entry,
)

PROJECT = Path(__file__).resolve().parent.parent
COMMANDS = ("error", "warning", "notice")
PROPERTIES = {"file", "line", "endLine", "title"}

# -- reading what the runner reads -----------------------------------------------------


@dataclass
class Command:
    level: str
    properties: dict[str, str]
    message: str


def unescape(text: str, escapes: tuple[tuple[str, str], ...]) -> str:
    """In the runner's order: ``%25`` last, so ``%250A`` stays ``%0A``."""
    for escaped, original in escapes:
        text = text.replace(escaped, original)
    return text


DATA = (("%0D", "\r"), ("%0A", "\n"), ("%25", "%"))
PROPERTY = (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%"))


def parse_command(line: str) -> Command | None:
    """A line as the runner parses it: ``::name k=v,k=v::data`` after leading spaces."""
    text = line.lstrip()
    if not text.startswith("::"):
        return None
    end = text.find("::", 2)
    if end < 0:
        return None
    info = text[2:end]
    name, _, properties = info.partition(" ")
    pairs = [item.split("=", 1) for item in properties.split(",") if item]
    return Command(
        name,
        {key: unescape(value, PROPERTY) for key, value in pairs},
        unescape(text[end + 2 :], DATA),
    )


@dataclass
class StepRun:
    exit_code: int
    stdout: str
    summary: str
    outputs: dict[str, str]
    summary_bytes: int

    @property
    def commands(self) -> list[Command]:
        parsed = [parse_command(line) for line in self.stdout.split("\n")]
        return [command for command in parsed if command is not None]

    @property
    def plain(self) -> list[str]:
        return [
            line for line in self.stdout.splitlines() if parse_command(line) is None
        ]

    def levels(self) -> Counter[str]:
        return Counter(command.level for command in self.commands)


def parse_outputs(text: str) -> dict[str, str]:
    """``name=value`` lines and ``name<<DELIMITER`` blocks, as the runner reads them."""
    outputs: dict[str, str] = {}
    lines = iter(text.split("\n"))
    for line in lines:
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            for item in lines:
                if item == delimiter:
                    break
                body.append(item)
            outputs[name] = "\n".join(body)
            continue
        name, value = line.split("=", 1)
        outputs[name] = value
    return outputs


@pytest.fixture
def step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A runner's environment: workspace, summary and output files, a temp dir."""
    workspace = tmp_path / "workspace"
    (workspace / "infra").mkdir(parents=True)
    (tmp_path / "runner").mkdir()
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(workspace))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "output"))
    monkeypatch.setenv("RUNNER_TEMP", str(tmp_path / "runner"))
    monkeypatch.setenv("GITHUB_ACTION", "__run")
    return workspace


def summary_file(workspace: Path) -> Path:
    return workspace.parent / "summary.md"


def run_step(workspace: Path, *extra: str) -> StepRun:
    infra = workspace / "infra"
    run = run_cli(
        "check",
        "-C",
        infra,
        "--state",
        infra / "terraform.tfstate",
        "--events",
        infra / "events.json",
        *extra,
    )
    summary, output = summary_file(workspace), workspace.parent / "output"
    text = summary.read_text(encoding="utf-8") if summary.exists() else ""
    return StepRun(
        run.exit_code,
        run.stdout,
        text,
        parse_outputs(output.read_text(encoding="utf-8")) if output.exists() else {},
        len(text.encode("utf-8")),
    )


def wait_for_markdown() -> None:
    """The summary is written by the markdown reporter another change brings."""
    from tfdrift_hook.reporters import markdown

    if not hasattr(markdown, "render_markdown"):
        pytest.skip("tfdrift_hook.reporters.markdown.render_markdown is not there yet")


# -- an input with 80 findings ---------------------------------------------------------

KEYS = [f"{index:04d}abcd-12ab-34cd-56ef-1234567890ab" for index in range(20)]
MAIN_TF = """\
variable "names" {
  type = set(string)
}

resource "aws_kms_key" "k" {
  for_each    = var.names
  description = "${each.key} key"
}
"""


def key_events(index: int, key: str) -> list[dict[str, Any]]:
    """Four findings a key: rotation off (error), tags (warning), description (notice),
    and the key disabled (error), or for the first five its deletion (critical)."""
    day = f"2026-11-{index + 1:02d}"
    last = (
        record(
            "ScheduleKeyDeletion",
            {"keyId": key, "pendingWindowInDays": 7},
            f"{day}T10:03:00Z",
            f"s{index}",
        )
        if index < 5
        else record("DisableKey", {"keyId": key}, f"{day}T10:03:00Z", f"d{index}")
    )
    return [
        record("DisableKeyRotation", {"keyId": key}, f"{day}T10:00:00Z", f"r{index}"),
        record(
            "TagResource",
            {"keyId": key, "tags": [{"tagKey": "team", "tagValue": "ops"}]},
            f"{day}T10:01:00Z",
            f"t{index}",
        ),
        record(
            "UpdateKeyDescription",
            {"keyId": key, "description": f"key {index}"},
            f"{day}T10:02:00Z",
            f"u{index}",
        ),
        last,
    ]


@pytest.fixture
def eighty(step: Path) -> Path:
    infra = step / "infra"
    (infra / "main.tf").write_text(MAIN_TF, encoding="utf-8")
    keys = [kms_key("k", key, index=f"n{i:02d}") for i, key in enumerate(KEYS)]
    write_state(infra, *keys)
    events = [item for i, key in enumerate(KEYS) for item in key_events(i, key)]
    write_records(infra, "events.json", *events)
    return step


def test_eighty_findings_give_the_annotations_github_shows_and_one_overflow_notice(
    eighty: Path,
) -> None:
    run = run_step(eighty)

    # 5 critical + 35 error are errors, 20 warnings, 20 notices; GitHub shows 10 of a
    # level: 10 errors, 10 warnings, 9 notices and the notice for the other 80 - 29.
    assert run.exit_code == 1
    assert run.levels() == {"error": 10, "warning": 10, "notice": 10}
    overflow = run.commands[-1]
    assert overflow.level == "notice"
    assert overflow.message.startswith("51 more findings not annotated")
    assert "job summary" in overflow.message
    titles = [command.properties["title"] for command in run.commands[:10]]
    assert [title.split(":")[0] for title in titles] == ["critical"] * 5 + ["error"] * 5
    notices = [command for command in run.commands if command.level == "notice"]
    assert len([item for item in notices if "description" in item.message]) == 9


def test_annotations_point_at_the_line_where_the_address_is_written(
    eighty: Path,
) -> None:
    run = run_step(eighty)

    first = run.commands[0]
    assert first.properties["file"] == "infra/main.tf"
    assert (first.properties["line"], first.properties["endLine"]) == ("5", "8")
    assert first.properties["title"].startswith("critical: kms_key_deletion_scheduled")
    assert 'aws_kms_key.k["n00"]' in first.message
    assert f"key/{KEYS[0]}" in first.message


def test_the_outputs_count_every_priority_and_name_the_highest(eighty: Path) -> None:
    run = run_step(eighty)

    expected = {priority: "0" for priority in PRIORITIES}
    expected.update(critical="5", error="35", warning="20", notice="20")
    report = run.outputs.pop("report")
    assert run.outputs == {
        "findings": "80",
        **expected,
        "highest": "critical",
        "waived": "0",
        "gating": "40",
        "complete": "true",
    }
    assert report.endswith("/runner/tfdrift-hook/check-report.md")


def test_the_log_line_counts_what_was_found_and_left_out(eighty: Path) -> None:
    run = run_step(eighty)

    assert run.plain == [
        "tfdrift-hook check: 80 findings (5 critical, 35 error, 20 warning, 20 "
        "notice); 29 annotated; 51 more in the job summary. 40 at or above "
        "--fail-on error: this run is stopped (exit 1)."
    ]


def test_a_second_step_of_the_job_gets_what_is_left_of_the_job_limit(
    eighty: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = run_step(eighty)
    monkeypatch.setenv("GITHUB_ACTION", "__run_2")
    second = run_step(eighty)

    # 30 written by the first step leave 20 of the job's 50: 10 errors, then the
    # notice takes the last warning's place.
    assert len(first.stdout.splitlines()) - len(first.plain) == 30
    assert second.levels() == {"error": 10, "warning": 9, "notice": 1}
    assert second.commands[-1].message.startswith("61 more findings")


def test_the_same_step_reporting_again_writes_no_annotation_past_the_limit(
    eighty: Path,
) -> None:
    run_step(eighty)
    again = run_step(eighty)

    assert again.commands == []
    assert "0 annotated; 80 more in the job summary" in again.plain[0]


def test_outside_a_runner_the_limits_hold_for_each_report(
    eighty: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("RUNNER_TEMP", "GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT"):
        monkeypatch.delenv(name)

    run = run_step(eighty)

    assert run.levels() == {"error": 10, "warning": 10, "notice": 10}
    assert "--format text" in run.commands[-1].message
    assert run.summary == "" and run.outputs == {}


def test_without_a_format_github_is_the_default_inside_actions(eighty: Path) -> None:
    run = run_step(eighty)

    assert run.commands and run.plain[0].startswith("tfdrift-hook check: 80 findings")


def test_the_job_summary_is_appended_after_what_the_step_wrote(eighty: Path) -> None:
    wait_for_markdown()
    summary_file(eighty).write_text("## Earlier step\n", encoding="utf-8")

    run = run_step(eighty)

    assert run.summary.startswith("## Earlier step\n")
    assert KEYS[19] in run.summary  # the last key's findings: the report is whole
    assert 'aws_kms_key.k[\\"n19\\"]' in run.summary or "n19" in run.summary


# -- hostile strings -------------------------------------------------------------------

#: What someone outside the pipeline can put in a tag, a description or a name.
HOSTILE = (
    "x\n::error file=evil.tf,line=1::pwned\r\n::warning::%0A%25 ##[error]legacy "
    "[x](http://e) ![i](http://e/i.png) <img src=x onerror=alert(1)> @admins "
    "`code` a|b <!-- c, d: e"
)
#: IAM session names may hold ``=,.@-``; property separators among them.
SESSION = "ops=1,title=x@e.example"
EVIL_KEY = "9999abcd-12ab-34cd-56ef-1234567890ab"
EVIL_ALIAS = "alias/evil::notice::x,y%0A"


@pytest.fixture
def hostile(step: Path) -> Path:
    infra = step / "infra"
    (infra / "main.tf").write_text(
        MAIN_TF + 'resource "aws_kms_alias" "a" {\n  name = "alias/x"\n}\n', "utf-8"
    )
    write_state(
        infra,
        kms_key("k", EVIL_KEY, index="n\n::error::index,key"),
        kms_alias("a", EVIL_ALIAS, EVIL_KEY),
    )
    session = {
        "type": "AssumedRole",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/{SESSION}",
        "accountId": ACCOUNT,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "arn": f"arn:aws:iam::{ACCOUNT}:role/Admin",
                "userName": "Admin",
            },
        },
    }
    agent = "aws-cli/2.15.0\n::error::agent%0D\r##[warning]ua"
    write_records(
        infra,
        "events.json",
        record(
            "UpdateKeyDescription",
            {"keyId": EVIL_KEY, "description": HOSTILE},
            "2026-11-30T10:00:00Z",
            "u1",
            identity=session,
            agent=agent,
        ),
        record(
            "TagResource",
            {"keyId": EVIL_KEY, "tags": [{"tagKey": HOSTILE, "tagValue": HOSTILE}]},
            "2026-11-30T10:01:00Z",
            "t1",
            agent=agent,
        ),
        record(
            "UpdateAlias",
            {"aliasName": EVIL_ALIAS, "targetKeyId": HOSTILE},
            "2026-11-30T10:02:00Z",
            "a1",
        ),
    )
    return step


def test_hostile_values_neither_end_an_annotation_nor_start_a_command(
    hostile: Path,
) -> None:
    run = run_step(hostile)

    lines = run.stdout.split("\n")
    assert all("\r" not in line for line in lines)
    commands = [line for line in lines if line.lstrip().startswith("::")]
    assert len(commands) == len(run.commands) == 3
    for command in run.commands:
        assert command.level in COMMANDS
        assert set(command.properties) <= PROPERTIES
    assert [line for line in run.plain if "::" in line or "##[" in line] == []


def test_hostile_values_read_back_as_they_were_written(hostile: Path) -> None:
    run = run_step(hostile)

    by_rule = {
        command.properties["title"].split(" ")[1]: command for command in run.commands
    }
    described = by_rule["kms_key_description_changed"]
    assert f"description={HOSTILE} user=" in described.message
    assert SESSION in described.message
    address = 'aws_kms_key.k["n\\n::error::index,key"]'
    assert described.properties["title"].endswith(f" on {address}")
    assert f"address: {address}" in described.message
    assert HOSTILE in by_rule["kms_key_tags_changed"].message
    assert EVIL_ALIAS in by_rule["kms_alias_modified"].message
    assert by_rule["kms_alias_modified"].properties["title"].startswith("error: ")


def test_hostile_values_are_escaped_in_the_job_summary(hostile: Path) -> None:
    wait_for_markdown()

    run = run_step(hostile)

    assert "pwned" in run.summary  # the value is shown, made harmless
    for live in ("<img", "<!--", "[x](http://e)", "[i](http", "\n::error", " @admins"):
        assert live not in run.summary


def test_escaping_follows_the_runners_rules() -> None:
    assert escape_data("50% a\r\nb::c,d") == "50%25 a%0D%0Ab::c,d"
    assert escape_property("50% a\r\nb::c,d") == "50%25 a%0D%0Ab%3A%3Ac%2Cd"
    for text in (HOSTILE, "%0A", "%%25", ":,:,\n\r\r\n"):
        assert unescape(escape_data(text), DATA) == text
        assert unescape(escape_property(text), PROPERTY) == text


# -- outputs and the summary's size ----------------------------------------------------


def test_the_report_output_names_a_markdown_report_written_on_the_runner(
    eighty: Path,
) -> None:
    import os

    run = run_step(eighty)

    report = Path(os.environ["RUNNER_TEMP"]) / "tfdrift-hook" / "check-report.md"
    assert run.outputs["report"] == str(report)
    assert run.outputs["findings"] == "80"
    text = report.read_text(encoding="utf-8")
    assert len(text) < 65_536
    assert "80" in text


def test_an_output_value_never_holds_its_own_delimiter() -> None:
    entry = output_entry("report", "one\ntwo")

    header, first, second, delimiter, end = entry.split("\n")
    assert header == f"report<<{delimiter}" and delimiter not in "one\ntwo"
    assert (first, second, end) == ("one", "two", "")
    assert output_entry("gating", "3") == "gating=3\n"


def test_the_summary_stays_under_one_mebibyte_with_multibyte_values(
    step: Path,
) -> None:
    wait_for_markdown()
    infra = step / "infra"
    (infra / "main.tf").write_text(MAIN_TF, encoding="utf-8")
    write_state(infra, kms_key("k", KEYS[0], index="n"))
    summary_file(step).write_text("x" * 300_000, encoding="utf-8")
    wide = "鍵" * 400  # three bytes a character in UTF-8
    events = [
        record(
            "UpdateKeyDescription",
            {"keyId": KEYS[0], "description": f"{wide} {number}"},
            f"2026-11-{1 + number // 1440:02d}T{number // 60 % 24:02d}:"
            f"{number % 60:02d}:00Z",
            f"u{number}",
        )
        for number in range(2000)
    ]
    write_records(infra, "events.json", *events)

    run = run_step(step)

    # 2000 descriptions of 1200 bytes would be 2.4 MB alone.
    assert run.outputs["findings"] == "2000"
    assert 300_000 < run.summary_bytes < 1024 * 1024
    assert wide in run.summary


# -- the action and the example workflow -----------------------------------------------


class _GitHubYaml(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML has no stubs here
    """YAML as GitHub reads it: ``on`` is a key, only true and false are booleans."""


_GitHubYaml.yaml_implicit_resolvers = {
    first: [
        (tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_GitHubYaml.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"), list("tf")
)


def load_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_GitHubYaml)


def vendored_schema(name: str) -> Any:
    vendor = importlib.resources.files("check_jsonschema") / "builtin_schemas"
    return json.loads((vendor / "vendor" / name).read_text(encoding="utf-8"))


def validate(document: Any, schema: Any) -> None:
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [error.message for error in validator.iter_errors(document)]
    assert errors == []


ACTION = PROJECT / "action.yml"
WORKFLOW = PROJECT / "examples" / "github-actions" / "tfdrift.yml"


def test_the_action_validates_against_the_published_schema() -> None:
    validate(load_yaml(ACTION), vendored_schema("github-actions.json"))


def test_the_example_workflow_validates_against_the_published_schema() -> None:
    validate(load_yaml(WORKFLOW), vendored_schema("github-workflows.json"))


def test_the_example_runs_the_action_before_plan_and_after_apply() -> None:
    workflow = load_yaml(WORKFLOW)

    phases = {
        name: [
            step["with"]["phase"]
            for step in job["steps"]
            if step.get("uses", "").endswith("/tfdrift-hook@v0")
        ]
        for name, job in workflow["jobs"].items()
    }
    assert {"pull_request", "push"} <= set(workflow["on"])
    assert phases == {
        "plan": ["pre-plan", "post-plan"],
        "apply": ["pre-apply", "post-apply"],
    }
    runs = [step.get("run", "") for step in workflow["jobs"]["apply"]["steps"]]
    assert any("plan -input=false -out=tfplan" in run for run in runs)
    assert any(run.startswith("terraform apply") for run in runs)


def test_no_input_is_written_into_a_script_of_the_action() -> None:
    steps = load_yaml(ACTION)["runs"]["steps"]

    assert all("${{" not in step["run"] for step in steps)
    outputs = load_yaml(ACTION)["outputs"]
    assert {*PRIORITIES, "findings", "highest", "gating", "complete", "report"} <= set(
        outputs
    )


def test_the_action_passes_hostile_inputs_as_arguments_not_as_shell(
    tmp_path: Path,
) -> None:
    """The run step's script with a stand-in tfdrift-hook that prints its arguments."""
    stand_in = tmp_path / "bin" / "tfdrift-hook"
    stand_in.parent.mkdir()
    stand_in.write_text(
        "#!/usr/bin/env python3\nimport json, sys\nprint(json.dumps(sys.argv[1:]))\n"
        "sys.exit(1)\n",
        encoding="utf-8",
    )
    stand_in.chmod(0o755)
    script = load_yaml(ACTION)["runs"]["steps"][1]["run"]
    output = tmp_path / "output"
    environ = {
        "PATH": f"{stand_in.parent}:{os.environ['PATH']}",
        "GITHUB_OUTPUT": str(output),
        "TFDRIFT_PHASE": "post-plan",
        "TFDRIFT_DIRECTORY": "infra dir",
        "TFDRIFT_EVENTS": "trail/$(touch pwned)\n\n`touch pwned2`.json\n",
        "TFDRIFT_PLAN_JSON": "plan; touch pwned3.json",
        "TFDRIFT_PLAN": "",
        "TFDRIFT_FAIL_ON_INPUT": "warning",
        "TFDRIFT_CONFIG_INPUT": "",
        "TFDRIFT_APPLY_EXIT_CODE": "0",
        "TFDRIFT_ARGS": "--since\n7d",
    }

    done = subprocess.run(
        ["bash", "-c", script],
        env=environ,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 1
    assert json.loads(done.stdout) == [
        "post-plan",
        "--format",
        "github",
        "-C",
        "infra dir",
        "--events",
        "trail/$(touch pwned)",
        "--events",
        "`touch pwned2`.json",
        "--plan-json",
        "plan; touch pwned3.json",
        "--fail-on",
        "warning",
        "--since",
        "7d",
    ]
    assert not list(tmp_path.glob("pwned*"))
    assert output.read_text(encoding="utf-8") == "exit-code=1\n"


def test_the_action_refuses_an_unknown_phase_without_echoing_it(
    tmp_path: Path,
) -> None:
    script = load_yaml(ACTION)["runs"]["steps"][1]["run"]
    environ = {"PATH": os.environ["PATH"], "TFDRIFT_PHASE": "check\n::error::x"}

    done = subprocess.run(
        ["bash", "-c", script], env=environ, capture_output=True, text=True, check=False
    )

    assert done.returncode == 2
    assert "::error" not in done.stdout + done.stderr


def test_a_delimiter_found_in_the_value_is_drawn_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    drawn = iter([uuid.UUID(int=1), uuid.UUID(int=2)])
    monkeypatch.setattr(uuid, "uuid4", lambda: next(drawn))
    value = f"a\ntfdrift_{uuid.UUID(int=1).hex}"

    entry = output_entry("report", value)

    assert entry == f"report<<tfdrift_{uuid.UUID(int=2).hex}\n{value}\n" + (
        f"tfdrift_{uuid.UUID(int=2).hex}\n"
    )
    assert parse_outputs(entry) == {"report": value}


@given(st.text(), st.text(), st.text())
def test_any_text_makes_one_command_that_reads_back_the_same(
    message: str, title: str, file: str
) -> None:
    annotation = Annotation("warning", message, title, file, 3, 9)

    line = annotation.command()

    # What reads back is the text with its invisible characters made visible.
    assert "\n" not in line and "\r" not in line
    assert not any(ord(char) in UNSAFE_CODES for char in line)
    parsed = parse_command(line)
    assert parsed is not None and parsed.level == "warning"
    assert (
        parsed.properties
        == {
            "file": visible(file),
            "line": "3",
            "endLine": "9",
            "title": visible(title),
        }
        or len(message) > github.MAX_MESSAGE
    )
    assert parsed.message == visible(message) or len(message) > github.MAX_MESSAGE


def visible(text: str) -> str:
    """``text`` as an annotation shows it: line breaks kept, the rest escaped."""
    table = visible_escapes()
    del table[ord("\n")], table[ord("\r")]
    return text.translate(table)


def test_a_full_summary_gets_one_line_saying_so_and_never_passes_the_limit(
    eighty: Path,
) -> None:
    wait_for_markdown()
    summary_file(eighty).write_text("x" * 1_040_000, encoding="utf-8")

    first = run_step(eighty)
    summary_file(eighty).write_text("x" * (1024 * 1024 - 10), encoding="utf-8")
    second = run_step(eighty)

    assert first.summary[1_040_000:] == (
        "\ntfdrift-hook check: 80 findings; the step's summary is full, so this "
        "report is left out (see the annotations and the log).\n"
    )
    assert second.summary_bytes == 1024 * 1024 - 10


def test_an_incomplete_check_is_the_first_error_and_complete_is_false(
    step: Path,
) -> None:
    infra = step / "infra"
    write_state(infra, kms_key("k", KEYS[0], index="n"))
    (infra / "events.json").write_text('{"Records": [', encoding="utf-8")

    run = run_step(step)

    assert run.exit_code == 3
    first = run.commands[0]
    assert (first.level, first.properties) == (
        "error",
        {"title": "tfdrift-hook: the check is incomplete"},
    )
    assert "events.json" in first.message
    assert run.outputs["complete"] == "false"
    assert run.plain[0].endswith("INCOMPLETE: some inputs could not be read (exit 3).")

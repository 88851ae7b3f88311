"""Inline waivers: ``tfdrift:ignore`` comments on resource blocks of ``.tf`` files."""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.kms_state import (
    KEY_0987,
    KEY_1234,
    kms_key,
    run_cli,
    write_records,
    write_state,
)
from tests.test_waivers import rotation_disabled
from tfdrift_hook.inline_waivers import inline_waivers, marked_files
from tfdrift_hook.waivers import Waiver

RULES = (
    "kms_key_rotation_disabled",
    "kms_key_tags_changed",
    "kms_key_disabled",
    "kms_alias_modified",
)


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def read(directory: Path) -> tuple[list[Waiver], list[str]]:
    return inline_waivers(directory, rule_names=RULES)


# -- where a marker is written -------------------------------------------------------


def test_a_marker_right_above_a_resource_block_waives_its_rule_there(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        "main.tf",
        "# tfdrift:ignore kms_key_rotation_disabled the HSM team rotates it\n"
        'resource "aws_kms_key" "logs" {\n'
        '  description = "logs"\n'
        "}\n",
    )

    waivers, notes = read(tmp_path)

    assert notes == []
    assert waivers == [
        Waiver(
            owner="inline (main.tf:1)",
            reason="the HSM team rotates it",
            expires=None,
            rule="kms_key_rotation_disabled",
            address="aws_kms_key.logs",
            source="main.tf:1",
            inline=True,
        )
    ]


def test_markers_inside_a_block_in_every_comment_form_waive_for_it(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        "kms.tf",
        'resource "aws_kms_key" "app" {\n'
        '  description = "app" // tfdrift:ignore kms_key_tags_changed FinOps tags\n'
        "  /* tfdrift:ignore kms_key_disabled paused for the migration */\n"
        "  lifecycle {\n"
        "    # tfdrift:ignore kms_alias_modified   spaces   collapse\n"
        "  }\n"
        "}\n",
    )

    waivers, notes = read(tmp_path)

    assert notes == []
    assert [(w.rule, w.reason, w.source) for w in waivers] == [
        ("kms_key_tags_changed", "FinOps tags", "kms.tf:2"),
        ("kms_key_disabled", "paused for the migration", "kms.tf:3"),
        ("kms_alias_modified", "spaces collapse", "kms.tf:5"),
    ]
    assert {w.address for w in waivers} == {"aws_kms_key.app"}


def test_a_run_of_comment_lines_still_reaches_the_block_below(tmp_path: Path) -> None:
    write(
        tmp_path,
        "main.tf",
        "# tfdrift:ignore kms_alias_modified the platform team owns the alias\n"
        "# Managed together with the DNS records.\n"
        "/* see the runbook */\n"
        'resource "aws_kms_alias" "app" {\n'
        '  name = "alias/app"\n'
        "}\n",
    )

    waivers, notes = read(tmp_path)

    assert notes == []
    assert [(w.address, w.source) for w in waivers] == [
        ("aws_kms_alias.app", "main.tf:1")
    ]


def test_until_gives_the_expiry_wherever_it_is_among_the_words(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        "main.tf",
        'resource "aws_kms_key" "app" {\n'
        "  # tfdrift:ignore kms_key_disabled until=2026-03-31 paused for the move\n"
        "}\n",
    )

    waivers, notes = read(tmp_path)

    assert notes == []
    assert waivers[0].expires == datetime.date(2026, 3, 31)
    assert waivers[0].reason == "paused for the move"


def test_a_rule_glob_that_matches_a_rule_in_force_is_kept(tmp_path: Path) -> None:
    write(
        tmp_path,
        "main.tf",
        '# tfdrift:ignore kms_key_* sandbox key\nresource "aws_kms_key" "s" {}\n',
    )

    waivers, notes = read(tmp_path)

    assert notes == []
    assert waivers[0].rule == "kms_key_*"


def test_without_rule_names_the_built_in_rules_are_the_known_ones(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        "main.tf",
        "# tfdrift:ignore kms_key_deletion_scheduled decommissioned on purpose\n"
        'resource "aws_kms_key" "old" {}\n'
        "# tfdrift:ignore my_team_rule not a built-in rule\n"
        'resource "aws_kms_key" "new" {}\n',
    )

    waivers, notes = inline_waivers(tmp_path)

    assert [w.rule for w in waivers] == ["kms_key_deletion_scheduled"]
    assert len(notes) == 1
    assert notes[0].startswith("main.tf:3: tfdrift:ignore names no rule in force")


# -- markers that waive nothing ------------------------------------------------------

MALFORMED = [
    pytest.param(
        "# tfdrift:ignore\n",
        "main.tf:1: tfdrift:ignore names no rule, so it waives nothing; write `# "
        "tfdrift:ignore RULE reason [until=YYYY-MM-DD]`",
        id="no rule",
    ),
    pytest.param(
        "# tfdrift:ignore kms_key_rotation_disabled\n",
        "main.tf:1: tfdrift:ignore gives no reason to ignore kms_key_rotation_disabled",
        id="no reason",
    ),
    pytest.param(
        "# tfdrift:ignore kms_key_rotation_disabled until=2026-01-01\n",
        "main.tf:1: tfdrift:ignore gives no reason to ignore kms_key_rotation_disabled",
        id="only a date",
    ),
    pytest.param(
        "# tfdrift:ignore kms_key_rotaton_disabled typo in the name\n",
        "main.tf:1: tfdrift:ignore names no rule in force (kms_key_rotaton_disabled), "
        "so it waives nothing; did you mean kms_key_rotation_disabled? "
        "`tfdrift-hook rules list` names the rules in force",
        id="unknown rule",
    ),
    pytest.param(
        "# tfdrift:ignore kms_key_disabled paused until=2026-02-30\n",
        "main.tf:1: tfdrift:ignore until=2026-02-30 is not a date, so it waives "
        "nothing; write until=YYYY-MM-DD, the last day it waives",
        id="no such day",
    ),
    pytest.param(
        "# tfdrift:ignore kms_key_disabled paused until=31.12.2026\n",
        "main.tf:1: tfdrift:ignore until=31.12.2026 is not a date",
        id="not ISO",
    ),
    pytest.param(
        "# tfdrift:ignore kms_key_disabled paused until=2026-W01-1\n",
        "main.tf:1: tfdrift:ignore until=2026-W01-1 is not a date, so it waives "
        "nothing; write until=YYYY-MM-DD, the last day it waives",
        id="week date",
    ),
    pytest.param(
        # Brackets are literal in waivers: no rule is named kms_key_[dt]*, though
        # fnmatch would take [dt] as a class and match kms_key_disabled.
        "# tfdrift:ignore kms_key_[dt]* paused\n",
        "main.tf:1: tfdrift:ignore names no rule in force (kms_key_[dt]*), so it "
        "waives nothing",
        id="brackets",
    ),
    pytest.param(
        "# tfdrift:ignore kms_key_disabled x until=2026-01-01 until=2026-02-01\n",
        "main.tf:1: tfdrift:ignore gives until= more than once, so it waives "
        "nothing; keep one date",
        id="two dates",
    ),
    pytest.param(
        "# tfdrift:ignore * the whole block\n",
        "main.tf:1: tfdrift:ignore waives every rule of the block (*), so it waives "
        "nothing; name the rule",
        id="every rule",
    ),
    pytest.param(
        "# see tfdrift:ignore kms_key_disabled paused\n",
        "main.tf:1: tfdrift:ignore does not start the comment as tfdrift:ignore",
        id="not first",
    ),
    pytest.param(
        "# tfdrift:ignored kms_key_disabled paused\n",
        "main.tf:1: tfdrift:ignore does not start the comment as tfdrift:ignore",
        id="misspelt marker",
    ),
]


@pytest.mark.parametrize(("marker", "note"), MALFORMED)
def test_a_malformed_marker_is_a_note_naming_its_line_and_the_fix(
    tmp_path: Path, marker: str, note: str
) -> None:
    write(tmp_path, "main.tf", marker + 'resource "aws_kms_key" "app" {}\n')

    waivers, notes = read(tmp_path)

    assert waivers == []
    assert len(notes) == 1
    assert notes[0].startswith(note)


def test_a_blank_line_detaches_a_marker_from_the_block_below(tmp_path: Path) -> None:
    write(
        tmp_path,
        "main.tf",
        '# tfdrift:ignore kms_key_disabled paused\n\nresource "aws_kms_key" "a" {}\n',
    )

    waivers, notes = read(tmp_path)

    assert waivers == []
    assert notes == [
        "main.tf:1: tfdrift:ignore is on no block, so it waives nothing; "
        "put it on a resource block"
    ]


@pytest.mark.parametrize(
    ("block", "kind"),
    [
        ('module "kms" {\n  source = "./kms"\n}\n', "module"),
        ('variable "name" {\n  type = string\n}\n', "variable"),
        ('data "aws_kms_key" "by_alias" {\n  key_id = "alias/app"\n}\n', "data"),
    ],
)
def test_a_marker_on_another_kind_of_block_is_a_note(
    tmp_path: Path, block: str, kind: str
) -> None:
    write(tmp_path, "main.tf", "# tfdrift:ignore kms_key_disabled paused\n" + block)

    waivers, notes = read(tmp_path)

    assert waivers == []
    assert notes == [
        f"main.tf:1: tfdrift:ignore is on a {kind} block, so it waives nothing; "
        "put it on a resource block"
    ]


def test_a_trailing_comment_after_a_block_is_not_taken_for_the_next_one(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        "main.tf",
        'resource "aws_kms_key" "a" {\n'
        "} # tfdrift:ignore kms_key_disabled paused\n"
        'resource "aws_kms_key" "b" {}\n',
    )

    waivers, notes = read(tmp_path)

    # The closing brace's line belongs to block a, so the marker waives for a.
    assert [w.address for w in waivers] == ["aws_kms_key.a"]
    assert notes == []


def test_the_marker_text_inside_strings_and_heredocs_is_no_marker(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        "main.tf",
        'resource "aws_kms_key" "app" {\n'
        '  description = "# tfdrift:ignore kms_key_disabled in a string"\n'
        "  policy = <<EOT\n"
        "// tfdrift:ignore kms_key_disabled in a heredoc\n"
        "EOT\n"
        "}\n",
    )

    assert read(tmp_path) == ([], [])


def test_a_marked_file_python_hcl2_cannot_parse_is_a_note(tmp_path: Path) -> None:
    write(
        tmp_path,
        "main.tf",
        "# tfdrift:ignore kms_key_disabled paused\n"
        'resource "aws_kms_key" "app" {\n'
        "  description = \n"
        "}\n",
    )

    waivers, notes = read(tmp_path)

    assert waivers == []
    assert notes == [
        "main.tf:3: python-hcl2 stopped here, so its tfdrift:ignore comments waive "
        "nothing; fix the file (if `terraform validate` passes, python-hcl2 is wrong)"
    ]


# -- modules --------------------------------------------------------------------------


def test_a_marker_in_a_module_waives_under_every_call_of_it(tmp_path: Path) -> None:
    write(
        tmp_path,
        "main.tf",
        'module "payments" {\n  source = "./modules/kms"\n}\n'
        'module "logs" {\n  source = "./modules/kms"\n}\n',
    )
    write(
        tmp_path,
        "modules/kms/key.tf",
        "# tfdrift:ignore kms_key_tags_changed tags come from the cost tool\n"
        'resource "aws_kms_key" "this" {}\n',
    )

    waivers, notes = read(tmp_path)

    assert notes == []
    assert sorted(w.address or "" for w in waivers) == [
        "module.logs.aws_kms_key.this",
        "module.payments.aws_kms_key.this",
    ]
    assert {w.source for w in waivers} == {"modules/kms/key.tf:1"}


def test_a_glob_matches_a_rule_in_force_as_every_waiver_matches_it(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        "main.tf",
        "# tfdrift:ignore rule[1]_? a rule named with brackets\n"
        'resource "aws_kms_key" "app" {}\n',
    )

    waivers, notes = inline_waivers(tmp_path, rule_names=["rule[1]_a"])

    assert notes == []
    assert [w.rule for w in waivers] == ["rule[1]_?"]


def test_a_marker_in_a_directory_no_module_call_reads_is_a_note(
    tmp_path: Path,
) -> None:
    write(tmp_path, "main.tf", '# module "old" { source = "./old" }\n')
    write(
        tmp_path,
        "old/key.tf",
        '# tfdrift:ignore kms_key_disabled paused\nresource "aws_kms_key" "k" {}\n',
    )

    waivers, notes = read(tmp_path)

    assert waivers == []
    assert len(notes) == 1
    assert notes[0].startswith(
        "old/key.tf:1: tfdrift:ignore is in old, which no module call of the "
        "configuration reads"
    )


def test_real_module_called_nine_times_gets_nine_waivers(
    real_inputs: Path, tmp_path: Path
) -> None:
    # terraform-aws-kms's complete example calls the module at ../.. nine times;
    # the layout of the repository is rebuilt so that the calls reach it.
    module = real_inputs / "hcl" / "terraform-aws-kms"
    for path in module.glob("*.tf"):
        shutil.copy(path, tmp_path / path.name)
    example = tmp_path / "examples" / "complete"
    shutil.copytree(module / "examples-complete", example)
    main = tmp_path / "main.tf"
    lines = main.read_text(encoding="utf-8").splitlines(keepends=True)
    assert lines[17] == 'resource "aws_kms_key" "this" {\n'
    lines.insert(17, "# tfdrift:ignore kms_key_rotation_disabled the owner rotates\n")
    main.write_text("".join(lines), encoding="utf-8")

    waivers, notes = read(example)

    calls = [
        "kms_complete",
        "kms_external",
        "kms_dnssec_signing",
        "kms_default",
        "kms_disabled",
        "kms_primary",
        "kms_replica",
        "kms_primary_external",
        "kms_replica_external",
    ]
    assert notes == []
    assert sorted(w.address or "" for w in waivers) == sorted(
        f"module.{name}.aws_kms_key.this" for name in calls
    )
    assert {w.owner for w in waivers} == {"inline (../../main.tf:18)"}


def test_real_heredoc_closed_with_trailing_blanks_still_gives_the_waiver(
    real_inputs: Path, tmp_path: Path
) -> None:
    text = (real_inputs / "case-22.tf").read_text(encoding="utf-8")
    marker = "# tfdrift:ignore kms_key_policy_modified wildcard reviewed\n"
    write(tmp_path, "main.tf", marker + text)

    waivers, notes = inline_waivers(tmp_path)

    assert notes == []
    assert [(w.rule, w.address) for w in waivers] == [
        ("kms_key_policy_modified", "aws_kms_key.fail_2")
    ]


# -- cost ---------------------------------------------------------------------------


def test_only_files_holding_the_marker_are_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hcl2

    parsed: list[str] = []
    real_parse = hcl2.parses_to_tree

    def counting(text: str) -> object:
        parsed.append(text.splitlines()[0])
        return real_parse(text)

    monkeypatch.setattr(hcl2, "parses_to_tree", counting)
    write(tmp_path, "a.tf", 'resource "aws_kms_key" "a" {}\n')
    write(
        tmp_path,
        "b.tf",
        "# tfdrift:ignore kms_key_disabled x\n" + 'resource "aws_kms_key" "b" {}\n',
    )
    write(tmp_path, "c.tf", 'resource "aws_kms_alias" "c" {}\n')

    waivers, _ = read(tmp_path)

    assert parsed == ["# tfdrift:ignore kms_key_disabled x"]
    assert [w.address for w in waivers] == ["aws_kms_key.b"]


def test_a_configuration_without_markers_parses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hcl2

    def refuse(text: str) -> object:
        raise AssertionError("parsed")

    monkeypatch.setattr(hcl2, "parses_to_tree", refuse)
    write(tmp_path, "main.tf", 'module "m" {\n  source = "./m"\n}\n')
    write(tmp_path, "m/key.tf", 'resource "aws_kms_key" "a" {}\n')

    assert read(tmp_path) == ([], [])


def test_marked_files_follow_local_module_sources_once_each(tmp_path: Path) -> None:
    write(tmp_path, "main.tf", 'module "a" {\n  source = "./m"\n}\n')
    write(tmp_path, "m/main.tf", 'module "loop" {\n  source = "../"\n}\n')
    marked = write(tmp_path, "m/key.tf", "# tfdrift:ignore kms_key_disabled x\n")

    assert marked_files(tmp_path) == [marked]


# -- through the check -------------------------------------------------------------


def test_a_check_shows_the_instance_a_marker_waives_and_it_does_not_gate(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        "main.tf",
        'resource "aws_kms_key" "app" {}\n'
        "\n"
        "# tfdrift:ignore kms_key_rotation_disabled the HSM team rotates it\n"
        'resource "aws_kms_key" "logs" {\n'
        '  for_each = toset(["audit"])\n'
        "}\n",
    )
    state = write_state(tmp_path, kms_key("logs", KEY_0987, index="audit"))
    events = write_records(tmp_path, "events.json", rotation_disabled(key=KEY_0987))

    run = run_cli(
        "check", "-C", tmp_path, "--state", state, "--events", events,
        "--format", "json",
    )  # fmt: skip

    [finding] = run.findings
    assert finding["rule"] == "kms_key_rotation_disabled"
    assert finding["address"] == 'aws_kms_key.logs["audit"]'
    assert finding["waiver"] == {
        "owner": "inline (main.tf:3)",
        "reason": "the HSM team rotates it",
        "expires": None,
        "source": "main.tf:3",
        "rule": "kms_key_rotation_disabled",
        "address": "aws_kms_key.logs",
        "inline": True,
    }
    assert run.exit_code == 0


def module_keys(tmp_path: Path) -> Path:
    """Two calls of one module, its key block marked; the state holds both keys."""
    write(
        tmp_path,
        "main.tf",
        'module "payments" {\n  source = "./modules/kms"\n}\n'
        'module "logs" {\n  source = "./modules/kms"\n}\n',
    )
    write(
        tmp_path,
        "modules/kms/key.tf",
        "# tfdrift:ignore kms_key_rotation_disabled the HSM team rotates it\n"
        'resource "aws_kms_key" "this" {}\n',
    )
    return write_state(
        tmp_path,
        kms_key("this", KEY_1234, module="module.payments"),
        kms_key("this", KEY_0987, module="module.logs"),
    )


def check_with(tmp_path: Path, state: Path, *records: dict[str, Any]) -> Any:
    events = write_records(tmp_path, "events.json", *records)
    return run_cli(
        "check", "-C", tmp_path, "--state", state, "--events", events,
        "--format", "json",
    )  # fmt: skip


def test_a_marker_used_under_one_module_call_is_not_unused_under_the_other(
    tmp_path: Path,
) -> None:
    state = module_keys(tmp_path)

    run = check_with(tmp_path, state, rotation_disabled(key=KEY_1234))

    assert [(f["rule"], f["address"]) for f in run.findings] == [
        ("kms_key_rotation_disabled", "module.payments.aws_kms_key.this")
    ]
    assert run.findings[0]["waiver"]["source"] == "modules/kms/key.tf:1"
    assert run.exit_code == 0


def test_a_marker_unused_under_every_module_call_is_reported_once(
    tmp_path: Path,
) -> None:
    state = module_keys(tmp_path)

    run = check_with(tmp_path, state)

    [unused] = run.findings
    assert unused["rule"] == "tfdrift_waiver_unused"
    assert unused["resource"] == "modules/kms/key.tf:1"
    assert unused["stale_waiver"]["address"] == "module.payments.aws_kms_key.this"

"""Waivers: reading them with their lines, matching findings, expiry, unused ones,
and how every report marks a waived finding."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest

from tests.kms_state import (
    ACCOUNT,
    KEY_0987,
    KEY_1234,
    key_arn,
    kms_key,
    run_cli,
    write_records,
    write_state,
)
from tests.test_reporter_sarif import schema_errors
from tfdrift_hook.actors import Actor
from tfdrift_hook.changes import Change
from tfdrift_hook.events import KmsEvent
from tfdrift_hook.findings import Candidate, Finding
from tfdrift_hook.inventory import ManagedResource
from tfdrift_hook.resolution import Subject, Target
from tfdrift_hook.rules import Rule
from tfdrift_hook.waiver_files import load_waivers, read_waiver_file
from tfdrift_hook.waivers import (
    Waiver,
    apply_waivers,
    parse_day,
    stale_candidates,
)

ALICE_ARN = f"arn:aws:iam::{ACCOUNT}:user/alice"
APP = 'module.kms.aws_kms_key.app["payments"]'
LOGS = "aws_kms_key.logs"
FUTURE = "2099-12-31"
PAST = "2020-01-01"


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


# -- reading ---------------------------------------------------------------------------


def test_a_listed_entry_reads_with_every_part_and_the_line_it_starts_on(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "waivers.yml",
        "# accepted findings\n"
        "- rule: kms_key_rotation_disabled\n"
        "  address: module.kms.*\n"
        "  attribute: enable_key_rotation\n"
        "  actor: alice\n"
        "  owner: team-crypto\n"
        "  reason: >\n"
        "    the HSM team rotates\n"
        "    this key by hand\n"
        "  expires: 2099-12-31\n",
    )

    load = read_waiver_file(path)

    assert load.problems == []
    assert load.waivers == [
        Waiver(
            owner="team-crypto",
            reason="the HSM team rotates this key by hand",
            expires=datetime.date(2099, 12, 31),
            rule="kms_key_rotation_disabled",
            address="module.kms.*",
            attribute="enable_key_rotation",
            actor="alice",
            source=f"{path}:2",
        )
    ]


def test_a_mapping_with_a_waivers_key_reads_like_a_list(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "waivers.yml",
        "waivers:\n"
        "  - event_id: e-1\n"
        "    owner: bob\n"
        "    reason: break-glass drill\n"
        "    expires: '2099-01-02'\n",
    )

    load = read_waiver_file(path)

    assert load.problems == []
    assert [(w.event_id, w.rule, w.expires, w.source) for w in load.waivers] == [
        ("e-1", None, datetime.date(2099, 1, 2), f"{path}:2")
    ]


def test_every_broken_entry_is_a_problem_on_its_line_and_the_good_ones_still_load(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "waivers.yml",
        "- rule: kms_key_disabled\n"  # 1: good
        "  owner: ops\n"
        "  reason: paused\n"
        "  expires: 2099-01-01\n"
        "- rule: kms_key_policy_modified\n"  # 5: no owner, no reason
        "  expires: 2099-01-01\n"
        "- rule: kms_key_disabled\n"  # 7: misspelt key, impossible date
        "  adress: aws_kms_key.logs\n"
        "  owner: ops\n"
        "  reason: paused\n"
        "  expires: 2025-02-30\n"
        "- owner: ops\n"  # 12: neither rule nor event_id, no expiry
        "  reason: all of them\n"
        "- rule: '*'\n"  # 14: every finding
        "  owner: ops\n"
        "  reason: quiet please\n"
        "  expires: 2099-01-01\n"
        "- just text\n",  # 18: not a mapping
    )

    load = read_waiver_file(path)

    assert [w.source for w in load.waivers] == [f"{path}:1"]
    found = [(p.where, p.message) for p in load.problems]
    assert found == [
        (f"{path}:5", "waiver 2 (rule kms_key_policy_modified): no owner"),
        (f"{path}:5", "waiver 2 (rule kms_key_policy_modified): no reason"),
        (f"{path}:8", "waiver 3 (rule kms_key_disabled): unknown key 'adress'"),
        (
            f"{path}:11",
            "waiver 3 (rule kms_key_disabled): expires '2025-02-30' is not a date",
        ),
        (f"{path}:12", "waiver 4: no expires date"),
        (f"{path}:12", "waiver 4: names neither a rule nor an event_id"),
        (f"{path}:14", "waiver 5 (rule *): waives every finding"),
        (f"{path}:18", "waiver 6 is not a mapping"),
    ]
    assert load.problems[2].fix.startswith("did you mean address?")
    assert all("waives nothing until it is fixed" in p.fix for p in load.problems)


@pytest.mark.parametrize(
    "narrower",
    ["  address: '*'\n", "  actor: '?*'\n", "  address: '*'\n  attribute: '*'\n"],
)
def test_wildcards_alone_narrow_nothing_so_rule_star_still_waives_everything(
    tmp_path: Path, narrower: str
) -> None:
    path = write(
        tmp_path,
        "w.yml",
        "- rule: '*'\n"
        + narrower
        + "  owner: ops\n  reason: quiet please\n  expires: 2099-01-01\n",
    )

    load = read_waiver_file(path)

    assert load.waivers == []
    assert [p.message for p in load.problems] == [
        "waiver 1 (rule *): waives every finding"
    ]


def test_rule_star_on_one_address_is_a_waiver(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "w.yml",
        "- rule: '*'\n  address: aws_kms_key.sandbox\n"
        "  owner: ops\n  reason: a scratch key\n  expires: 2099-01-01\n",
    )

    load = read_waiver_file(path)

    assert load.problems == []
    assert [w.address for w in load.waivers] == ["aws_kms_key.sandbox"]


def test_a_file_that_cannot_be_read_is_one_problem_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yml"
    broken = write(tmp_path, "broken.yml", "- rule: a\n  owner: [x\n")

    load = load_waivers([missing, broken], None)

    assert load.waivers == []
    assert [p.where for p in load.problems] == [str(missing), f"{broken}:3"]
    assert "cannot read waiver file" in load.problems[0].message
    assert "not valid YAML" in load.problems[1].message


def test_other_keys_are_refused_in_a_waiver_file_but_not_in_the_config(
    tmp_path: Path,
) -> None:
    entry = "waivers:\n- rule: r\n  owner: o\n  reason: why\n  expires: 2099-01-01\n"
    waivers = write(tmp_path, "waivers.yml", f"fail_on: error\n{entry}")
    config = write(tmp_path, ".tfdrift.yml", f"fail_on: error\n{entry}")

    refused = read_waiver_file(waivers)
    accepted = read_waiver_file(config, in_config=True)

    assert [p.message for p in refused.problems] == ["unknown top-level key(s) fail_on"]
    assert [w.source for w in accepted.waivers] == [f"{config}:3"]


def test_a_key_given_twice_a_merge_key_and_a_list_key_are_each_a_problem(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "w.yml",
        "- rule: kms_key_disabled\n"  # 1
        "  owner: ops\n"
        "  reason: paused\n"
        "  owner: sec\n"  # 4: owner again; YAML would keep sec silently
        "  expires: 2099-01-01\n"
        "- <<: {owner: ops, reason: paused}\n"  # 6
        "  rule: kms_key_disabled\n"
        "  expires: 2099-01-01\n"
        "- ? [a, b]\n"  # 9: a list as a key
        "  : x\n"
        "  rule: kms_key_disabled\n"
        "  owner: ops\n"
        "  reason: paused\n"
        "  expires: 2099-01-01\n",
    )

    load = read_waiver_file(path)

    assert load.waivers == []
    label = "(rule kms_key_disabled)"
    assert [(p.where, p.message, p.fix.partition(";")[0]) for p in load.problems] == [
        (
            f"{path}:4",
            f"waiver 1 {label}: key 'owner' is given twice (line 2 too)",
            "keep one of them",
        ),
        (
            f"{path}:6",
            f"waiver 2 {label}: merge key << is not supported, so the keys it "
            "would merge are not read",
            "write the keys out in the entry",
        ),
        (
            f"{path}:6",
            f"waiver 2 {label}: no owner",
            "say who answers for it (owner: a person or team)",
        ),
        (
            f"{path}:6",
            f"waiver 2 {label}: no reason",
            "say why the finding is accepted (reason: ...)",
        ),
        (
            f"{path}:9",
            f"waiver 3 {label}: unknown key ['a', 'b']",
            "an entry may have: rule, address, attribute, actor, event_id, owner, "
            "reason, expires",
        ),
    ]


def test_a_list_or_mapping_value_is_told_to_be_text_and_a_number_to_be_quoted(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "w.yml",
        "- rule: kms_key_disabled\n"
        "  owner: [ops]\n"  # 2
        "  reason: {why: paused}\n"  # 3
        "  address: 42\n"  # 4
        "  actor: [2025-02-30]\n"  # 5: a list YAML cannot build
        "  expires: 2099-01-01\n",
    )

    load = read_waiver_file(path)

    assert load.waivers == []
    found = [(p.where, p.message.partition(": ")[2], p.fix) for p in load.problems]
    fix = "; this entry waives nothing until it is fixed"
    assert found == [
        (f"{path}:2", "owner must be text, not ['ops']", "write it as text" + fix),
        (
            f"{path}:3",
            "reason must be text, not {'why': 'paused'}",
            "write it as text" + fix,
        ),
        (f"{path}:4", "address must be text, not 42", "quote it" + fix),
        (f"{path}:5", "actor must be text, not [2025-02-30]", "write it as text" + fix),
    ]


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2024-02-29", datetime.date(2024, 2, 29)),
        ("2099-12-31", datetime.date(2099, 12, 31)),
        ("2025-02-29", None),  # not a leap year
        ("2025-W01-1", None),  # fromisoformat reads it as 2024-12-30
        ("20251231", None),  # so does it this, as 2025-12-31
        ("2025-1-31", None),
        (" 2025-01-31", None),
        ("\u0662\u0660\u0662\u0665-01-31", None),  # Arabic-Indic digits
    ],
)
def test_a_day_is_read_only_as_yyyy_mm_dd(text: str, day: datetime.date | None) -> None:
    assert parse_day(text) == day


def test_an_expiry_written_as_a_week_date_is_not_a_date(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "w.yml",
        "- rule: kms_key_disabled\n  owner: ops\n  reason: r\n  expires: 2099-W01-1\n",
    )

    load = read_waiver_file(path)

    assert [(p.where, p.message) for p in load.problems] == [
        (
            f"{path}:4",
            "waiver 1 (rule kms_key_disabled): expires '2099-W01-1' is not a date",
        )
    ]


# -- matching --------------------------------------------------------------------------


def event(event_id: str = "e-1", actor: Actor | None = None) -> KmsEvent:
    return KmsEvent(
        event_id=event_id,
        name="PutKeyPolicy",
        time=datetime.datetime(2026, 11, 30, 10, tzinfo=datetime.timezone.utc),
        region="us-west-2",
        account=ACCOUNT,
        actor=actor or Actor(type="IAMUser", name="alice", arn=ALICE_ARN),
        where="events.json#Records[0]",
    )


def finding(
    rule: str = "kms_key_policy_modified",
    address: str = "aws_kms_key_policy.app",
    related: tuple[KmsEvent, ...] = (),
) -> Finding:
    """A policy finding: its address is the policy's, its key's is aws_kms_key.app."""
    made = event()
    change = Change("policy", "{}", "{}", made, address=address)
    key = ManagedResource(
        "aws_kms_key.app", "aws_kms_key", "us-west-2", ACCOUNT, KEY_1234, None
    )
    target = Target(
        Subject.MANAGED,
        identity=("key", "us-west-2", KEY_1234),
        resource=key,
        arn=key_arn(KEY_1234),
    )
    candidate = Candidate("out_of_band", made, target, [change], list(related))
    return Finding(Rule(rule, "x", "out", "critical", "test"), candidate, "out")


def waiver(**parts: Any) -> Waiver:
    values: dict[str, Any] = {
        "owner": "ops",
        "reason": "why",
        "expires": datetime.date(2026, 12, 3),
        "source": "w.yml:1",
        **parts,
    }
    return Waiver(**values)


TODAY = datetime.date(2026, 12, 3)


@pytest.mark.parametrize(
    "parts",
    [
        {"rule": "kms_key_policy_*"},
        {"rule": "kms_key_policy_modified", "address": "aws_kms_key_policy.*"},
        # the key's own address matches too, though the change is the policy's
        {"rule": "kms_*", "address": "aws_kms_key.app"},
        {"rule": "kms_*", "attribute": "policy"},
        {"rule": "kms_*", "actor": "alice"},
        {"rule": "kms_*", "actor": "arn:aws:iam::*:user/alice"},
        {"event_id": "e-1"},
    ],
)
def test_a_waiver_matches_by_each_part_it_names(parts: dict[str, str]) -> None:
    item = finding()

    waiving = apply_waivers([item], [waiver(**parts)], TODAY)

    assert item.waiver == waiver(**parts)
    assert waiving.unused == [] and waiving.expired == []


@pytest.mark.parametrize(
    "parts",
    [
        {"rule": "kms_key_disabled"},
        {"rule": "kms_*", "address": "aws_kms_key.logs"},
        {"rule": "kms_*", "attribute": "tags"},
        {"rule": "kms_*", "actor": "bob"},
        {"rule": "kms_key_policy_modified", "event_id": "e-2"},
        # a glob is matched whole and with case: KMS_* is not kms_*
        {"rule": "KMS_*"},
    ],
)
def test_a_waiver_that_differs_in_any_part_waives_nothing(
    parts: dict[str, str],
) -> None:
    item = finding()

    waiving = apply_waivers([item], [waiver(**parts)], TODAY)

    assert item.waiver is None
    assert waiving.unused == [waiver(**parts)]


@pytest.mark.parametrize(
    ("pattern", "waived"),
    [
        # brackets are literal, not fnmatch's character classes
        ('module.kms.aws_kms_key_policy.app["payments"]', True),
        ('module.kms.aws_kms_key_policy.app["other"]', False),
        # a resource's address covers every instance of it
        ("module.kms.aws_kms_key_policy.app", True),
        ("module.kms.aws_kms_key_policy.ap", False),
    ],
)
def test_an_address_is_matched_literally_and_covers_its_instances(
    pattern: str, waived: bool
) -> None:
    item = finding(address='module.kms.aws_kms_key_policy.app["payments"]')

    apply_waivers([item], [waiver(rule="kms_*", address=pattern)], TODAY)

    assert (item.waiver is not None) is waived


@pytest.mark.parametrize(
    ("pattern", "waived"),
    [
        # the block in the module's file: every instance of the module and the key
        ("module.kms.aws_kms_key.this", True),
        ('module.kms["eu"].aws_kms_key.this[0]', True),
        ('module.kms["us"].aws_kms_key.this[0]', False),
        ("module.kms.aws_kms_key.other", False),
    ],
)
def test_a_block_address_covers_the_instances_of_its_module_too(
    pattern: str, waived: bool
) -> None:
    item = finding(address='module.kms["eu"].aws_kms_key.this[0]')

    apply_waivers([item], [waiver(rule="kms_*", address=pattern)], TODAY)

    assert (item.waiver is not None) is waived


def test_an_event_id_matches_a_related_event_of_the_finding() -> None:
    item = finding(related=(event("e-9"),))

    apply_waivers([item], [waiver(event_id="e-9")], TODAY)

    assert item.waiver is not None


def test_a_waiver_holds_through_its_expiry_day_and_not_the_day_after() -> None:
    on_the_day, day_after = finding(), finding()
    last_day = waiver(rule="kms_*", expires=datetime.date(2026, 12, 3))

    kept = apply_waivers([on_the_day], [last_day], datetime.date(2026, 12, 3))
    gone = apply_waivers([day_after], [last_day], datetime.date(2026, 12, 4))

    assert on_the_day.waiver == last_day and kept.expired == []
    assert day_after.waiver is None
    assert gone.expired == [last_day] and gone.unused == []


def test_the_first_waiver_marks_the_finding_and_every_matching_one_counts_as_used() -> (
    None
):
    item = finding()
    first = waiver(rule="kms_*", source="w.yml:1")
    second = waiver(rule="kms_key_policy_modified", source="w.yml:6")
    other = waiver(rule="kms_key_disabled", source="w.yml:11")

    waiving = apply_waivers([item], [first, second, other], TODAY)

    assert item.waiver == first
    assert waiving.unused == [other]


def test_a_stale_waivers_own_finding_cannot_be_waived() -> None:
    stale = waiver(rule="kms_key_disabled", source="w.yml:1")
    candidate = stale_candidates(
        apply_waivers([], [stale], TODAY),
        ACCOUNT,
        datetime.datetime(2026, 12, 3, tzinfo=datetime.timezone.utc),
    )[0]
    reported = Finding(
        Rule("tfdrift_waiver_unused", "x", "o", "notice", "t"), candidate, "o"
    )

    assert not waiver(rule="*", address="*").matches(reported)
    assert candidate.resource == "w.yml:1"


def copies(source: str = "modules/kms/key.tf:1", **parts: Any) -> list[Waiver]:
    """The waivers one inline marker makes in a module called as a and as b."""
    return [
        waiver(
            rule="kms_key_policy_modified",
            address=f"module.{name}.aws_kms_key_policy.app",
            source=source,
            inline=True,
            **parts,
        )
        for name in ("a", "b")
    ]


def module_finding(call: str) -> Finding:
    return finding(address=f"module.{call}.aws_kms_key_policy.app")


def test_the_copies_of_one_marker_are_used_when_any_copy_matches() -> None:
    marker = copies()
    item = module_finding("b")

    waiving = apply_waivers([item], marker, TODAY)

    assert item.waiver == marker[1]
    assert waiving.unused == []


def test_the_copies_of_one_marker_that_match_nothing_are_one_unused_waiver() -> None:
    first, other = copies(), copies(source="modules/kms/key.tf:7")
    filed = waiver(rule="kms_key_disabled", source="w.yml:1")

    waiving = apply_waivers([], [*first, *other, filed], TODAY)

    assert waiving.unused == [first[0], other[0], filed]


def test_an_expired_marker_in_a_module_called_twice_is_one_finding() -> None:
    marker = copies(expires=datetime.date(2026, 12, 2))
    waiving = apply_waivers([], marker, TODAY)
    now = datetime.datetime(2026, 12, 3, tzinfo=datetime.timezone.utc)

    stand_ins = stale_candidates(waiving, ACCOUNT, now)

    # One marker, one expired waiver: its first copy, under the first call.
    assert [item.event.event_id for item in stand_ins] == [
        "waiver:modules/kms/key.tf:1:module.a.aws_kms_key_policy.app",
    ]


def test_a_file_waiver_s_stand_in_id_is_its_source_alone() -> None:
    filed = waiver(rule="kms_key_disabled", address="aws_kms_key.app", source="w.yml:4")
    now = datetime.datetime(2026, 12, 3, tzinfo=datetime.timezone.utc)

    [stand_in] = stale_candidates(apply_waivers([], [filed], TODAY), ACCOUNT, now)

    assert stand_in.event.event_id == "waiver:w.yml:4"


# -- the check -------------------------------------------------------------------------


def rotation_disabled(event_id: str = "r-1", key: str = KEY_1234) -> dict[str, Any]:
    return {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "arn": ALICE_ARN,
            "accountId": ACCOUNT,
            "userName": "alice",
        },
        "eventTime": "2026-11-30T10:00:00Z",
        "eventSource": "kms.amazonaws.com",
        "eventName": "DisableKeyRotation",
        "awsRegion": "us-west-2",
        "sourceIPAddress": "203.0.113.7",
        "userAgent": "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64",
        "requestParameters": {"keyId": key},
        "responseElements": None,
        "eventID": event_id,
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
    }


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A state of two keys and one out-of-band DisableKeyRotation on the first."""
    write_state(
        tmp_path,
        kms_key("app", KEY_1234, index="payments", module="module.kms"),
        kms_key("logs", KEY_0987),
    )
    write_records(tmp_path, "events.json", rotation_disabled())
    return tmp_path


def entry(rule: str, expires: str, owner: str = "team-crypto", **extra: str) -> str:
    lines = [f"- rule: {rule}", f"  owner: {owner}"]
    lines += ["  reason: the HSM team rotates it", f"  expires: {expires}"]
    lines += [f"  {key}: {value}" for key, value in extra.items()]
    return "\n".join(lines) + "\n"


def check(workdir: Path, *extra: str | Path, report: str = "json") -> Any:
    return run_cli(
        "check",
        "-C",
        workdir,
        "--state",
        workdir / "terraform.tfstate",
        "--events",
        workdir / "events.json",
        "--format",
        report,
        *extra,
    )


ROTATION_WAIVER = entry("kms_key_rotation_disabled", FUTURE, address="module.kms.*")


def test_a_waived_finding_is_still_reported_with_its_waiver_and_does_not_gate(
    workdir: Path,
) -> None:
    path = write(workdir, ".tfdrift-waivers.yml", ROTATION_WAIVER)

    run = check(workdir)

    assert run.exit_code == 0
    [line] = run.findings
    assert line["rule"] == "kms_key_rotation_disabled"
    assert line["address"] == APP
    assert line["waiver"] == {
        "owner": "team-crypto",
        "reason": "the HSM team rotates it",
        "expires": FUTURE,
        "source": f"{path}:1",
        "rule": "kms_key_rotation_disabled",
        "address": "module.kms.*",
    }


def test_the_text_report_says_who_waived_it_until_when_and_counts_it_apart(
    workdir: Path,
) -> None:
    path = write(workdir, ".tfdrift-waivers.yml", ROTATION_WAIVER)

    run = check(workdir, report="text")

    lines = run.stdout.splitlines()
    header = next(line for line in lines if "kms_key_rotation_disabled" in line)
    assert header.endswith("(waived)")
    assert (
        f"    waived: by team-crypto until {FUTURE}: the HSM team rotates it "
        f"({path}:1)" in lines
    )
    assert "0 findings (none), 1 waived." in lines
    assert "Nothing at or above --fail-on error (exit 0)." in lines


def test_an_expired_waiver_waives_nothing_and_is_a_warning_at_its_line(
    workdir: Path,
) -> None:
    path = write(
        workdir, "w.yml", "# kept for the audit\n" + entry("kms_key_*", PAST, "bob")
    )

    run = check(workdir, "--waivers", path)

    assert run.exit_code == 1
    by_rule = {line["rule"]: line for line in run.findings}
    assert "waiver" not in by_rule["kms_key_rotation_disabled"]
    expired = by_rule["tfdrift_waiver_expired"]
    assert expired["priority"] == "warning"
    assert expired["status"] == "waiver_expired"
    assert expired["user"] == "bob"
    assert expired["output"] == (
        f"Waiver Expired (source={path}:2 owner=bob expired={PAST} rule=kms_key_* "
        "address=<NA> reason=the HSM team rotates it)"
    )
    assert expired["location"] == {
        "file": str(path.resolve()),
        "line": 2,
        "end_line": 2,
    }


def test_a_waiver_that_matches_nothing_is_a_notice(workdir: Path) -> None:
    write(workdir, ".tfdrift-waivers.yml", ROTATION_WAIVER)
    unused = write(
        workdir, "more.yml", entry("kms_key_deletion_scheduled", FUTURE, "carol")
    )

    run = check(workdir, "--waivers", unused)

    assert run.exit_code == 0
    stale = [line for line in run.findings if line["rule"].startswith("tfdrift_")]
    assert [(line["rule"], line["priority"], line["user"]) for line in stale] == [
        ("tfdrift_waiver_unused", "notice", "carol")
    ]
    assert stale[0]["output"] == (
        f"Waiver Matched Nothing (source={unused}:1 owner=carol "
        f"rule=kms_key_deletion_scheduled address=<NA> expires={FUTURE})"
    )


def test_a_broken_entry_makes_the_run_incomplete_and_waives_nothing(
    workdir: Path,
) -> None:
    write(
        workdir,
        ".tfdrift-waivers.yml",
        entry("kms_key_rotation_disabled", FUTURE, adress="module.kms.*"),
    )

    run = check(workdir, report="text")

    assert run.exit_code == 3
    assert "(waived)" not in run.stdout
    assert "unknown key 'adress'" in run.stdout


def test_an_unreadable_named_waiver_file_makes_the_run_incomplete(
    workdir: Path,
) -> None:
    run = check(workdir, "--waivers", workdir / "missing.yml")

    assert run.exit_code == 3


def test_waivers_come_from_the_config_and_the_files_it_names(workdir: Path) -> None:
    write(workdir, "team.yml", ROTATION_WAIVER)
    write(
        workdir,
        ".tfdrift.yml",
        "waiver_files: [team.yml]\n"
        "waivers:\n"
        "  - rule: kms_key_disabled\n"
        "    owner: ops\n"
        "    reason: incident drill\n"
        f"    expires: {FUTURE}\n",
    )

    run = check(workdir)

    assert run.exit_code == 0
    by_rule = {line["rule"]: line for line in run.findings}
    assert by_rule["kms_key_rotation_disabled"]["waiver"]["source"] == (
        f"{workdir / 'team.yml'}:1"
    )
    assert by_rule["tfdrift_waiver_unused"]["resource"] == (
        f"{workdir / '.tfdrift.yml'}:3"
    )


def test_waivers_on_the_command_line_take_the_place_of_waiver_files(
    workdir: Path,
) -> None:
    write(workdir, "team.yml", ROTATION_WAIVER)
    write(workdir, ".tfdrift.yml", "waiver_files: [team.yml]\n")
    other = write(workdir, "other.yml", entry("kms_key_disabled", FUTURE))

    run = check(workdir, "--waivers", other)

    assert run.exit_code == 1
    assert sorted(line["rule"] for line in run.findings) == [
        "kms_key_rotation_disabled",
        "tfdrift_waiver_unused",
    ]


def test_a_rule_file_can_make_an_expired_waiver_stop_the_run(workdir: Path) -> None:
    write(workdir, ".tfdrift-waivers.yml", entry("kms_key_deletion_*", PAST))
    rules = write(
        workdir,
        "strict.yaml",
        "- rule: tfdrift_waiver_expired\n"
        "  condition: status = waiver_expired\n"
        '  output: "Expired waiver at %waiver.source, owner %waiver.owner"\n'
        "  priority: error\n",
    )

    run = check(workdir, "--rules", rules, "--fail-on", "error")

    expired = next(
        line for line in run.findings if line["rule"] == "tfdrift_waiver_expired"
    )
    assert expired["priority"] == "error"
    assert expired["output"] == (
        f"Expired waiver at {workdir / '.tfdrift-waivers.yml'}:1, owner team-crypto"
    )


def test_an_inline_waiver_in_the_configuration_waives_its_address(
    workdir: Path,
) -> None:
    write(
        workdir,
        "main.tf",
        'module "kms" {\n  source = "./kms"\n}\n',
    )
    (workdir / "kms").mkdir()
    write(
        workdir / "kms",
        "main.tf",
        'resource "aws_kms_key" "app" {\n'
        '  for_each = toset(["payments"])\n'
        "  # tfdrift:ignore kms_key_rotation_disabled the HSM team rotates it\n"
        "}\n",
    )

    run = check(workdir)

    assert run.exit_code == 0
    [line] = run.findings
    assert line["waiver"]["inline"] is True
    assert line["waiver"]["rule"] == "kms_key_rotation_disabled"
    assert line["waiver"]["source"].endswith("main.tf:3")


# -- the other reports -----------------------------------------------------------------


def test_sarif_writes_a_waived_finding_as_an_accepted_external_suppression(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_WORKSPACE", str(workdir))
    path = write(workdir, ".tfdrift-waivers.yml", ROTATION_WAIVER)

    run = check(workdir, report="sarif")

    document = json.loads(run.stdout)
    assert schema_errors(document) == []
    [result] = document["runs"][0]["results"]
    [suppression] = result["suppressions"]
    assert suppression["kind"] == "external"
    assert suppression["status"] == "accepted"
    assert suppression["justification"] == (
        f"by team-crypto until {FUTURE}: the HSM team rotates it ({path}:1)"
    )


def test_sarif_writes_an_inline_waiver_as_a_suppression_in_source(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_WORKSPACE", str(workdir))
    write(
        workdir,
        "main.tf",
        "# tfdrift:ignore kms_key_rotation_disabled the HSM team rotates it\n"
        'resource "aws_kms_key" "logs" {}\n',
    )
    write_records(workdir, "events.json", rotation_disabled(key=KEY_0987))

    run = check(workdir, report="sarif")

    document = json.loads(run.stdout)
    assert schema_errors(document) == []
    results = document["runs"][0]["results"]
    [waived] = [item for item in results if "suppressions" in item]
    assert waived["ruleId"] == "kms_key_rotation_disabled"
    assert waived["properties"]["address"] == LOGS
    assert waived["suppressions"][0]["kind"] == "inSource"
    assert waived["suppressions"][0]["justification"] == (
        "by inline (main.tf:1) (no expiry): the HSM team rotates it"
    )


def test_github_shows_a_waived_finding_as_a_notice_that_says_waived(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = workdir / "github-output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    write(workdir, ".tfdrift-waivers.yml", ROTATION_WAIVER)

    run = check(workdir, report="github")

    commands = [line for line in run.stdout.splitlines() if line.startswith("::")]
    assert len(commands) == 1
    assert commands[0].startswith("::notice ")
    assert "title=waived error%3A kms_key_rotation_disabled on " in commands[0]
    assert "waived, so it does not gate: by team-crypto" in commands[0]
    outputs = dict(
        line.split("=", 1) for line in output.read_text().splitlines() if "=" in line
    )
    assert (outputs["findings"], outputs["waived"], outputs["gating"]) == (
        "0",
        "1",
        "0",
    )


def test_markdown_marks_a_waived_finding_in_the_table_and_its_details(
    workdir: Path,
) -> None:
    path = write(workdir, ".tfdrift-waivers.yml", ROTATION_WAIVER)

    run = check(workdir, report="markdown")

    lines = run.stdout.splitlines()
    assert "Findings: none, 1 waived." in lines
    row = next(line for line in lines if line.startswith("| 1 |"))
    assert "| ERROR (waived) | kms_key_rotation_disabled |" in row
    waived = next(line for line in lines if line.startswith("* waived: "))
    assert waived.startswith(f"* waived: by team-crypto until {FUTURE}: ")
    assert waived.endswith(f"{path.name}:1)")


def test_a_stale_waiver_has_one_id_however_the_directory_is_spelt(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(workdir, ".tfdrift-waivers.yml", entry("kms_key_deletion_*", PAST))
    monkeypatch.chdir(workdir)

    ids = []
    for directory in (".", str(workdir)):
        run = run_cli(
            "check",
            "-C",
            directory,
            "--state",
            "terraform.tfstate",
            "--events",
            "events.json",
            "--format",
            "json",
        )
        (expired,) = [
            line for line in run.findings if line["rule"] == "tfdrift_waiver_expired"
        ]
        ids.append(expired["id"])
        # Below the working directory, the file is named from it.
        assert expired["resource"] == ".tfdrift-waivers.yml:1"

    assert ids[0] == ids[1]

"""In band or out of band: the user agent and the principal must both say Terraform."""

from __future__ import annotations

from datetime import datetime, timezone

from tfdrift_hook.actors import Actor, Channel
from tfdrift_hook.events import KmsEvent, Status
from tfdrift_hook.trust import ApplyWindow, Trust

ROLE = "arn:aws:iam::123456789012:role/terraform-ci"
SESSION = "arn:aws:sts::123456789012:assumed-role/terraform-ci/run-7"


def event(channel: str, role_arn: str | None = ROLE, minute: int = 0) -> KmsEvent:
    actor = Actor(
        type="AssumedRole",
        name="run-7",
        channel=channel,
        arn=SESSION,
        role_arn=role_arn,
    )
    moment = datetime(2026, 11, 30, 10, minute, tzinfo=timezone.utc)
    return KmsEvent(
        "e", "PutKeyPolicy", moment, "us-east-1", "123456789012", actor, "t"
    )


def test_terraform_from_a_trusted_role_is_in_band() -> None:
    trust = Trust(principals=("arn:aws:iam::123456789012:role/terraform-*",))

    status = trust.status_of(event(Channel.TERRAFORM), {"aws_kms_key.a"})

    assert status == Status.IN_BAND


def test_a_trusted_role_without_terraforms_agent_is_out_of_band() -> None:
    trust = Trust(principals=(ROLE,))

    assert trust.status_of(event(Channel.CLI), {"aws_kms_key.a"}) == Status.OUT_OF_BAND


def test_terraforms_agent_from_anyone_else_is_terraform_outside_the_pipeline() -> None:
    trust = Trust(principals=("arn:aws:iam::123456789012:role/other",))

    status = trust.status_of(event(Channel.TERRAFORM), {"aws_kms_key.a"})

    assert status == Status.TERRAFORM_OUTSIDE_PIPELINE


def test_the_session_arn_can_be_trusted_too() -> None:
    trust = Trust(principals=("arn:aws:sts::123456789012:assumed-role/terraform-ci/*",))

    assert trust.trusts(event(Channel.TERRAFORM, role_arn=None))


def test_an_apply_window_covers_only_its_time_and_addresses() -> None:
    window = ApplyWindow(
        start=datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc),
        end=datetime(2026, 11, 30, 10, 5, tzinfo=timezone.utc),
        addresses=frozenset({"aws_kms_key.a"}),
    )
    trust = Trust(apply_windows=(window,))

    inside = trust.status_of(event(Channel.TERRAFORM, minute=3), {"aws_kms_key.a"})
    other = trust.status_of(event(Channel.TERRAFORM, minute=3), {"aws_kms_key.b"})
    later = trust.status_of(event(Channel.TERRAFORM, minute=9), {"aws_kms_key.a"})

    assert inside == Status.IN_BAND
    assert other == later == Status.TERRAFORM_OUTSIDE_PIPELINE

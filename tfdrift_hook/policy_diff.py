"""Key policies compared by meaning, and what a change grants or takes away.

KMS hands policies back with statements, principals and actions in any order
and a single value as a string where Terraform wrote a one-element list, so two
texts are compared through a canonical form first. A change is then described
the way a reviewer reads it: which principals gained or lost access, which
statements moved, and whether the account could lose control of the key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tfdrift_hook.errors import TfdriftError

#: A canonical principal block: ``((kind, (value, ...)), ...)``, sorted.
Principals = tuple[tuple[str, tuple[str, ...]], ...]
#: A canonical condition block: ``((operator, ((key, values), ...)), ...)``.
Conditions = tuple[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], ...]

WILDCARD = "*"
ALLOW = "Allow"
DENY = "Deny"
#: The call that lets an administrator repair the policy: losing it locks out.
ADMIN_ACTION = "kms:putkeypolicy"

_ACCOUNT_ID = re.compile(r"\d{12}")
_ROOT_ARN = re.compile(r"arn:[\w-]+:iam::(\d{12}):root")
_STATEMENT_KEYS = {
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
}


class PolicyError(TfdriftError):
    """A key policy that is not valid JSON or not shaped like a policy document."""


@dataclass(frozen=True)
class Statement:
    """One policy statement in canonical form, equal when equal in meaning.

    Every list is a sorted tuple without repeats, a single value is a
    one-element tuple, action names and condition keys are lower-cased (AWS
    matches them without regard to case), and ``Principal: "*"`` is stored as
    ``{"AWS": "*"}``. ``None`` means the element is absent, which is not the
    same as an empty list.
    """

    effect: str | None
    sid: str | None = None
    principal: Principals | None = None
    not_principal: Principals | None = None
    action: tuple[str, ...] | None = None
    not_action: tuple[str, ...] | None = None
    resource: tuple[str, ...] | None = None
    not_resource: tuple[str, ...] | None = None
    condition: Conditions = ()
    #: Elements outside the policy grammar, as canonical JSON: they still count.
    extra: tuple[tuple[str, str], ...] = ()

    @property
    def granted_principals(self) -> tuple[str, ...]:
        """Who the statement applies to; ``NotPrincipal`` reads as everyone (``*``)."""
        if self.not_principal is not None:
            return (WILDCARD,)
        return _principal_values(self.principal)

    def covers_action(self, action: str) -> bool:
        """Whether ``action`` (lower case) falls under the action element."""
        if self.action is not None:
            return any(_action_matches(pattern, action) for pattern in self.action)
        if self.not_action is not None:
            return not any(_action_matches(p, action) for p in self.not_action)
        return False

    @property
    def label(self) -> str:
        """The Sid, or a short description for a statement without one."""
        return self.sid or self.describe()

    def describe(self) -> str:
        effect = self.effect or "(no Effect)"
        if self.action is not None:
            actions = _summary(self.action)
        else:
            actions = f"all actions but {_summary(self.not_action or ())}"

        if self.not_principal is not None:
            spared = _summary(_principal_values(self.not_principal), "nobody")
            whom = f"everyone but {spared}"
        else:
            whom = _summary(_principal_values(self.principal), "nobody")
        return f"{effect} {actions} for {whom}"


@dataclass(frozen=True)
class PolicyDiff:
    """What one key policy change grants and takes away.

    Principals are the strings the policy names (ARNs, account ids, ``*``,
    service principals such as ``logs.amazonaws.com``), sorted.
    ``added_principals`` and ``removed_principals`` count ``Allow`` statements
    only; an ``Allow`` with ``NotPrincipal`` grants nearly everyone, so it
    counts as ``*``. ``Deny`` changes are kept apart in
    ``added_denied_principals`` / ``removed_denied_principals`` (a ``Deny``
    with ``NotPrincipal`` is left out of them: whom it spares cannot be told
    from the policy alone).

    When the policy before the change is unknown, nothing can be called added
    or removed: ``principals`` then lists everything the new policy grants, the
    added, removed and statement lists stay empty, and ``external_principals``,
    ``wildcard_principals``, ``public_grant`` and ``lockout_risk`` are judged
    on the new policy alone. ``principals`` is ``None`` whenever the before
    policy is known.

    Statements are matched by Sid; one without a Sid is matched by its whole
    content, so an edit to it reads as one statement removed and another added.
    """

    added_principals: list[str] = field(default_factory=list)
    removed_principals: list[str] = field(default_factory=list)
    #: Added principals (bare ids or ARNs) of an account other than the key's.
    external_principals: list[str] = field(default_factory=list)
    #: Added principals with a wildcard: ``*``, ``arn:aws:iam::*:root``...
    wildcard_principals: list[str] = field(default_factory=list)
    added_denied_principals: list[str] = field(default_factory=list)
    removed_denied_principals: list[str] = field(default_factory=list)
    added_statements: list[str] = field(default_factory=list)
    removed_statements: list[str] = field(default_factory=list)
    changed_statements: list[str] = field(default_factory=list)
    #: Top-level elements besides the statements that changed: Version, Id.
    changed_fields: list[str] = field(default_factory=list)
    #: A wildcard principal is now allowed by a statement with no Condition.
    public_grant: bool = False
    #: The key's own account no longer surely holds ``kms:PutKeyPolicy``.
    lockout_risk: bool = False
    bypass_lockout_check: bool = False
    principals: list[str] | None = None

    @property
    def before_known(self) -> bool:
        return self.principals is None

    @property
    def is_empty(self) -> bool:
        """No difference in meaning; never true when the policy before is unknown."""
        if not self.before_known:
            return False
        lists = (
            self.added_principals,
            self.removed_principals,
            self.added_denied_principals,
            self.removed_denied_principals,
            self.added_statements,
            self.removed_statements,
            self.changed_statements,
            self.changed_fields,
        )
        return not any(lists)

    def to_json(self) -> dict[str, Any]:
        """The ``changes.policy`` value of a log line, the shared keys first."""
        data: dict[str, Any] = {
            "added_principals": list(self.added_principals),
            "removed_principals": list(self.removed_principals),
            "external_principals": list(self.external_principals),
            "wildcard_principals": list(self.wildcard_principals),
            "added_denied_principals": list(self.added_denied_principals),
            "removed_denied_principals": list(self.removed_denied_principals),
            "added_statements": list(self.added_statements),
            "removed_statements": list(self.removed_statements),
            "changed_statements": list(self.changed_statements),
            "changed_fields": list(self.changed_fields),
            "public_grant": self.public_grant,
            "lockout_risk": self.lockout_risk,
            "bypass_lockout_check": self.bypass_lockout_check,
        }
        if self.principals is not None:
            data["principals"] = list(self.principals)
        return data


def normalize_policy(policy: str | Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The canonical form of a key policy; ``None`` for None or blank text.

    The result has ``Version``, ``Id`` and ``Statement`` (a sorted tuple of
    :class:`Statement`, repeats dropped) plus any other top-level element as
    canonical JSON text. Every value in it is hashable, so equal-in-meaning
    policies give equal dicts. A bare 12-digit account id among AWS principals
    is written as that account's root ARN, which is how KMS stores it.
    """
    document = _load(policy)
    if document is None:
        return None

    partition = _partition_of(document)
    canonical: dict[str, Any] = {
        "Version": _scalar_text(document.get("Version")),
        "Id": _scalar_text(document.get("Id")),
        "Statement": _statements(document.get("Statement"), partition),
    }
    for key in sorted(set(document) - {"Version", "Id", "Statement"}):
        canonical[str(key)] = _canonical_json(document[key])
    return canonical


def policies_equal(
    a: str | Mapping[str, Any] | None, b: str | Mapping[str, Any] | None
) -> bool:
    """True when both policies mean the same (both missing counts as equal)."""
    return normalize_policy(a) == normalize_policy(b)


def diff_policies(
    before: str | Mapping[str, Any] | None,
    after: str | Mapping[str, Any] | None,
    key_account: str | None,
    bypass_lockout_check: bool = False,
) -> PolicyDiff:
    """What changed from ``before`` to ``after`` on a key of ``key_account``.

    ``before`` may be None when the old policy is not known (see
    :class:`PolicyDiff`). Without ``key_account`` no principal can be called
    external, and any account's root counts as the owner when judging the
    lockout risk.
    """
    new = normalize_policy(after)
    if new is None:
        msg = "the policy after the change is missing or blank: nothing to diff"
        raise PolicyError(msg)

    old = normalize_policy(before)
    if old is None:
        return _diff_against_unknown(new, key_account, bypass_lockout_check)

    return _diff_known(old, new, key_account, bypass_lockout_check)


def _diff_known(
    old: dict[str, Any], new: dict[str, Any], key_account: str | None, bypass: bool
) -> PolicyDiff:
    old_statements, new_statements = old["Statement"], new["Statement"]
    old_allowed = _principals_of(old_statements, ALLOW)
    new_allowed = _principals_of(new_statements, ALLOW)
    old_denied = _principals_of(old_statements, DENY)
    new_denied = _principals_of(new_statements, DENY)
    added, removed, changed = _statement_changes(old_statements, new_statements)

    gained = sorted(new_allowed - old_allowed)
    return PolicyDiff(
        added_principals=gained,
        removed_principals=sorted(old_allowed - new_allowed),
        external_principals=_external(gained, key_account),
        wildcard_principals=_wildcards(gained),
        added_denied_principals=sorted(new_denied - old_denied),
        removed_denied_principals=sorted(old_denied - new_denied),
        added_statements=added,
        removed_statements=removed,
        changed_statements=changed,
        changed_fields=sorted(
            k for k in set(old) | set(new) if _field_moved(old, new, k)
        ),
        public_grant=_is_public(new_statements) and not _is_public(old_statements),
        lockout_risk=_loses_control(old_statements, new_statements, key_account),
        bypass_lockout_check=bypass,
    )


def _diff_against_unknown(
    new: dict[str, Any], key_account: str | None, bypass: bool
) -> PolicyDiff:
    statements = new["Statement"]
    granted = sorted(_principals_of(statements, ALLOW))
    return PolicyDiff(
        external_principals=_external(granted, key_account),
        wildcard_principals=_wildcards(granted),
        public_grant=_is_public(statements),
        lockout_risk=not _owner_keeps_control(statements, key_account),
        bypass_lockout_check=bypass,
        principals=granted,
    )


def _field_moved(old: dict[str, Any], new: dict[str, Any], key: str) -> bool:
    return key != "Statement" and old.get(key) != new.get(key)


def _statement_changes(
    old: tuple[Statement, ...], new: tuple[Statement, ...]
) -> tuple[list[str], list[str], list[str]]:
    before, after = _grouped(old), _grouped(new)
    added = {_group_label(after[k]) for k in after.keys() - before.keys()}
    removed = {_group_label(before[k]) for k in before.keys() - after.keys()}
    changed = {
        _group_label(after[k])
        for k in after.keys() & before.keys()
        if after[k] != before[k]
    }
    return sorted(added), sorted(removed), sorted(changed)


def _grouped(statements: Iterable[Statement]) -> dict[object, frozenset[Statement]]:
    # A Sid names a statement across versions; repeated Sids are grouped.
    groups: dict[object, set[Statement]] = {}
    for statement in statements:
        key: object = ("sid", statement.sid) if statement.sid else statement
        groups.setdefault(key, set()).add(statement)
    return {key: frozenset(group) for key, group in groups.items()}


def _group_label(group: frozenset[Statement]) -> str:
    return min(statement.label for statement in group)


def _principals_of(statements: Iterable[Statement], effect: str) -> set[str]:
    found: set[str] = set()
    for statement in statements:
        if statement.effect != effect:
            continue
        if effect == DENY and statement.not_principal is not None:
            continue
        found.update(statement.granted_principals)
    return found


def _external(principals: Iterable[str], key_account: str | None) -> list[str]:
    if key_account is None:
        return []
    return sorted(
        p
        for p in principals
        if not _is_wildcard(p) and _account_of(p) not in (None, key_account)
    )


def _wildcards(principals: Iterable[str]) -> list[str]:
    return sorted(p for p in principals if _is_wildcard(p))


def _is_public(statements: Iterable[Statement]) -> bool:
    return any(
        s.effect == ALLOW
        and not s.condition
        and any(_is_wildcard(p) for p in s.granted_principals)
        for s in statements
    )


def _loses_control(
    old: tuple[Statement, ...], new: tuple[Statement, ...], account: str | None
) -> bool:
    if not _owner_admin(old, account, strict=False):
        return False
    return not _owner_keeps_control(new, account)


def _owner_keeps_control(
    statements: tuple[Statement, ...], account: str | None
) -> bool:
    if not _owner_admin(statements, account, strict=True):
        return False
    return not any(_denies_owner_admin(s, account) for s in statements)


def _owner_admin(
    statements: Iterable[Statement], account: str | None, *, strict: bool
) -> bool:
    # strict: only an unconditional grant is sure to keep the key manageable.
    for statement in statements:
        if statement.effect != ALLOW or (strict and statement.condition):
            continue
        if not statement.covers_action(ADMIN_ACTION):
            continue
        if any(_is_owner(p, account) for p in statement.granted_principals):
            return True
    return False


def _denies_owner_admin(statement: Statement, account: str | None) -> bool:
    if statement.effect != DENY or statement.condition:
        return False
    if not statement.covers_action(ADMIN_ACTION):
        return False
    if statement.not_principal is not None:
        # Everyone but those named is denied: the owner too, unless it is spared.
        spared = _principal_values(statement.not_principal)
        return not any(_is_owner(p, account) for p in spared)
    return any(_is_owner(p, account) for p in statement.granted_principals)


def _is_owner(principal: str, account: str | None) -> bool:
    if principal == WILDCARD:
        return True
    match = _ROOT_ARN.fullmatch(principal)
    if match is None:
        return False
    return account is None or match.group(1) == account


def _is_wildcard(principal: str) -> bool:
    return "*" in principal or "?" in principal


def _account_of(principal: str) -> str | None:
    if _ACCOUNT_ID.fullmatch(principal):
        return principal
    parts = principal.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    return parts[4] or None


# The canonical form: what makes two texts of one policy compare equal.


def _load(policy: str | Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    if policy is None:
        return None

    if isinstance(policy, str):
        if not policy.strip():
            return None
        document = _parse(policy)
    else:
        document = policy

    if not isinstance(document, Mapping):
        msg = f"a key policy must be a JSON object, not {type(document).__name__}"
        raise PolicyError(msg)
    return document


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        msg = (
            f"key policy is not valid JSON: {exc.msg} at line {exc.lineno} "
            f"column {exc.colno} (fix the policy text; KMS only accepts JSON)"
        )
        raise PolicyError(msg) from exc


def _partition_of(document: Mapping[str, Any]) -> str:
    # Bare account ids become root ARNs in the partition the policy uses.
    found = re.search(r'"arn:([\w-]+):', _canonical_json(document.get("Statement")))
    return found.group(1) if found else "aws"


def _statements(value: Any, partition: str) -> tuple[Statement, ...]:
    if value is None:
        return ()

    items = [value] if isinstance(value, Mapping) else value
    if not isinstance(items, list):
        msg = f"Statement must be an object or a list, not {type(value).__name__}"
        raise PolicyError(msg)

    statements = {
        _statement(item, index, partition) for index, item in enumerate(items)
    }
    return tuple(sorted(statements, key=repr))


def _statement(item: Any, index: int, partition: str) -> Statement:
    if not isinstance(item, Mapping):
        msg = f"Statement[{index}] must be an object, not {type(item).__name__}"
        raise PolicyError(msg)

    where = f"Statement[{index}]"
    extra = tuple(
        (str(key), _canonical_json(item[key]))
        for key in sorted(set(item) - _STATEMENT_KEYS, key=str)
    )
    return Statement(
        effect=_scalar_text(item.get("Effect")),
        sid=_scalar_text(item.get("Sid")) or None,
        principal=_principal(item.get("Principal"), f"{where}.Principal", partition),
        not_principal=_principal(
            item.get("NotPrincipal"), f"{where}.NotPrincipal", partition
        ),
        action=_actions(item.get("Action"), f"{where}.Action"),
        not_action=_actions(item.get("NotAction"), f"{where}.NotAction"),
        resource=_values(item.get("Resource"), f"{where}.Resource"),
        not_resource=_values(item.get("NotResource"), f"{where}.NotResource"),
        condition=_conditions(item.get("Condition"), f"{where}.Condition"),
        extra=extra,
    )


def _principal(value: Any, where: str, partition: str) -> Principals | None:
    if value is None:
        return None

    if value == WILDCARD:
        return (("AWS", (WILDCARD,)),)

    if not isinstance(value, Mapping):
        msg = f'{where} must be "*" or an object such as {{"AWS": [...]}}'
        raise PolicyError(msg)

    blocks = []
    for kind, raw in value.items():
        values = _values(raw, f"{where}.{kind}") or ()
        if kind == "AWS":
            values = tuple(sorted({_aws_principal(v, partition) for v in values}))
        blocks.append((str(kind), values))
    return tuple(sorted(blocks))


def _aws_principal(value: str, partition: str) -> str:
    if _ACCOUNT_ID.fullmatch(value):
        return f"arn:{partition}:iam::{value}:root"
    return value


def _actions(value: Any, where: str) -> tuple[str, ...] | None:
    values = _values(value, where)
    if values is None:
        return None
    return tuple(sorted({v.lower() for v in values}))


def _conditions(value: Any, where: str) -> Conditions:
    if value is None:
        return ()

    if not isinstance(value, Mapping):
        raise PolicyError(f"{where} must be an object of operators")

    operators = []
    for operator, tests in value.items():
        if not isinstance(tests, Mapping):
            raise PolicyError(f"{where}.{operator} must be an object of condition keys")
        keys = tuple(
            sorted(
                (str(key).lower(), _condition_values(raw, f"{where}.{operator}.{key}"))
                for key, raw in tests.items()
            )
        )
        operators.append((str(operator), keys))
    return tuple(sorted(operators))


def _condition_values(value: Any, where: str) -> tuple[str, ...]:
    # AWS compares condition values as text: true, "true", ["true"] are one.
    items = value if isinstance(value, list) else [value]
    return tuple(sorted({_condition_text(item, where) for item in items}))


def _condition_text(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    raise PolicyError(f"{where} values must be strings, numbers or booleans")


def _values(value: Any, where: str) -> tuple[str, ...] | None:
    if value is None:
        return None

    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, str) for item in items):
        raise PolicyError(f"{where} must be a string or a list of strings")
    return tuple(sorted({item.strip() for item in items}))


def _principal_values(principals: Principals | None) -> tuple[str, ...]:
    if principals is None:
        return ()
    return tuple(sorted({value for _, values in principals for value in values}))


def _scalar_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip()
    return _canonical_json(value)


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _action_matches(pattern: str, action: str) -> bool:
    # IAM wildcards: * for any run of characters, ? for exactly one.
    regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, action) is not None


def _summary(values: tuple[str, ...], empty: str = "nothing", shown: int = 2) -> str:
    if not values:
        return empty
    text = ", ".join(values[:shown])
    hidden = len(values) - shown
    return f"{text} +{hidden} more" if hidden > 0 else text

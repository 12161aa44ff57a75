"""The contact policy gate: may a case's borrower be contacted at an instant; if not, why and from when.

One pure function, `decide`, serves the eligibility route, the contact route (409 for a contact
being made now) and reported contacts (their violations). The rules are API.md's "Contacts and
the contact policy" and "Holds"; the default policy is US Regulation F's (12 CFR 1006.14(b)).
Counting is per case (per debt): the caller passes the case's own contacts since `at - lookback()`
(14 days covers the default policy), never those of the borrower's other cases, and the holds
active (not lifted) on the case or its borrower.
"""
from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, date, datetime, time, timedelta

from domain.errors import InvalidInput
from domain.local_time import day_start, local_day, next_time_within, wall_clock, zone_named

# §1006.14(b)(2)(i)(A) counts calls in seven consecutive days: the regulation's, not a setting
WINDOW_DAYS = 7


class Channel(str, enum.Enum):
    CALL = "call"
    SMS = "sms"
    EMAIL = "email"
    LETTER = "letter"
    VISIT = "visit"


class Direction(str, enum.Enum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


class Outcome(str, enum.Enum):
    NO_ANSWER = "no_answer"
    VOICEMAIL = "voicemail"
    NOT_CONNECTED = "not_connected"
    WRONG_PARTY = "wrong_party"
    CONVERSATION = "conversation"
    PROMISE_TAKEN = "promise_taken"
    DISPUTE_RAISED = "dispute_raised"
    REFUSED = "refused"
    CEASE_REQUESTED = "cease_requested"

    @property
    def right_party(self) -> bool:
        """Whether the contact reached the person (a conversation with them)."""
        return self in _RIGHT_PARTY


_RIGHT_PARTY = frozenset(Outcome(name) for name in
                         ("conversation", "promise_taken", "dispute_raised", "refused", "cease_requested"))


class HoldType(str, enum.Enum):
    DISPUTE = "dispute"
    CEASE = "cease"
    BANKRUPTCY = "bankruptcy"
    ATTORNEY = "attorney"
    PAUSE = "pause"


class Reason(str, enum.Enum):
    """Why a contact is forbidden; a decision lists its reasons in this order."""

    OUTSIDE_HOURS = "outside_hours"
    CALL_FREQUENCY = "call_frequency"
    AFTER_CONVERSATION = "after_conversation"
    HOLD_DISPUTE = "hold_dispute"
    HOLD_CEASE = "hold_cease"
    HOLD_BANKRUPTCY = "hold_bankruptcy"
    HOLD_ATTORNEY = "hold_attorney"
    HOLD_PAUSE = "hold_pause"


_ORDER = {reason: rank for rank, reason in enumerate(Reason)}
_HOLD_REASON = {hold: Reason("hold_" + hold.value) for hold in HoldType}


@dataclass(frozen=True)
class ContactPolicy:
    """The contact policy's settings (GET/PUT /api/contact-policy, without `by_bank`); checked on creation."""

    timezone_default: str = "America/New_York"
    window_start: time = time(8)
    window_end: time = time(21)
    calls_per_7_days: int = 7
    days_after_conversation: int = 7

    def __post_init__(self):
        _check(asdict(self), set(asdict(self)), prefix="")

    def with_bank_overrides(self, by_bank: Mapping[str, Mapping[str, object]], bank_code: str) -> ContactPolicy:
        """This policy with the bank's overrides applied, or InvalidInput naming each bad `by_bank` field."""
        overrides = dict(by_bank.get(bank_code) or {})
        prefix = f"by_bank.{bank_code}."
        unknown = sorted(set(overrides) - {field.name for field in fields(self)})
        if unknown:
            raise InvalidInput("Unknown contact policy settings",
                               {prefix + name: ["is not a contact policy setting"] for name in unknown})
        _check({**asdict(self), **overrides}, set(overrides), prefix=prefix)
        return replace(self, **overrides)


@dataclass(frozen=True)
class PastContact:
    at: datetime  # aware
    channel: Channel
    direction: Direction
    outcome: Outcome


@dataclass(frozen=True)
class ActiveHold:
    type: HoldType
    until: date | None = None  # a pause's last day; other holds last until lifted


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reasons: tuple[Reason, ...]
    next_allowed_at: datetime | None  # None: not until a hold is lifted (or the policy allows no call)


def lookback(policy: ContactPolicy) -> timedelta:
    """How far before `at` the caller must pass the case's contacts for `decide` to see all that counts."""
    # a day more than the rules' local days: across a fall-back, 7 × 24 hours end an hour into a day
    return timedelta(days=max(WINDOW_DAYS, policy.days_after_conversation) + 1)


def decide(policy: ContactPolicy, contacts: Iterable[PastContact], holds: Iterable[ActiveHold],
           timezone: str | None, channel: Channel, at: datetime) -> Decision:
    """Whether an outbound contact on `channel` at instant `at` is allowed, why not, and from when.

    - outside_hours: any channel but letter, while the local clock is before `window_start` or
      at/after `window_end`;
    - call_frequency: a call when `calls_per_7_days` outbound calls (not_connected aside) were
      placed in the seven-day window ending at `at`;
    - after_conversation: a call on local days D … D+N-1 after a right-party call (either
      direction) on local day D, N = `days_after_conversation`;
    - hold_*: any channel, while a hold is active; a pause through its `until` day (local date).

    Local means the case's `timezone` (None: the policy's default). Contacts after `at` are
    ignored: a reported contact is judged by what had happened by then. `next_allowed_at` is the
    earliest instant ≥ `at` at which no reason holds if no other contact is made (`at` itself
    when allowed), None while an indefinite hold (or a limit of 0 calls) forbids it.

    The seven-day window is made of local calendar days: `at`'s day and the six before, up to `at`.
    So counts §1006.14(b)(2)(i)(A) ("more than seven times within seven consecutive days"): its
    commentary places seven calls from Wednesday, April 1 to Tuesday, April 7 and calls again on
    Wednesday, April 8, whatever the first call's hour, where a rolling 168 hours would wait for
    that hour; and so API.md counts the days after a conversation (D … D+6). Checking each call
    against the seven days ending on its day keeps any seven consecutive days within the limit.
    """
    zone, history = _setting(policy, contacts, timezone, at)
    holds = tuple(holds)
    blocking = _blocking(policy, history, holds, zone, channel, at)
    reasons = tuple(sorted(blocking, key=_ORDER.__getitem__))
    instant = at.astimezone(UTC)
    # a fixed point: each step moves to the latest instant at which one reason alone is gone, which
    # no allowed instant precedes; there another may hold (the day after a pause begins at 00:00)
    while blocking:
        if None in blocking.values():
            return Decision(False, reasons, None)
        instant = max(blocking.values())
        blocking = _blocking(policy, history, holds, zone, channel, instant)
    return Decision(not reasons, reasons, instant)


def violations(policy: ContactPolicy, contacts: Iterable[PastContact], holds: Iterable[ActiveHold],
               timezone: str | None, channel: Channel, direction: Direction, at: datetime) -> tuple[Reason, ...]:
    """The rules a contact that happened at `at` broke, in Reason order: `decide`'s reasons for an
    outbound one (`contacts`: the case's others; `holds`: those active at `at`), none for an
    inbound one — the borrower's own call breaks no rule of the collector's."""
    if direction is Direction.INBOUND:
        return ()
    zone, history = _setting(policy, contacts, timezone, at)
    return tuple(sorted(_blocking(policy, history, tuple(holds), zone, channel, at), key=_ORDER.__getitem__))


def _setting(policy, contacts, timezone, at):
    """The borrower's zone and the contacts made by `at`; InvalidInput for an unknown zone or a naive `at`."""
    zone = zone_named(timezone or policy.timezone_default)
    if zone is None:
        raise InvalidInput("Unknown time zone", {"timezone": [f"{timezone!r} is not an IANA time zone name"]})
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInput("A time without offset", {"at": ["must carry a UTC offset"]})
    return zone, [contact for contact in contacts if contact.at <= at]


def _blocking(policy, history, holds, zone, channel, at) -> dict[Reason, datetime | None]:
    """Each reason that forbids the contact at `at`, with the earliest instant it alone is gone."""
    blocking: dict[Reason, datetime | None] = {}
    today = local_day(at, zone)
    if channel is not Channel.LETTER and not policy.window_start <= wall_clock(at, zone) < policy.window_end:
        blocking[Reason.OUTSIDE_HOURS] = next_time_within(at, policy.window_start, policy.window_end, zone)
    if channel is Channel.CALL:
        limit, week = policy.calls_per_7_days, timedelta(days=WINDOW_DAYS)
        counted = sorted((day for contact in history if _counts_as_call(contact)
                          if (day := local_day(contact.at, zone)) > today - week), reverse=True)
        if len(counted) >= limit:
            # the window holds fewer than `limit` calls from the day it leaves the limit-th newest behind
            blocking[Reason.CALL_FREQUENCY] = day_start(counted[limit - 1] + week, zone) if limit else None
        spoken = max((local_day(contact.at, zone) for contact in history
                      if contact.channel is Channel.CALL and contact.outcome.right_party), default=None)
        if spoken is not None and today < (free := spoken + timedelta(days=policy.days_after_conversation)):
            blocking[Reason.AFTER_CONVERSATION] = day_start(free, zone)
    for hold in holds:
        pause = hold.type is HoldType.PAUSE and hold.until is not None
        if pause and today > hold.until:
            continue  # a pause lifts itself once its last day has passed
        ends = day_start(hold.until + timedelta(days=1), zone) if pause else None
        reason = _HOLD_REASON[hold.type]
        known = blocking.get(reason, ends)  # two holds of one type (case and borrower): the later end
        blocking[reason] = None if known is None or ends is None else max(known, ends)
    return blocking


def _counts_as_call(contact: PastContact) -> bool:
    return (contact.channel is Channel.CALL and contact.direction is Direction.OUTBOUND
            and contact.outcome is not Outcome.NOT_CONNECTED)


def _check(values: dict, given: set[str], *, prefix: str) -> None:
    """InvalidInput naming each setting in `values` that is wrong; `given`: the settings set by this change."""
    errors: dict[str, list[str]] = {}
    if zone_named(values["timezone_default"]) is None:
        errors["timezone_default"] = ["is not an IANA time zone name (like America/Chicago)"]
    for name in ("window_start", "window_end"):
        if not isinstance(values[name], time):
            errors[name] = ["must be a time of day (HH:MM)"]
    for name in ("calls_per_7_days", "days_after_conversation"):
        if not isinstance(values[name], int) or isinstance(values[name], bool):
            errors[name] = ["must be a whole number"]
        elif values[name] < 0:
            errors[name] = ["must be 0 or more"]
    start, end = values["window_start"], values["window_end"]
    if not errors.keys() & {"window_start", "window_end"} and start >= end:
        if "window_end" in given:
            errors["window_end"] = [f"must be after window_start ({start:%H:%M})"]
        else:  # a bank that moves only its start is told about its start
            errors["window_start"] = [f"must be before window_end ({end:%H:%M})"]
    if errors:
        raise InvalidInput("Invalid contact policy", {prefix + name: messages for name, messages in errors.items()})

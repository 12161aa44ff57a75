"""The summary's contact figures over the collecting window (API.md "Collection figures"):

- contacts.attempts: outbound contacts made (`at`) in the window; contacts.right_party: those of
  them that reached the person; right_party_rate = right_party / attempts (null with no attempt);
- holds: holds placed in the window, per type (every type, zeros included);
- policy_violations: contacts in the window recorded with at least one rule broken (reported
  ones the policy flagged, and those an admin made against it).

`contacted_in` is the rule; `store.analytics.contact_totals` its set-based twin.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from domain.contact_policy import Direction, HoldType
from domain.contacts import Contact
from domain.holds import Hold

if TYPE_CHECKING:
    from domain.analytics import Window


@dataclass(frozen=True)
class ContactTotals:
    attempts: int = 0
    right_party: int = 0
    violations: int = 0
    holds: dict[HoldType, int] = field(default_factory=dict)


def contacted_in(window: Window, contacts: Iterable[Contact], holds: Iterable[Hold]) -> ContactTotals:
    """The figures of the window from the contacts and holds themselves (the rule)."""
    within = [c for c in contacts if window.has_instant(c.at)]
    outbound = [c for c in within if c.direction is Direction.OUTBOUND]
    return ContactTotals(attempts=len(outbound), right_party=sum(c.right_party for c in outbound),
                         violations=sum(bool(c.policy_violations) for c in within),
                         holds=dict(Counter(h.type for h in holds if window.has_instant(h.created_at))))


def contact_figures(totals: ContactTotals, rate) -> dict:
    """The JSON figures; `rate(part, whole)` the summary's rate rule (null for a zero whole)."""
    return {
        "contacts": {"attempts": totals.attempts, "right_party": totals.right_party,
                     "right_party_rate": rate(totals.right_party, totals.attempts)},
        "holds": {kind.value: totals.holds.get(kind, 0) for kind in HoldType},
        "policy_violations": totals.violations,
    }

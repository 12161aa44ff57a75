"""Reading cases: one case, its history, and the filtered, keyset-paginated listing."""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from domain.cases import Case, CaseStatus, HistoryEntry, Priority, may_handle
from domain.errors import Forbidden, InvalidInput, NotFound
from domain.promises import PromiseStatus
from domain.users import Team
from domain.viewer import Viewer

if TYPE_CHECKING:  # domain.stores speaks of case filters and sorts
    from domain.unit_of_work import UnitOfWork


def _integer(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(value)
    return value


def _money(value) -> Decimal:
    amount = Decimal(str(value))
    if not amount.is_finite():
        raise ValueError(value)
    return amount


def _timestamp(value) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(value)
    return moment


def _priority(value) -> Priority:
    return Priority(value)


# sortable field -> how its value is read back from a cursor. Priority sorts by rank (Low <
# Medium < High < Critical), the order of the database enum, not alphabetically.
SORT_FIELDS = {"id": _integer, "due_amount": _money, "days_past_due": _integer, "updated_at": _timestamp,
               "created_at": _timestamp, "priority": _priority}
SORTS = [f"{sign}{name}" for name in SORT_FIELDS for sign in ("", "-")]


@dataclass(frozen=True)
class CaseSort:
    """An order of the listing: a field, then id in the same direction (so the order is total)."""

    field: str
    descending: bool

    @classmethod
    def parse(cls, text: str) -> CaseSort:
        """`due_amount` or `-due_amount` (descending)."""
        name = text.removeprefix("-")
        if name not in SORT_FIELDS:
            raise InvalidInput(f"cannot sort by {text}", {"sort": [f"one of {', '.join(SORTS)}"]})
        return cls(name, text.startswith("-"))

    def __str__(self) -> str:
        return f"-{self.field}" if self.descending else self.field

    def cursor_key(self, case: Case) -> list:
        """The position after `case`, as JSON-ready values: [sort, sort value, id]."""
        value = getattr(case, self.field)
        if isinstance(value, Priority):
            value = value.value
        elif isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = str(value)
        return [str(self), value, case.id]

    def after(self, key: list | None) -> tuple | None:
        """The typed (sort value, id) of a cursor key made by `cursor_key` for this same sort."""
        if key is None:
            return None
        try:
            name, value, last_id = key
            if name != str(self):
                raise ValueError(name)
            return SORT_FIELDS[self.field](value), _integer(last_id)
        except (ValueError, TypeError, InvalidOperation):
            raise InvalidInput("cursor is not valid for this sort",
                               {"cursor": ["not a cursor this API issued for this sort"]}) from None


@dataclass(frozen=True)
class CaseFilter:
    """The listing's filters; None means "any". `unassigned` False means assigned cases only."""

    assigned_to: int | None = None
    unassigned: bool | None = None
    status: CaseStatus | None = None
    team: Team | None = None
    bank_code: str | None = None
    region: str | None = None
    priority: Priority | None = None
    min_dpd: int | None = None
    max_dpd: int | None = None
    case_id_prefix: str | None = None
    promise: PromiseStatus | None = None  # the status of the case's latest promise
    on_hold: bool | None = None  # an active hold covers the case or its borrower
    borrower: str | None = None  # words of the borrower's name, all of them, any order, any case or accent
    borrower_ref: str | None = None  # the bank's customer id

    def fixes_assignee(self) -> bool:
        """The filter names one assignee (an agent, or nobody): the agent's queue indexes serve it."""
        return self.assigned_to is not None or self.unassigned is True


def borrower_words(text: str) -> list[str]:
    """The words of a name as the borrower filter matches them: letters and digits, any case."""
    return re.findall(r"[^\W_]+", text)


# the statuses `promise=` filters by (a cancelled promise is the agent's, not the borrower's, doing)
PROMISE_FILTERS = (PromiseStatus.OPEN, PromiseStatus.KEPT, PromiseStatus.PARTIAL, PromiseStatus.BROKEN)


def scoped_filter(case_filter: CaseFilter, viewer: Viewer) -> CaseFilter:
    """The filter narrowed to what the viewer may list: an agent sees only its own cases."""
    if case_filter.min_dpd is not None and case_filter.max_dpd is not None \
            and case_filter.min_dpd > case_filter.max_dpd:
        raise InvalidInput("min_dpd is greater than max_dpd", {"min_dpd": ["must not exceed max_dpd"]})
    if case_filter.borrower is not None and not borrower_words(case_filter.borrower):
        raise InvalidInput("borrower holds no word", {"borrower": ["give at least one word of the name"]})
    if case_filter.unassigned and case_filter.assigned_to is not None:
        raise InvalidInput("unassigned=true contradicts assigned_to",
                           {"unassigned": ["cannot be combined with assigned_to"]})
    if viewer.is_admin:
        return case_filter
    if case_filter.assigned_to not in (None, viewer.user_id) or case_filter.unassigned:
        raise Forbidden("agents list only the cases assigned to them")
    return replace(case_filter, assigned_to=viewer.user_id, unassigned=None)


def list_cases(uow: UnitOfWork, viewer: Viewer, case_filter: CaseFilter, sort: CaseSort, *,
               after: tuple | None, limit: int) -> list[Case]:
    """Up to `limit` cases the viewer may see, in `sort` order, strictly after the `after` key."""
    return uow.cases.list(scoped_filter(case_filter, viewer), sort, after=after, limit=limit)


def get_case(uow: UnitOfWork, case_pk: int, viewer: Viewer) -> Case:
    """The case, if the viewer may see it; NotFound otherwise (existence is not leaked)."""
    case = uow.cases.get(case_pk)
    if case is None or not may_handle(viewer, case):
        raise NotFound(f"case {case_pk} not found")
    return case


def locked_case(uow: UnitOfWork, case_pk: int, viewer: Viewer) -> Case:
    """The case, locked until commit, for a change the viewer makes: NotFound when there is none,
    Forbidden when it is not the viewer's (agents change only their own cases)."""
    case = uow.cases.get(case_pk, for_update=True)
    if case is None:
        raise NotFound(f"case {case_pk} not found")
    if not may_handle(viewer, case):
        raise Forbidden(f"case {case_pk} is not assigned to you")
    return case


def case_history(uow: UnitOfWork, case_pk: int, viewer: Viewer) -> list[HistoryEntry]:
    """Every entry of the case (status, assignment, payment, promise), oldest first."""
    get_case(uow, case_pk, viewer)
    return uow.cases.history(case_pk)

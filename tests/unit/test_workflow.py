"""The status workflow and the listing's rules, as plain Python (no database)."""
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domain.case_queries import CaseFilter, CaseSort, scoped_filter
from domain.cases import TRANSITIONS, Case, CaseStatus, Priority, allowed_transitions
from domain.errors import Conflict, Forbidden, InvalidInput
from domain.users import Team
from domain.viewer import Viewer
from domain.workflow import plan_status_change

ADMIN = Viewer(user_id=1, is_admin=True)
AGENT = Viewer(user_id=7, is_admin=False)
NOW = datetime(2026, 11, 28, 4, 41, 12, 123456, tzinfo=UTC)

P, IP, R, E = CaseStatus.PENDING, CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED, CaseStatus.ESCALATED
ALLOWED = {(P, IP), (P, E), (IP, R), (IP, E), (E, IP), (E, R), (R, IP)}
REFUSED = {(a, b) for a in CaseStatus for b in CaseStatus} - ALLOWED


def case(status=CaseStatus.PENDING, due="1500.50", **changes) -> Case:
    values = dict(id=3, case_id="CASE-3", bank_code="SBI", borrower_name="A B", loan_amount=Decimal("9000.00"),
                  due_amount=Decimal(due), days_past_due=12, priority=Priority.HIGH, region="North",
                  team=Team.CALL_CENTER, status=status, assigned_to=AGENT.user_id, amount_recovered=None,
                  version=4, created_at=NOW, updated_at=NOW, resolved_at=None)
    values.update(changes)
    return Case(**values)


def test_the_transition_table_is_exactly_the_contracts_workflow():
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == ALLOWED


@pytest.mark.parametrize(("current", "target"), sorted(ALLOWED - {(R, IP)}))
def test_an_agent_may_make_every_allowed_transition_but_reopening(current, target):
    change = plan_status_change(case(current), target, AGENT, comment="called")
    assert (change.from_status, change.to_status, change.comment) == (current, target, "called")


@pytest.mark.parametrize(("current", "target"), sorted(REFUSED))
def test_every_transition_outside_the_table_is_a_conflict_for_anyone(current, target):
    for actor in (ADMIN, AGENT):
        with pytest.raises(Conflict):
            plan_status_change(case(current), target, actor)


def test_a_refused_transition_lists_the_allowed_ones():
    with pytest.raises(Conflict) as refused:
        plan_status_change(case(CaseStatus.PENDING), CaseStatus.RESOLVED, AGENT)
    assert refused.value.errors == {"status": ["allowed from Pending: In Progress, Escalated"]}
    assert "allowed: In Progress, Escalated" in refused.value.detail


def test_staying_in_the_same_status_is_not_a_transition():
    with pytest.raises(Conflict):
        plan_status_change(case(CaseStatus.IN_PROGRESS), CaseStatus.IN_PROGRESS, ADMIN)


def test_reopening_a_resolved_case_is_for_admins_only():
    resolved = case(CaseStatus.RESOLVED, amount_recovered=Decimal("10.00"), resolved_at=NOW)
    with pytest.raises(Forbidden):
        plan_status_change(resolved, CaseStatus.IN_PROGRESS, AGENT)
    change = plan_status_change(resolved, CaseStatus.IN_PROGRESS, ADMIN)
    assert change.to_status is CaseStatus.IN_PROGRESS
    assert change.settlement == 0 and not change.resolves  # the payments stand


def test_an_agent_is_told_a_resolved_case_allows_it_nothing():
    assert allowed_transitions(CaseStatus.RESOLVED, is_admin=False) == []
    with pytest.raises(Conflict) as refused:
        plan_status_change(case(CaseStatus.RESOLVED), CaseStatus.ESCALATED, AGENT)
    assert refused.value.errors == {"status": ["allowed from Resolved: none"]}


def test_resolving_settles_for_the_due_amount_by_default():
    change = plan_status_change(case(CaseStatus.IN_PROGRESS, due="1500.50"), CaseStatus.RESOLVED, AGENT)
    assert change.resolves and change.settlement == Decimal("1500.50")


@pytest.mark.parametrize("amount", ["0.00", "0.01", "1500.50"])
def test_resolving_accepts_any_amount_from_zero_to_the_due_amount(amount):
    change = plan_status_change(case(CaseStatus.ESCALATED), CaseStatus.RESOLVED, AGENT,
                                amount_recovered=Decimal(amount))
    assert change.settlement == Decimal(amount)  # no payment so far: the settlement is all of it


@pytest.mark.parametrize(("paid", "amount", "settlement"), [
    ("500.00", None, "1000.50"), ("500.00", "500.00", "0"), ("500.00", "500.01", "0.01"), ("1500.50", None, "0"),
])
def test_resolving_settles_only_what_the_payments_so_far_do_not_cover(paid, amount, settlement):
    change = plan_status_change(case(CaseStatus.IN_PROGRESS, amount_recovered=Decimal(paid)), CaseStatus.RESOLVED,
                                AGENT, amount_recovered=None if amount is None else Decimal(amount))
    assert change.settlement == Decimal(settlement)


def test_resolving_for_less_than_the_payments_so_far_is_invalid_input():
    with pytest.raises(InvalidInput) as refused:
        plan_status_change(case(CaseStatus.IN_PROGRESS, amount_recovered=Decimal("500.00")), CaseStatus.RESOLVED,
                           AGENT, amount_recovered=Decimal("499.99"))
    assert refused.value.errors == {"amount_recovered": ["must be at least 500.00, the payments recorded"]}


@pytest.mark.parametrize("amount", ["-0.01", "1500.51", "99999999999.00"])
def test_resolving_refuses_an_amount_outside_zero_to_the_due_amount(amount):
    with pytest.raises(InvalidInput) as refused:
        plan_status_change(case(CaseStatus.IN_PROGRESS), CaseStatus.RESOLVED, AGENT,
                           amount_recovered=Decimal(amount))
    assert "amount_recovered" in refused.value.errors


def test_an_amount_recovered_without_resolving_is_invalid_input():
    with pytest.raises(InvalidInput) as refused:
        plan_status_change(case(CaseStatus.PENDING), CaseStatus.IN_PROGRESS, AGENT,
                           amount_recovered=Decimal("1.00"))
    assert refused.value.errors == {"amount_recovered": ["only accepted with status Resolved"]}


def test_an_agents_listing_is_narrowed_to_its_own_cases():
    assert scoped_filter(CaseFilter(status=CaseStatus.PENDING), AGENT) == \
        CaseFilter(status=CaseStatus.PENDING, assigned_to=AGENT.user_id)
    assert scoped_filter(CaseFilter(assigned_to=AGENT.user_id), AGENT).assigned_to == AGENT.user_id
    assert scoped_filter(CaseFilter(status=CaseStatus.PENDING), ADMIN) == CaseFilter(status=CaseStatus.PENDING)


@pytest.mark.parametrize("wanted", [CaseFilter(assigned_to=8), CaseFilter(unassigned=True)])
def test_an_agent_asking_for_other_cases_is_forbidden(wanted):
    with pytest.raises(Forbidden):
        scoped_filter(wanted, AGENT)


@pytest.mark.parametrize("contradiction", [CaseFilter(min_dpd=10, max_dpd=9),
                                           CaseFilter(unassigned=True, assigned_to=3)])
def test_contradictory_filters_are_invalid_input(contradiction):
    with pytest.raises(InvalidInput):
        scoped_filter(contradiction, ADMIN)


@pytest.mark.parametrize("text", ["id", "-id", "due_amount", "-due_amount", "days_past_due", "-updated_at"])
def test_a_cursor_key_reads_back_as_the_same_typed_position(text):
    sort = CaseSort.parse(text)
    subject = case()
    value, last_id = sort.after(sort.cursor_key(subject))
    assert last_id == subject.id
    assert value == getattr(subject, sort.field)


def test_a_cursor_made_for_another_sort_is_refused():
    key = CaseSort.parse("-due_amount").cursor_key(case())
    with pytest.raises(InvalidInput):
        CaseSort.parse("due_amount").after(key)


@pytest.mark.parametrize("key", [[], ["-due_amount", "NaN", 1], ["-due_amount", "abc", 1],
                                 ["-due_amount", "1.00", "1"], ["-days_past_due", True, 1],
                                 ["-updated_at", "2026-01-01T00:00:00", 1], ["-id", 1, 2, 3], "x"])
def test_a_forged_cursor_key_is_invalid_input(key):
    sort = CaseSort.parse(key[0] if isinstance(key, list) and key else "-due_amount")
    with pytest.raises(InvalidInput):
        sort.after(key)


def test_an_unknown_sort_is_invalid_input():
    with pytest.raises(InvalidInput):
        CaseSort.parse("-borrower_name")

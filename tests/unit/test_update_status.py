"""The update-status use case against the in-memory unit of work."""
from __future__ import annotations

from decimal import Decimal

import pytest

from domain.cases import CaseStatus, HistoryEntry, HistoryKind
from domain.errors import Conflict, Forbidden, NotFound, PreconditionFailed
from domain.events import CasesChanged
from domain.viewer import Viewer
from domain.workflow import update_status

from .fakes import START, FakeUnitOfWork

P, IP, R, E = CaseStatus.PENDING, CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED, CaseStatus.ESCALATED
ADMIN = Viewer(user_id=1, is_admin=True)
AGENT = Viewer(user_id=7, is_admin=False)
OTHER_AGENT = Viewer(user_id=8, is_admin=False)


def test_an_agent_resolves_its_case_and_the_new_version_is_stored_and_committed():
    uow = FakeUnitOfWork()
    case = uow.given_case(IP, assigned_to=AGENT.user_id, due="1500.00")
    uow.advance(60)
    updated = update_status(uow, case.id, AGENT, status=R, amount_recovered=Decimal("1200.00"))
    assert (updated.status, updated.version, updated.amount_recovered) == (R, 2, Decimal("1200.00"))
    assert updated.resolved_at == updated.updated_at == uow.now
    assert uow.cases.get(case.id) == updated and uow.commits == 1


def test_resolving_without_an_amount_records_the_whole_due_amount_as_recovered():
    uow = FakeUnitOfWork()
    case = uow.given_case(E, assigned_to=AGENT.user_id, due="310.25")
    assert update_status(uow, case.id, AGENT, status=R).amount_recovered == Decimal("310.25")


def test_the_change_is_written_to_the_history_with_its_actor_and_comment():
    uow = FakeUnitOfWork()
    case = uow.given_case(P, assigned_to=AGENT.user_id)
    update_status(uow, case.id, AGENT, status=IP, comment="called the borrower")
    assert uow.cases.history(case.id) == [
        HistoryEntry(at=START, by=AGENT.user_id, kind=HistoryKind.STATUS, from_value="Pending",
                     to_value="In Progress", comment="called the borrower"),
    ]


def test_an_admin_reopening_a_resolved_case_clears_its_recovery_and_resolution_time():
    uow = FakeUnitOfWork()
    case = uow.given_case(R, assigned_to=AGENT.user_id, amount_recovered=Decimal("5.00"), resolved_at=START)
    reopened = update_status(uow, case.id, ADMIN, status=IP)
    assert (reopened.status, reopened.amount_recovered, reopened.resolved_at) == (IP, None, None)


def test_a_status_change_publishes_cases_changed_once_it_commits():
    uow = FakeUnitOfWork()
    case = uow.given_case(IP, assigned_to=AGENT.user_id)
    published_before_commit, commit = [], uow.commit

    def watched_commit():
        published_before_commit.append(list(uow.published))
        commit()

    uow.commit = watched_commit
    update_status(uow, case.id, AGENT, status=E)
    assert published_before_commit == [[]] and uow.published == [CasesChanged("status")]


def test_an_unknown_case_is_not_found():
    with pytest.raises(NotFound):
        update_status(FakeUnitOfWork(), 404, ADMIN, status=IP)


def test_an_agent_may_not_change_a_case_assigned_to_another_agent():
    uow = FakeUnitOfWork()
    case = uow.given_case(IP, assigned_to=AGENT.user_id)
    with pytest.raises(Forbidden):
        update_status(uow, case.id, OTHER_AGENT, status=E)


def test_an_admin_may_change_any_case_even_an_unassigned_one():
    uow = FakeUnitOfWork()
    case = uow.given_case(P, assigned_to=None)
    assert update_status(uow, case.id, ADMIN, status=E).status is E


def test_a_stale_if_match_version_fails_the_precondition():
    uow = FakeUnitOfWork()
    case = uow.given_case(IP, assigned_to=AGENT.user_id, version=3)
    with pytest.raises(PreconditionFailed):
        update_status(uow, case.id, AGENT, status=E, if_match=frozenset({1, 2}))
    assert update_status(uow, case.id, AGENT, status=E, if_match=frozenset({2, 3})).version == 4


@pytest.mark.parametrize(("status", "actor", "error"), [
    (R, AGENT, Conflict),  # Pending cannot move to Resolved
    (IP, OTHER_AGENT, Forbidden),
])
def test_a_refused_change_writes_nothing_publishes_nothing_and_commits_nothing(status, actor, error):
    uow = FakeUnitOfWork()
    case = uow.given_case(P, assigned_to=AGENT.user_id)
    with uow, pytest.raises(error):
        update_status(uow, case.id, actor, status=status)
    assert uow.cases.get(case.id) == case and uow.cases.history(case.id) == []
    assert (uow.commits, uow.published) == (0, [])


def test_an_agent_may_not_reopen_a_resolved_case():
    uow = FakeUnitOfWork()
    case = uow.given_case(R, assigned_to=AGENT.user_id)
    with pytest.raises(Forbidden):
        update_status(uow, case.id, AGENT, status=IP)
    assert uow.commits == 0

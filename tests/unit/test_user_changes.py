"""Creating and changing users against the in-memory unit of work."""
from __future__ import annotations

import pytest

from domain.cases import CaseStatus, HistoryEntry, HistoryKind
from domain.errors import Conflict, InvalidInput, NotFound
from domain.events import CasesChanged
from domain.security import verify_password
from domain.users import Role, create_user, update_user

from .fakes import START, FakeUnitOfWork

P, IP, R, E = CaseStatus.PENDING, CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED, CaseStatus.ESCALATED


def test_a_new_user_is_stored_trimmed_with_a_hashed_password_and_committed():
    uow = FakeUnitOfWork()
    user = create_user(uow, email=" Asha@Example.com ", name=" Asha ", password="long enough", role=Role.FIELD_AGENT)
    assert (user.email, user.name, user.role, user.active) == ("Asha@Example.com", "Asha", Role.FIELD_AGENT, True)
    assert verify_password(user.password_hash, "long enough")
    assert uow.users.get(user.id) == user and uow.commits == 1


def test_an_email_already_taken_in_another_case_is_a_conflict():
    uow = FakeUnitOfWork()
    uow.given_user(email="asha@example.com")
    with uow, pytest.raises(Conflict):
        create_user(uow, email="ASHA@example.COM", name="Asha", password="long enough", role=Role.ADMIN)
    assert (uow.users.count(), uow.commits) == (1, 0)


def test_an_email_taken_by_a_concurrent_request_after_the_check_is_a_conflict(monkeypatch):
    uow = FakeUnitOfWork()
    uow.given_user(email="asha@example.com")
    monkeypatch.setattr(uow.users, "get_by_email", lambda email: None)  # the other request had not committed
    with uow, pytest.raises(Conflict):
        create_user(uow, email="Asha@example.com", name="Asha", password="long enough", role=Role.ADMIN)
    assert uow.commits == 0


def test_a_password_too_short_is_invalid_input_and_nothing_is_stored():
    uow = FakeUnitOfWork()
    with uow, pytest.raises(InvalidInput) as refused:
        create_user(uow, email="a@example.com", name="A", password="short", role=Role.ADMIN)
    assert "password" in refused.value.errors
    assert (uow.users.count(), uow.commits) == (0, 0)


def test_a_password_too_short_is_refused_on_update_too():
    uow = FakeUnitOfWork()
    admin, agent = uow.given_user(Role.ADMIN), uow.given_user()
    with uow, pytest.raises(InvalidInput):
        update_user(uow, agent.id, by=admin.id, password="short")
    assert uow.users.get(agent.id) == agent and uow.commits == 0


@pytest.mark.parametrize("change", [{"active": False}, {"role": Role.LEGAL_TEAM}])
def test_an_admin_may_not_deactivate_or_demote_itself(change):
    uow = FakeUnitOfWork()
    admin = uow.given_user(Role.ADMIN)
    with uow, pytest.raises(Conflict):
        update_user(uow, admin.id, by=admin.id, **change)
    assert uow.users.get(admin.id) == admin and uow.commits == 0


def test_changing_an_unknown_user_is_not_found():
    uow = FakeUnitOfWork()
    admin = uow.given_user(Role.ADMIN)
    with pytest.raises(NotFound):
        update_user(uow, 99, by=admin.id, name="Nobody")


def test_deactivating_an_agent_releases_its_open_cases_and_publishes_cases_changed():
    uow = FakeUnitOfWork()
    admin, agent = uow.given_user(Role.ADMIN), uow.given_user()
    working, pending = uow.given_case(IP, assigned_to=agent.id), uow.given_case(P, assigned_to=agent.id)
    resolved = uow.given_case(R, assigned_to=agent.id)
    updated = update_user(uow, agent.id, by=admin.id, active=False)
    assert not updated.active and not uow.users.get(agent.id).active
    for case in (working, pending):
        released = uow.cases.get(case.id)
        assert (released.assigned_to, released.status, released.version) == (None, P, case.version + 1)
    assert uow.cases.get(resolved.id) == resolved
    assert uow.cases.history(working.id) == [
        HistoryEntry(START, admin.id, HistoryKind.ASSIGNMENT, agent.id, None, "agent deactivated"),
        HistoryEntry(START, admin.id, HistoryKind.STATUS, "In Progress", "Pending", "agent deactivated"),
    ]
    assert (uow.published, uow.commits) == ([CasesChanged("agent released")], 1)


def test_an_agent_moved_to_another_team_gives_up_its_cases_with_the_reason():
    uow = FakeUnitOfWork()
    admin, agent = uow.given_user(Role.ADMIN), uow.given_user(Role.CALL_CENTER_AGENT)
    case = uow.given_case(E, assigned_to=agent.id)
    update_user(uow, agent.id, by=admin.id, role=Role.FIELD_AGENT)
    assert uow.cases.get(case.id).assigned_to is None
    assert uow.cases.history(case.id)[0].comment == "agent moved to role field_agent"
    assert uow.published == [CasesChanged("agent released")]


def test_deactivating_an_agent_without_open_cases_commits_but_publishes_nothing():
    uow = FakeUnitOfWork()
    admin, agent = uow.given_user(Role.ADMIN), uow.given_user()
    uow.given_case(R, assigned_to=agent.id)
    update_user(uow, agent.id, by=admin.id, active=False)
    assert (uow.published, uow.commits) == ([], 1)


def test_renaming_an_agent_keeps_its_cases_and_takes_no_assignment_lock():
    uow = FakeUnitOfWork()
    admin, agent = uow.given_user(Role.ADMIN), uow.given_user()
    case = uow.given_case(IP, assigned_to=agent.id)
    assert update_user(uow, agent.id, by=admin.id, name=" Asha K ").name == "Asha K"
    assert uow.cases.get(case.id) == case and uow.assignment.serialized == 0
    assert (uow.published, uow.commits) == ([], 1)

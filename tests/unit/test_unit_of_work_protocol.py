"""The unit of work's protocols and their implementations agree, with no database.

Every store protocol in `domain.stores` is implemented by the class of the same name in store/
(same methods, same parameter names, kinds and optional-ness); `store.uow.UnitOfWork` hands out
those classes; the domain calls on a unit of work only what the protocols declare, and each
declared method is called; the in-memory fake's methods take the same parameters.
"""
from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

import pytest

import store.uow
from domain import stores
from domain.events import CasesChanged
from domain.unit_of_work import UnitOfWork
from store.analytics import AnalyticsStore
from store.assignment import AssignmentStore
from store.cases import CaseStore
from store.contact_policy import ContactPolicyStore
from store.contacts import ContactStore
from store.dialer_logs import DialerLogStore
from store.holds import HoldStore
from store.ingest import IngestStore
from store.jobs import JobStore
from store.payment_files import PaymentFileStore
from store.payments import PaymentStore
from store.promises import PromiseStore
from store.staging import Stager
from store.uploads import Upload, UploadStore
from store.users import UserStore

from .fakes import FakeUnitOfWork

IMPLEMENTATIONS: dict[type, type] = {
    stores.UserStore: UserStore, stores.JobStore: JobStore, stores.UploadStore: UploadStore,
    stores.IngestStore: IngestStore, stores.Stager: Stager, stores.CaseStore: CaseStore,
    stores.AssignmentStore: AssignmentStore, stores.AnalyticsStore: AnalyticsStore, stores.StoredUpload: Upload,
    stores.PaymentStore: PaymentStore, stores.PromiseStore: PromiseStore, stores.PaymentFileStore: PaymentFileStore,
    stores.ContactStore: ContactStore, stores.HoldStore: HoldStore, stores.ContactPolicyStore: ContactPolicyStore,
    stores.DialerLogStore: DialerLogStore,
}
DOMAIN = Path(__file__).resolve().parents[2] / "domain"
# `uow.jobs.get(`, and the job runner's two units of work
_CALL = re.compile(r"\b(?:uow|work|control|_control)\.(\w+)\.(\w+)\(")


def members(cls: type) -> dict[str, object]:
    """The public methods and properties a class body declares."""
    return {name: value for name, value in vars(cls).items()
            if not name.startswith("_") and (inspect.isfunction(value) or isinstance(value, property))}


def shape(function) -> list[tuple]:
    """(name, kind, has a default) of each parameter."""
    return [(p.name, p.kind, p.default is not inspect.Parameter.empty)
            for p in inspect.signature(function).parameters.values()]


def store_protocols() -> dict[str, type]:
    """The unit of work's store attributes and the protocol of each."""
    return {name: getattr(stores, prop.fget.__annotations__["return"]) for name, prop in members(UnitOfWork).items()
            if isinstance(prop, property)}


METHODS = [(protocol, name) for protocol in IMPLEMENTATIONS for name, value in members(protocol).items()
           if inspect.isfunction(value)]


@pytest.mark.parametrize(("protocol", "name"), METHODS, ids=[f"{p.__name__}.{n}" for p, n in METHODS])
def test_each_store_method_of_the_domain_exists_in_the_sql_store_with_the_same_parameters(protocol, name):
    implementation = IMPLEMENTATIONS[protocol]
    assert hasattr(implementation, name), f"{implementation.__qualname__} has no {name}"
    assert shape(getattr(implementation, name)) == shape(getattr(protocol, name))


def test_every_store_protocol_has_its_sql_implementation_listed():
    protocols = {value for value in vars(stores).values() if isinstance(value, type)
                 and getattr(value, "_is_protocol", False) and value.__module__ == stores.__name__}
    assert protocols == set(IMPLEMENTATIONS)


def test_the_stored_upload_has_the_fields_the_domain_reads():
    fields = {f.name for f in dataclasses.fields(Upload)}
    assert set(members(stores.StoredUpload)) <= fields


class _Engine:
    """Just enough of an engine for a unit of work to open and close (no statement runs)."""

    def connect(self):
        return self

    def begin(self):
        return self

    is_active = False

    def close(self) -> None:
        pass


def test_the_sql_unit_of_work_hands_out_every_store_the_protocol_declares():
    with store.uow.UnitOfWork(_Engine()) as uow:
        for name, protocol in store_protocols().items():
            assert isinstance(getattr(uow, name), IMPLEMENTATIONS[protocol]), name
    for name in [*members(UnitOfWork), "__enter__", "__exit__"]:
        if not isinstance(getattr(UnitOfWork, name), property):
            assert shape(getattr(store.uow.UnitOfWork, name)) == shape(getattr(UnitOfWork, name)), name


def test_the_domain_calls_on_a_unit_of_work_only_what_the_protocols_declare():
    protocols = store_protocols()
    undeclared = sorted({f"{path.name}: .{attribute}.{method}(" for path in DOMAIN.glob("*.py")
                         for attribute, method in _CALL.findall(path.read_text())
                         if attribute not in protocols or method not in members(protocols[attribute])})
    assert not undeclared


def test_every_declared_store_method_is_called_somewhere_in_the_domain():
    domain = "".join(path.read_text() for path in DOMAIN.glob("*.py") if path.name != "stores.py")
    unused = [f"{protocol.__name__}.{name}" for protocol, name in METHODS if f".{name}(" not in domain]
    assert not unused


def test_the_fakes_methods_take_the_protocols_parameters():
    uow = FakeUnitOfWork()
    for name, protocol in store_protocols().items():
        fake = type(getattr(uow, name))
        for method, value in members(protocol).items():
            if inspect.isfunction(value) and method in vars(fake):
                assert shape(getattr(fake, method)) == shape(value), f"{fake.__name__}.{method}"


def test_the_fake_publishes_recorded_events_when_it_commits_and_drops_them_when_it_rolls_back():
    uow = FakeUnitOfWork()
    uow.record(CasesChanged("dropped"))
    uow.rollback()
    uow.record(CasesChanged("kept"))
    assert uow.published == []
    uow.commit()
    assert (uow.published, uow.commits) == ([CasesChanged("kept")], 1)


def test_leaving_the_fakes_block_without_a_commit_restores_what_was_committed():
    uow = FakeUnitOfWork()
    user = uow.given_user()
    with uow:
        uow.users.update(user.id, name="Renamed")
        uow.record(CasesChanged("never"))
    assert uow.users.get(user.id) == user and uow.published == []

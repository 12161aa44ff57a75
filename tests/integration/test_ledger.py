"""The ledger's SQL (store/ledger.py) and the promises job's (store/promises.py) held against the
pure rules they implement (domain.payments.status_after_ledger, domain.promises.counts_toward,
kept_threshold, state_of), over tables of cases, on real PostgreSQL."""
from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert, select, text

from domain.cases import CaseStatus
from domain.payments import PAID_IN_FULL, REOPENED_BY_REVERSAL, status_after_ledger
from domain.promises import PromiseStatus, PromiseTerms, counts_toward, kept_threshold, state_of
from store.ledger import apply_ledger
from store.tables import case_status_history, cases_processed, payments, promises

D = Decimal
DUE = D("100.00")
STATUSES = list(CaseStatus)


@pytest.fixture(autouse=True)
def no_payments(engine, clean_db):
    """The ledger starts empty too (the suite's cleanup truncates the cases, not the payments)."""
    with engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE payments RESTART IDENTITY")


def _cases_table() -> list[tuple]:
    """(status, recovered before, delta, resolved by a payment): every status, each side of a zero
    balance after, payments and reversals, cases a payment resolved and cases it did not."""
    rows = []
    for status, before, delta, by_payment in itertools.product(
            STATUSES, (None, D("40.00"), D("100.00")), (D("60.00"), D("0.01"), D("-40.00"), D("-0.01"), D("-100.00")),
            (False, True)):
        after = (before or 0) + delta
        if after < 0 or after > DUE + D("0.01"):
            continue  # no ledger holds a negative sum; a little above due stands for a lowered due amount
        rows.append((status, before, delta, by_payment))
    return rows


def test_the_ledgers_status_moves_are_the_domains_rule_for_every_case_at_once(engine):
    table = _cases_table()
    with engine.begin() as conn:
        ids = [conn.execute(insert(cases_processed).values(
            case_id=f"L-{n}", bank_code="HDFC", borrower_name="B", loan_amount="500.00", due_amount=DUE,
            days_past_due=10, priority="Low", region="North", team="call_center", status=status.value,
            amount_recovered=before, resolved_by_payment=by_payment,
            resolved_at=datetime(2026, 1, 1, tzinfo=UTC) if status is CaseStatus.RESOLVED else None,
        ).returning(cases_processed.c.id)).scalar_one() for n, (status, before, _, by_payment) in enumerate(table)]
        values = ", ".join(f"(CAST({case_pk} AS bigint), CAST({delta} AS numeric))"
                           for case_pk, (_, _, delta, _) in zip(ids, table))
        outcome = apply_ledger(conn, f"SELECT * FROM (VALUES {values}) v(case_pk, delta)", {}, by=None, job_id=None,
                               kept_percent=D(100))
        stored = {row.id: row for row in conn.execute(select(cases_processed).where(cases_processed.c.id.in_(ids)))}
        moves = {row.case_pk: row for row in conn.execute(select(case_status_history))}
    expected_paid_off = expected_reopened = 0
    for case_pk, (status, before, delta, by_payment) in zip(ids, table):
        after = (before or 0) + delta
        move = status_after_ledger(status, DUE - after, resolved_by_payment=by_payment)
        row = stored[case_pk]
        case = (status.value, before, delta, by_payment)
        assert row.amount_recovered == (after or None), case
        assert row.version == 2, case
        if move is None:
            assert (row.status, row.resolved_by_payment) == (status.value, by_payment), case
            assert case_pk not in moves, case
            continue
        assert (row.status, row.resolved_by_payment) == (move.to.value, move.resolved_by_payment), case
        assert (row.resolved_at is not None) is (move.to is CaseStatus.RESOLVED), case
        entry = moves[case_pk]
        assert (entry.from_value, entry.to_value, entry.comment) == (status.value, move.to.value, move.comment), case
        expected_paid_off += move.comment == PAID_IN_FULL
        expected_reopened += move.comment == REOPENED_BY_REVERSAL
    assert (outcome.paid_off, outcome.reopened) == (expected_paid_off, expected_reopened)
    assert expected_paid_off and expected_reopened  # the table has both kinds of moves


def test_without_a_new_version_the_ledger_leaves_the_version_and_updated_at_alone(engine, make_case):
    case_pk = make_case(status="Resolved")
    with engine.begin() as conn:
        before = conn.execute(select(cases_processed).where(cases_processed.c.id == case_pk)).one()
        apply_ledger(conn, "SELECT CAST(:case_pk AS bigint) AS case_pk, CAST(:delta AS numeric) AS delta",
                     {"case_pk": case_pk, "delta": D("30.00")}, by=None, job_id=None, kept_percent=D(100),
                     new_version=False)
        after = conn.execute(select(cases_processed).where(cases_processed.c.id == case_pk)).one()
    assert (after.version, after.updated_at, after.amount_recovered) == (before.version, before.updated_at,
                                                                         D("30.00"))


TAKEN = datetime(2026, 3, 10, 20, 0, tzinfo=UTC)  # 11 March already in Asia/Kolkata


def test_what_counts_toward_a_promise_is_the_domains_rule_whatever_the_sessions_time_zone(engine, make_case):
    case_pk = make_case(due_amount="10000.00")
    candidates = [  # (paid_on, recorded at, amount, reversed)
        (date(2026, 3, 10), TAKEN, "1.00", False),
        (date(2026, 3, 9), TAKEN + timedelta(hours=1), "2.00", False),
        (date(2026, 3, 11), TAKEN + timedelta(days=1), "4.00", False),
        (date(2026, 3, 12), TAKEN - timedelta(seconds=1), "8.00", False),
        (date(2026, 3, 12), TAKEN + timedelta(days=2), "16.00", True),
    ]
    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL TimeZone = 'Asia/Kolkata'")
        promise_id = conn.execute(insert(promises).values(case_pk=case_pk, amount="1000.00", due_date="2026-03-20",
                                                          created_at=TAKEN).returning(promises.c.id)).scalar_one()
        for n, (paid_on, recorded, amount, reversed_) in enumerate(candidates):
            conn.execute(insert(payments).values(case_pk=case_pk, bank_code="HDFC", reference=f"C-{n}", amount=amount,
                                                 paid_on=paid_on, method="transfer", created_at=recorded,
                                                 reversed_at=recorded if reversed_ else None))
        apply_ledger(conn, "SELECT CAST(:case_pk AS bigint) AS case_pk, CAST(0 AS numeric) AS delta",
                     {"case_pk": case_pk}, by=None, job_id=None, kept_percent=D(100))
        paid = conn.execute(select(promises.c.paid).where(promises.c.id == promise_id)).scalar_one()
    expected = sum(D(amount) for paid_on, recorded, amount, reversed_ in candidates
                   if not reversed_ and counts_toward(paid_on, recorded, TAKEN))
    assert paid == expected == D("5.00")


@pytest.mark.parametrize(("amount", "percent"), [("100.01", 50), ("33.33", 33), ("0.05", 10), ("250.00", 100),
                                                 ("0.01", 1)])
def test_the_ledger_keeps_a_promise_exactly_at_the_domains_threshold(engine, make_case, amount, percent):
    threshold = kept_threshold(D(amount), D(percent))
    outcomes = []
    for paid in (threshold - D("0.01"), threshold):
        case_pk = make_case(due_amount="10000.00")
        with engine.begin() as conn:
            conn.execute(insert(promises).values(case_pk=case_pk, amount=amount, due_date="2030-01-01",
                                                 created_at=TAKEN))
            if paid > 0:
                conn.execute(insert(payments).values(case_pk=case_pk, bank_code="HDFC", reference=f"T-{case_pk}",
                                                     amount=paid, paid_on=TAKEN.date(), method="cash",
                                                     created_at=TAKEN))
            kept = apply_ledger(conn, f"SELECT CAST({case_pk} AS bigint) AS case_pk, CAST({paid} AS numeric) AS delta",
                                {}, by=None, job_id=None, kept_percent=D(percent)).promises_kept
            status = conn.execute(select(promises.c.status).where(promises.c.case_pk == case_pk)).scalar_one()
        outcomes.append((kept, status))
    assert outcomes == [(0, "open"), (1, "kept")]


def _promise_table(as_of: date, grace: int) -> list[tuple[str, str, date]]:
    """(amount, paid, due date) around every edge: unpaid, part paid, paid to the threshold; due
    long ago, just past the grace, on its last day of grace, due today, due later."""
    dues = [as_of - timedelta(days=grace + n) for n in (30, 2, 1, 0)] + [as_of, as_of + timedelta(days=3)]
    return [(amount, paid, due) for due in dues
            for amount, paid in (("100.00", "0.00"), ("100.00", "0.01"), ("100.00", "79.99"), ("100.00", "80.00"),
                                 ("100.00", "99.99"), ("100.00", "100.00"), ("100.01", "80.01"))]


@pytest.mark.parametrize(("grace", "percent"), [(2, 100), (0, 80), (5, 80)])
def test_the_promises_job_closes_exactly_what_the_domains_rule_decides_and_only_once(uow, make_case, grace, percent):
    as_of = date(2026, 6, 15)
    table = _promise_table(as_of, grace)
    with uow() as u:
        ids = []
        for amount, paid, due in table:
            case_pk = make_case()
            ids.append(u.connection.execute(insert(promises).values(
                case_pk=case_pk, amount=amount, paid=paid, due_date=due).returning(promises.c.id)).scalar_one())
        u.commit()
        closed = u.promises.close_decided(as_of, grace_days=grace, kept_percent=D(percent))
        again = u.promises.close_decided(as_of, grace_days=grace, kept_percent=D(percent))
        stored = dict(u.connection.execute(text("SELECT id, status::text FROM promises")).all())
    terms = PromiseTerms(grace_days=grace, kept_percent=D(percent))
    expected = [state_of(D(amount), D(paid), due, as_of, terms) for amount, paid, due in table]
    assert [PromiseStatus(stored[promise_id]) for promise_id in ids] == expected
    counted = {status: expected.count(status) for status in set(expected) if status is not PromiseStatus.OPEN}
    assert closed == counted and again == {}
    assert set(counted) == {PromiseStatus.KEPT, PromiseStatus.PARTIAL, PromiseStatus.BROKEN}

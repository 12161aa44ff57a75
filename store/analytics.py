"""Analytics storage: the figures' raw material in one pass over the cases, the window's payments and
promises read through their indexes, and the snapshots."""
from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import ColumnElement, Connection, case, delete, extract, func, insert, literal, select, text, union_all
from sqlalchemy.types import Text

from domain.analytics import Agent, Cell, PaymentTotals, PromiseTotals
from domain.cases import CaseStatus
from domain.contact_figures import ContactTotals
from domain.contact_policy import Direction, HoldType
from domain.jobs import JobType
from domain.promises import PromiseStatus
from domain.routing import Band
from domain.users import TEAM_OF_ROLE, Role, Team
from store import locks
from store.tables import (
    UNFINISHED,
    analytics_snapshots,
    cases_processed,
    contacts,
    holds,
    jobs,
    payments,
    promises,
    users,
)

_AGENT_ROLES = [role.value for role, team in TEAM_OF_ROLE.items() if team is not None]


def _band_of(column, bands: list[tuple[str, int | None]]) -> ColumnElement:
    """The label of the first band whose upper bound holds `column` (the last is unbounded).

    The SQL twin of domain.routing.route: same bands, same first-match order.
    """
    bounded = [(column <= upper, literal(label)) for label, upper in bands[:-1]]
    return case(*bounded, else_=literal(bands[-1][0])) if bounded else literal(bands[-1][0])


class AnalyticsStore:
    def __init__(self, conn: Connection):
        self.conn = conn

    def cells(self, bands: list[Band], buckets) -> list[Cell]:
        """All cases grouped by agent, status, routed team and aging bucket: one scan."""
        c = cases_processed.c
        routed = select(
            c.assigned_to,
            c.status,
            _band_of(c.days_past_due, [(b.team.value, b.max_dpd) for b in bands]).label("team"),
            _band_of(c.days_past_due, list(buckets)).label("bucket"),
            c.due_amount,
            c.amount_recovered,
            # interval arithmetic keeps the sum exact to the microsecond
            (c.resolved_at - c.created_at).label("resolution"),
        ).subquery()
        r = routed.c
        keys = (r.assigned_to, r.status, r.team, r.bucket)
        # The planner cannot count the groups of CASE expressions and guesses tens of thousands,
        # so at the default work_mem it sorts a million rows on disk; there are at most
        # agents x statuses x teams x buckets groups, which hash in memory at twice the speed.
        self.conn.execute(text("SET LOCAL work_mem = '64MB'"))
        rows = self.conn.execute(
            select(
                *keys,
                func.count().label("cases"),
                func.sum(r.due_amount).label("due"),
                func.coalesce(func.sum(r.amount_recovered), 0).label("recovered"),
                func.count(r.resolution).label("timed"),
                func.coalesce(extract("epoch", func.sum(r.resolution)), 0).label("resolution_seconds"),
            ).group_by(*keys)
        )
        return [
            Cell(assigned_to=row.assigned_to, status=CaseStatus(row.status), team=Team(row.team),
                 bucket=row.bucket, cases=row.cases, due=row.due, recovered=row.recovered,
                 timed=row.timed, resolution_seconds=row.resolution_seconds)
            for row in rows
        ]

    def agents(self) -> list[Agent]:
        """Every user with a team, active or not."""
        rows = self.conn.execute(
            select(users.c.id, users.c.name, users.c.role, users.c.active).where(users.c.role.in_(_AGENT_ROLES))
        )
        return [Agent(user_id=r.id, name=r.name, team=TEAM_OF_ROLE[Role(r.role)], active=r.active) for r in rows]

    def payment_totals(self, first_day: date, last_day: date) -> PaymentTotals:
        """Payments not reversed with paid_on from first_day to last_day: an index-only range scan."""
        p = payments.c
        row = self.conn.execute(
            select(func.count().label("count"), func.coalesce(func.sum(p.amount), 0).label("amount"))
            .where(p.paid_on.between(first_day, last_day), p.reversed_at.is_(None))  # payments_paid_on_idx
        ).one()
        return PaymentTotals(count=row.count, amount=row.amount)

    def promise_totals(self, *, closed_after: datetime, closed_until: datetime) -> PromiseTotals:
        """Promises open now, and those closed in (closed_after, closed_until] per status: one statement
        whose halves are index-only scans of partial indexes (open ones; closed ones by closed_at)."""
        p = promises.c
        # the open half names no column but the predicate's, so promises_open_due_idx alone answers it
        open_now = select(literal(False).label("closed"), literal(PromiseStatus.OPEN.value).label("status"),
                          func.count().label("n")).where(p.status == PromiseStatus.OPEN.value)
        closed = select(literal(True), p.status.cast(Text), func.count()) \
            .where(p.closed_at > closed_after, p.closed_at <= closed_until).group_by(p.status)  # promises_closed_idx
        rows = self.conn.execute(union_all(open_now, closed)).all()
        return PromiseTotals(open=sum(row.n for row in rows if not row.closed),
                             closed={PromiseStatus(row.status): row.n for row in rows if row.closed})

    def contact_totals(self, *, after: datetime, until: datetime) -> ContactTotals:
        """The window's contacts (an index-only range scan of contacts_at_idx) and holds placed
        (holds_created_idx), in one round trip."""
        ct, h = contacts.c, holds.c
        outbound = ct.direction == Direction.OUTBOUND.value
        figures = select(
            func.count().filter(outbound).label("attempts"),
            func.count().filter(outbound, ct.right_party).label("right_party"),
            func.count().filter(func.cardinality(ct.policy_violations) > 0).label("violations"),
        ).where(ct.at > after, ct.at <= until).subquery()
        placed = select(h.type.cast(Text).label("type"), func.count().label("n")) \
            .where(h.created_at > after, h.created_at <= until).group_by(h.type).subquery()
        row = self.conn.execute(select(figures, select(func.json_object_agg(placed.c.type, placed.c.n))
                                       .scalar_subquery().label("holds"))).one()
        return ContactTotals(attempts=row.attempts, right_party=row.right_party, violations=row.violations,
                             holds={HoldType(kind): n for kind, n in (row.holds or {}).items()})

    def add_snapshot(self, summary: dict, *, as_of: datetime, job_id: uuid.UUID | None) -> None:
        self.conn.execute(insert(analytics_snapshots).values(as_of=as_of, job_id=job_id, summary=summary))

    def prune_snapshots(self, *, before: datetime) -> None:
        self.conn.execute(delete(analytics_snapshots).where(analytics_snapshots.c.as_of < before))

    def latest_summary(self) -> dict | None:
        return self.conn.execute(
            select(analytics_snapshots.c.summary).order_by(analytics_snapshots.c.as_of.desc()).limit(1)
        ).scalar()

    def lock_refresh_requests(self) -> None:
        """Serialize 'is a refresh already coming?' decisions until this transaction ends."""
        self.conn.execute(select(func.pg_advisory_xact_lock(*locks.ANALYTICS_REFRESH_REQUESTS)))

    def unfinished_refresh_id(self) -> uuid.UUID | None:
        """The oldest analytics job still queued or running."""
        return self.conn.execute(
            select(jobs.c.id)
            .where(jobs.c.type == JobType.ANALYTICS.value, jobs.c.state.in_(UNFINISHED))
            .order_by(jobs.c.created_at)
            .limit(1)
        ).scalar()

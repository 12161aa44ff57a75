"""Assignment storage: candidates streamed, the plan applied set-based, rotation, bands, releases."""
from __future__ import annotations

import io
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from psycopg.copy import Copy, FileWriter
from sqlalchemy import Connection, delete, func, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from domain.assignment import Assignment, Candidate
from domain.cases import CaseStatus
from domain.routing import Band
from domain.users import TEAM_OF_ROLE, Role, Team
from store import locks
from store.releases import release_cases
from store.tables import assignment_bands, team_rotation, users

# Advisory lock (namespace, key) held by an assignment run, and by whatever takes cases away from
# agents, until commit: a run never hands a case to an agent who is being released meanwhile.

# The literal predicate of the partial index cases_unassigned_idx, so a run over a mostly
# assigned table reads the index, not the table (a bound parameter would not match it). A run
# reads them in the contract's order, which its Dealer checks (the rule is the planner's): one
# priority at a time, so PostgreSQL sorts the next priority's cases while the run applies the
# previous ones, rather than sorting all of them before the first can be dealt. Cases on hold (their
# own or their borrower's: the case's on_hold, store/holds.py) wait.
_CANDIDATES = """
    SELECT id, days_past_due, priority::text, due_amount, status::text, version, ctid::text
    FROM cases_processed
    WHERE assigned_to IS NULL AND status <> 'Resolved' AND NOT on_hold
"""
_OF_PRIORITY_IN_ORDER = " AND cases_processed.priority = CAST(%s AS case_priority) ORDER BY due_amount DESC, id"

# Enough memory for the sort of a priority's candidates (up to a million), and of a sweep and its
# RETURNING set, in these statements only (the default 4MB spills them to disk).
_WORK_MEM = "256MB"
# A sweep's cases sorted by ctid, each fetched by its ctid (_APPLY): the planner, costing pages as
# if read from disk, would rather hash the whole table for every sweep, or probe the primary key.
_SWEEP_PLANNER = {"work_mem": _WORK_MEM, "enable_hashjoin": "off", "enable_mergejoin": "off",
                  "enable_indexscan": "off", "enable_bitmapscan": "off"}
_READER_LOCK_TIMEOUT = "5s"

_PLAN_TABLE = """
    CREATE TEMP TABLE IF NOT EXISTS assignment_plan (
        case_pk bigint NOT NULL, tid tid NOT NULL, agent_id bigint NOT NULL, team team NOT NULL,
        version integer NOT NULL, status_before case_status NOT NULL, status_after case_status NOT NULL
    ) ON COMMIT DROP
"""

# One statement: the guarded UPDATE decides which cases are assigned, and each one's
# case_assignments row (its whole record: agent, actor, job, status move) comes from its RETURNING,
# so a case skipped because it changed since it was read (its version moved) leaves no trace.
# Each case is fetched where the run read it (its ctid, in the table's order, no index) and written
# only if that row is still the same case, at the same version, unassigned: a case updated since it
# was read has moved (and the reader's open snapshot keeps its old slot from being reused).
_APPLY = """
    WITH assigned AS (
        UPDATE cases_processed c
           SET assigned_to = p.agent_id, team = p.team, status = p.status_after,
               version = c.version + 1, updated_at = statement_timestamp()
          FROM (SELECT * FROM assignment_plan ORDER BY tid) p
         WHERE c.ctid = p.tid AND c.id = p.case_pk AND c.version = p.version AND c.assigned_to IS NULL
        RETURNING p.case_pk, p.agent_id, p.team, p.status_before, p.status_after
    ), recorded AS (
        INSERT INTO case_assignments (case_pk, assigned_to, assigned_by, job_id, assigned_at, status_from, status_to)
        SELECT case_pk, agent_id, :by, :job_id, statement_timestamp(), status_before, status_after FROM assigned
    )
    SELECT team::text, agent_id, count(*) FROM assigned GROUP BY team, agent_id
"""

# The agent's open cases, locked, so each status move recorded names the status it really left.
_AGENT_CASES = """
    SELECT id, status AS status_before, CAST(:reason AS text) AS reason
    FROM cases_processed
    WHERE assigned_to = :agent AND status <> CAST(:resolved AS case_status)
    FOR UPDATE
"""


class AssignmentStore:
    def __init__(self, conn: Connection):
        self.conn = conn
        self._reader = None  # the psycopg connection reading candidates, while `candidates` is open

    def serialize_runs(self) -> None:
        """Wait for, then hold until the transaction ends, the lock of assignment runs."""
        self.conn.execute(text("SELECT pg_advisory_xact_lock(:ns, :key)"),
                          dict(zip(("ns", "key"), locks.ASSIGNMENT_RUN)))

    @contextmanager
    def candidates(self, batch: int, priorities: list[str]) -> Iterator[tuple[int, Iterator[list[Candidate]]]]:
        """(how many, the batches): every open, unassigned case, in lists of at most `batch` tuples,
        priority by priority in the order given, each by due amount (highest first), then id.

        Read through server-side cursors on a connection of its own, in a read-only transaction
        that sees exactly what this one saw when the batches were asked for (an exported
        snapshot): the batches can be read in a thread while this connection applies the
        previous ones.
        """
        snapshot = self.conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        with self.conn.engine.connect().execution_options(**options) as reader:
            reader.execute(text(f"SET TRANSACTION SNAPSHOT '{snapshot}'"))
            reader.execute(text(f"SET LOCAL work_mem = '{_WORK_MEM}'"))  # the sort of a priority's cases
            # A TRUNCATE or ALTER queued behind this run's locks would queue this reader behind it,
            # while the run waits for the reader: a wait PostgreSQL cannot see as a deadlock. The
            # reader gives up instead; the run fails this attempt and is retried.
            reader.execute(text(f"SET LOCAL lock_timeout = '{_READER_LOCK_TIMEOUT}'"))
            total = reader.execute(text(f"SELECT count(*) FROM ({_CANDIDATES}) candidates")).scalar_one()
            self._reader = reader.connection.driver_connection
            batches = _batches(self._reader, batch, priorities)
            try:
                yield total, batches
            finally:
                # whatever happened, the open cursor is closed on this connection before the
                # connection goes back to the pool (the caller's thread has stopped reading)
                batches.close()
                reader.rollback()
                self._reader = None

    def active_agents(self) -> dict[Team, list[int]]:
        """Active agents' ids per team, in id order."""
        rows = self.conn.execute(
            select(users.c.id, users.c.role)
            .where(users.c.active.is_(True), users.c.role != Role.ADMIN.value)
            .order_by(users.c.id)
        )
        agents: dict[Team, list[int]] = {}
        for user_id, role in rows:
            agents.setdefault(TEAM_OF_ROLE[Role(role)], []).append(user_id)
        return agents

    def rotation(self) -> dict[Team, int | None]:
        """The last agent each team's rotation served."""
        rows = self.conn.execute(select(team_rotation.c.team, team_rotation.c.last_agent_id))
        return {Team(team): last for team, last in rows}

    def save_rotation(self, last_agents: dict[Team, int]) -> None:
        if not last_agents:
            return
        stmt = pg_insert(team_rotation).values(
            [{"team": team.value, "last_agent_id": agent_id} for team, agent_id in last_agents.items()])
        self.conn.execute(stmt.on_conflict_do_update(
            index_elements=[team_rotation.c.team],
            set_={"last_agent_id": stmt.excluded.last_agent_id, "updated_at": func.now()}))

    def plan_data(self, assignments: dict[Team, list[Assignment]], status_moves: dict[CaseStatus, CaseStatus]) -> bytes:
        """A batch of the plan as COPY data for `stage` (a few dozen bytes a case, where tuples would
        take hundreds). Call it in the thread reading the `candidates` batches: it formats with the
        reader's connection, which that thread alone uses (no round trip)."""
        moves = {before.value: after.value for before, after in status_moves.items()}
        data = io.BytesIO()
        with Copy(self._reader.cursor(), writer=FileWriter(data)) as copy:
            for team, team_plan in assignments.items():
                team_value = team.value
                for case, agent_id in team_plan:
                    copy.write_row((case.id, case.locator, agent_id, team_value, case.version, case.status,
                                    moves.get(case.status, case.status)))
        return data.getvalue()

    def stage(self, data: bytes) -> None:
        """Add a batch of the plan (`plan_data`) to this transaction's plan table."""
        self.conn.execute(text(_PLAN_TABLE))
        with self._driver().cursor() as cursor:
            with cursor.copy("COPY assignment_plan FROM STDIN") as copy:
                copy.write(data)

    def apply_staged(self, *, by: int | None, job_id: uuid.UUID) -> Counter:
        """Write the staged plan in one guarded statement and empty the plan table; counts per (team, agent)."""
        with _planner(self.conn, _SWEEP_PLANNER):
            counts = self.conn.execute(text(_APPLY), {"by": by, "job_id": job_id}).all()
        self.conn.execute(text("TRUNCATE assignment_plan"))
        return Counter({(Team(team), agent_id): n for team, agent_id, n in counts})

    def release_agent_cases(self, user_id: int, *, by: int | None, reason: str) -> int:
        """Take an agent's open cases back: unassigned, Pending, assignment ended, history written."""
        self.serialize_runs()
        params = {"agent": user_id, "reason": reason, "resolved": CaseStatus.RESOLVED.value}
        self.conn.execute(text(_AGENT_CASES), params)  # lock first (see release_cases)
        return release_cases(self.conn, _AGENT_CASES, params, by=by, job_id=None)

    def bands(self) -> list[Band]:
        """The routing bands in force, in order (the migration seeds them; replacements keep one at least)."""
        rows = self.conn.execute(select(assignment_bands.c.team, assignment_bands.c.max_dpd)
                                 .order_by(assignment_bands.c.position))
        return [Band(Team(team), max_dpd) for team, max_dpd in rows]

    def replace_bands(self, bands: list[Band]) -> None:
        # concurrent replacements take turns, each deleting what the previous one wrote
        self.conn.execute(text("LOCK TABLE assignment_bands IN SHARE ROW EXCLUSIVE MODE"))
        self.conn.execute(delete(assignment_bands))
        self.conn.execute(insert(assignment_bands), [
            {"position": position, "team": band.team.value, "max_dpd": band.max_dpd}
            for position, band in enumerate(bands, start=1)])

    def _driver(self):
        """The psycopg connection under this unit of work, for COPY and server-side cursors."""
        return self.conn.connection.driver_connection


@contextmanager
def _planner(conn: Connection, settings: dict[str, str]) -> Iterator[None]:
    """Planner settings for the statements run inside the block only (if one fails, the
    transaction is lost anyway, and its settings with it)."""
    for name, value in settings.items():
        conn.execute(text("SELECT set_config(:name, :value, true)"), {"name": name, "value": value})
    yield
    for name in settings:
        conn.execute(text(f"RESET {name}"))


def _batches(driver, batch: int, priorities: list[str]) -> Iterator[list[Candidate]]:
    for priority in priorities:
        with driver.cursor(name="assignment_candidates", row_factory=lambda _: Candidate._make) as cursor:
            cursor.itersize = batch
            cursor.execute(_CANDIDATES + _OF_PRIORITY_IN_ORDER, (priority,))
            while rows := cursor.fetchmany(batch):
                yield rows

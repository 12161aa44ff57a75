"""GET /api/cases at scale (API.md, Listing at scale): the borrower filters, the created_at and
priority sorts, every filter with every sort and cursor, and the plans the indexes give."""
from __future__ import annotations

import base64
import itertools
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert, select, text, update

from conftest import login
from domain.case_queries import SORT_FIELDS, SORTS
from store.holds import refresh_on_hold
from store.promises import mark_case
from store.tables import cases_processed, holds, promises

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
RANK = {"Low": 0, "Medium": 1, "High": 2, "Critical": 3}
NAMES = ["José Núñez", "Jose Nunez", "NÚÑEZ Ana", "Zoë Müller", "Björn Ångström", "Priya Sharma", "Łukasz Wałęsa",
         "Ana Conceição", "Dvořák Jiří", "John Smith"]


@pytest.fixture(autouse=True)
def empty_ledger(engine, clean_db):
    with engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE payments, promises, holds RESTART IDENTITY")


@pytest.fixture
def agents(client, make_user):
    """Two call-centre agents: (user, headers) each."""
    return [(user, login(client, user.email)) for user in (make_user("call_center_agent"),
                                                           make_user("call_center_agent"))]


def all_pages(client, headers, **query) -> list[dict]:
    items, cursor, pages = [], None, 0
    while True:
        response = client.get("/api/cases", headers=headers,
                              query_string={**query, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.json
        items += response.json["items"]
        cursor, pages = response.json["next_cursor"], pages + 1
        assert pages < 200, "the cursor does not move on"
        if cursor is None:
            return items


def sort_key(sort: str):
    field = sort.removeprefix("-")

    def key(item):
        value = item[field]
        if field == "due_amount":
            value = Decimal(value)
        elif field in ("updated_at", "created_at"):
            value = datetime.fromisoformat(value)
        elif field == "priority":
            value = RANK[value]
        return value, item["id"]

    return key


@pytest.fixture
def book(make_case, engine, agents):
    """48 cases over every status, team, priority, region and bank, with repeated sort values (ties),
    borrowers with and without accents, some sharing a borrower_ref, half of them the two agents'."""
    (first, _), (second, _) = agents
    statuses = ["Pending", "In Progress", "Resolved", "Escalated"]
    pks = []
    for n in range(48):
        owner = (first.id, second.id, None)[n % 3]
        status = "Pending" if owner is None else statuses[1 + n % 3]
        pks.append(make_case(
            case_id=f"{'AB' if n % 2 else 'AC'}-{n:03d}", days_past_due=(5, 45, 120)[n % 3] + n % 2,
            due_amount=f"{(n % 5) * 100}.00", priority=list(RANK)[n % 4], region=("North", "South")[n % 2],
            bank_code=("HDFC", "SBI", "AXIS")[n % 3], status=status, assigned_to=owner,
            borrower_name=NAMES[n % len(NAMES)], borrower_ref=f"REF-{n // 3}" if n % 4 else None,
            created_at=T0 + timedelta(hours=n // 4), updated_at=T0 + timedelta(days=1, minutes=n % 6)))
    with engine.begin() as conn:
        for k, case_pk in enumerate(pks[::5]):
            status = ("open", "kept", "broken", "partial")[k % 4]
            conn.execute(insert(promises).values(case_pk=case_pk, amount="1.00", due_date=date(2026, 7, 1),
                                                 status=status))
            mark_case(conn, case_pk, status)  # as the promise store does
        # held: cases 1 and 7 on their own, case 13 (SBI, REF-4) by its borrower; case 2's hold is lifted
        for n, scope, lifted in ((1, "case", None), (7, "case", None), (13, "borrower", T0), (13, "borrower", None),
                                 (2, "case", T0)):
            conn.execute(insert(holds).values(case_pk=pks[n], bank_code=("HDFC", "SBI", "AXIS")[n % 3],
                                              borrower_ref=f"REF-{n // 3}" if n % 4 else None, scope=scope,
                                              type="dispute", reason="test", lifted_at=lifted))
        refresh_on_hold(conn, select(cases_processed.c.id))  # as every writer of holds does
    return pks


def matches(case: dict, query: dict, latest_promise: dict, held: set[int]) -> bool:
    """The contract's meaning of each filter, in Python."""
    words = {"josé": "jose", "núñez": "nunez", "zoë": "zoe", "müller": "muller", "björn": "bjorn",
             "ångström": "angstrom", "łukasz": "lukasz", "wałęsa": "walesa", "conceição": "conceicao",
             "dvořák": "dvorak", "jiří": "jiri"}
    for name, value in query.items():
        if name == "borrower":
            have = {words.get(w.lower(), w.lower()) for w in case["borrower_name"].split()}
            if not set(value.lower().split()) <= have:
                return False
        elif name == "q":
            if not case["case_id"].startswith(value):
                return False
        elif name == "min_dpd":
            if case["days_past_due"] < value:
                return False
        elif name == "max_dpd":
            if case["days_past_due"] > value:
                return False
        elif name == "unassigned":
            if (case["assigned_to"] is None) != (value == "true"):
                return False
        elif name == "on_hold":
            if (case["id"] in held) != (value == "true"):
                return False
        elif name == "promise":
            if latest_promise.get(case["id"]) != value:
                return False
        elif case[name] != value:
            return False
    return True


FILTERS = [{}, {"status": "Pending"}, {"status": "Resolved"}, {"team": "legal"}, {"bank_code": "SBI"},
           {"region": "North"}, {"priority": "Critical"}, {"min_dpd": 40, "max_dpd": 121}, {"unassigned": "true"},
           {"unassigned": "false"}, {"q": "AB-0"}, {"borrower": "nunez jose"}, {"borrower_ref": "REF-4"},
           {"team": "field", "priority": "High"}, {"region": "South", "status": "Escalated"}, {"promise": "open"},
           {"promise": "broken"}, {"borrower": "ANA", "region": "North"}, {"on_hold": "true"},
           {"on_hold": "false"}, {"on_hold": "true", "team": "call_center"}]


def latest_promises(engine) -> dict[int, str]:
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT DISTINCT ON (case_pk) case_pk, status::text FROM promises "
                                      "ORDER BY case_pk, id DESC")).all())


def held_cases(engine) -> set[int]:
    """The cases an active hold covers, from the holds themselves (not from the cases' on_hold)."""
    with engine.connect() as conn:
        return set(conn.execute(text(
            "SELECT c.id FROM cases_processed c JOIN holds h ON h.lifted_at IS NULL AND (h.case_pk = c.id OR "
            "(h.scope = 'borrower' AND h.bank_code = c.bank_code AND h.borrower_ref = c.borrower_ref))")).scalars())


@pytest.mark.parametrize("query", FILTERS, ids=lambda q: "&".join(f"{k}={v}" for k, v in q.items()) or "none")
def test_every_filter_pages_through_its_cases_in_every_sort_without_gaps_or_repeats(client, admin_headers, book,
                                                                                   engine, query):
    everything = all_pages(client, admin_headers, limit=500)
    promised, held = latest_promises(engine), held_cases(engine)
    expected = [case for case in everything if matches(case, query, promised, held)]
    for sort in SORTS:
        listed = all_pages(client, admin_headers, sort=sort, limit=4, **query)
        wanted = sorted(expected, key=sort_key(sort), reverse=sort.startswith("-"))
        assert [c["id"] for c in listed] == [c["id"] for c in wanted], sort


@pytest.mark.parametrize("query", FILTERS, ids=lambda q: "&".join(f"{k}={v}" for k, v in q.items()) or "none")
def test_an_agents_view_stays_its_own_with_every_filter(client, admin_headers, agents, book, engine, query):
    (agent, headers), _ = agents
    query = {k: v for k, v in query.items() if k != "unassigned"}  # unassigned=true is 403, tested below
    promised, held = latest_promises(engine), held_cases(engine)
    everything = all_pages(client, admin_headers, limit=500)
    own = [c["id"] for c in everything if c["assigned_to"] == agent.id and matches(c, query, promised, held)]
    for sort in ("id", "-due_amount", "priority", "-created_at"):
        listed = all_pages(client, headers, sort=sort, limit=3, **query)
        assert all(c["assigned_to"] == agent.id for c in listed)
        assert sorted(c["id"] for c in listed) == sorted(own), sort


def test_an_agent_cannot_list_the_unassigned_cases_whatever_the_other_filters(client, agents, book):
    (_, headers), _ = agents
    response = client.get("/api/cases", headers=headers, query_string={"unassigned": "true", "borrower": "ana"})
    assert response.status_code == 403


def test_the_borrower_filter_takes_every_word_in_any_order_whatever_the_case_or_accents(client, admin_headers,
                                                                                        make_case):
    jose, plain, ana, other = (make_case(borrower_name=name) for name in
                               ("José Núñez", "JOSE NUNEZ", "Ana Núñez-García", "Joseph Nunes"))
    for typed in ("jose nunez", "Núñez José", "NUNEZ", "  jose,  nunez "):
        assert [c["id"] for c in all_pages(client, admin_headers, borrower=typed)] \
            == ([jose, plain, ana] if typed == "NUNEZ" else [jose, plain]), typed
    assert [c["id"] for c in all_pages(client, admin_headers, borrower="garcia ana")] == [ana]
    assert [c["id"] for c in all_pages(client, admin_headers, borrower="nunes")] == [other]
    assert all_pages(client, admin_headers, borrower="jose maria") == []


@pytest.mark.parametrize("value", ["", "   ", "!!", "-"])
def test_a_borrower_query_without_a_word_is_a_400_problem(client, admin_headers, value):
    response = client.get("/api/cases", headers=admin_headers, query_string={"borrower": value})
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"
    assert "borrower" in response.json["errors"]


def test_the_borrower_ref_filter_lists_one_persons_cases(client, admin_headers, make_case):
    mine = [make_case(borrower_ref="CUST-7"), make_case(borrower_ref="CUST-7")]
    make_case(borrower_ref="CUST-70"), make_case()
    assert [c["id"] for c in all_pages(client, admin_headers, borrower_ref="CUST-7")] == mine


def test_priority_sorts_by_rank_not_alphabetically(client, admin_headers, make_case):
    pks = {p: make_case(priority=p) for p in ("High", "Low", "Critical", "Medium")}
    ranked = [pks[p] for p in ("Low", "Medium", "High", "Critical")]
    assert [c["id"] for c in all_pages(client, admin_headers, sort="priority", limit=1)] == ranked
    assert [c["id"] for c in all_pages(client, admin_headers, sort="-priority", limit=1)] == ranked[::-1]


def test_created_at_sorts_by_placement_time_with_ties_broken_by_id(client, admin_headers, make_case):
    late, early, tied_a, tied_b = (make_case(created_at=T0 + timedelta(minutes=m)) for m in (9, 1, 5, 5))
    assert [c["id"] for c in all_pages(client, admin_headers, sort="created_at", limit=1)] \
        == [early, tied_a, tied_b, late]
    assert [c["id"] for c in all_pages(client, admin_headers, sort="-created_at", limit=1)] \
        == [late, tied_b, tied_a, early]


def test_no_sort_column_holds_nulls_so_the_keyset_needs_no_null_order():
    assert all(not cases_processed.c[field].nullable for field in SORT_FIELDS)


@pytest.mark.parametrize("sort", ["-updated_at", "updated_at", "-due_amount", "due_amount"])
def test_a_case_that_changes_while_a_client_pages_through_moves_and_no_other_is_skipped_or_repeated(
        client, admin_headers, make_case, engine, sort):
    pks = [make_case(due_amount=f"{n % 3 + 1}.00", updated_at=T0 + timedelta(minutes=n)) for n in range(20)]
    first = client.get("/api/cases", headers=admin_headers, query_string={"sort": sort, "limit": 5}).json
    seen = [c["id"] for c in first["items"]]
    unseen = [pk for pk in pks if pk not in seen]
    field, descending = sort.removeprefix("-"), sort.startswith("-")
    low, high = {"updated_at": (T0 - timedelta(days=1), T0 + timedelta(days=1)),
                 "due_amount": ("0.00", "9.00")}[field]
    front, back = (high, low) if descending else (low, high)
    # a case already read and one not yet read move before the cursor, another one past the rest
    behind, ahead = [seen[0], unseen[0]], unseen[1]
    with engine.begin() as conn:
        conn.execute(update(cases_processed).where(cases_processed.c.id.in_(behind)).values({field: front}))
        conn.execute(update(cases_processed).where(cases_processed.c.id == ahead).values({field: back}))
    rest = [c["id"] for c in all_pages(client, admin_headers, sort=sort, limit=5, cursor=first["next_cursor"])]
    listed = seen + rest
    assert len(listed) == len(set(listed)), "a case came twice"
    assert set(pks) - set(behind) <= set(listed), "a case that stayed ahead of the cursor was skipped"
    assert rest[-1] == ahead, "the case that moved past the rest comes last"
    assert unseen[0] not in rest, "a case that moved behind the cursor is for the next pass"


@pytest.mark.parametrize("sort", SORTS)
def test_a_cursor_issued_for_a_sort_reads_the_next_page_in_that_sort_only(client, admin_headers, make_case, sort):
    [make_case(priority=list(RANK)[n % 4], created_at=T0 + timedelta(hours=n % 2)) for n in range(6)]
    cursor = client.get("/api/cases", headers=admin_headers, query_string={"sort": sort, "limit": 2}).json[
        "next_cursor"]
    assert client.get("/api/cases", headers=admin_headers,
                      query_string={"sort": sort, "cursor": cursor}).status_code == 200
    other = next(s for s in SORTS if s != sort)
    response = client.get("/api/cases", headers=admin_headers, query_string={"sort": other, "cursor": cursor})
    assert response.status_code == 400 and "cursor" in response.json["errors"]


@pytest.mark.parametrize("key", [["priority", "Urgent", 1], ["created_at", "yesterday", 1],
                                 ["created_at", "2026-01-01T00:00:00", 1], ["priority", 3, 1]])
def test_a_forged_cursor_is_a_400_problem_never_a_500(client, admin_headers, make_case, key):
    make_case()
    cursor = base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")
    response = client.get("/api/cases", headers=admin_headers, query_string={"sort": key[0], "cursor": cursor})
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"


@pytest.mark.parametrize("query", [{"borrower_ref": ""}, {"borrower": "x" * 201}, {"sort": "-borrower"},
                                   {"sort": "Priority"}, {"on_holdd": "true"}])
def test_a_bad_listing_parameter_is_a_400_problem(client, admin_headers, query):
    response = client.get("/api/cases", headers=admin_headers, query_string=query)
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"


def _plan(engine, sql: str, *disabled: str) -> str:
    """EXPLAIN with these plan types off (on a small table: whether an index *can* serve)."""
    with engine.begin() as conn:
        for setting in ("enable_seqscan", *disabled):
            conn.exec_driver_sql(f"SET LOCAL {setting} = off")
        return "\n".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {sql}"))


@pytest.mark.parametrize(("filters", "index"), [({"borrower": "Núñez jose"}, "cases_borrower_words_idx"),
                                                ({"case_id_prefix": "TEST-0"}, "cases_processed_case_id_key"),
                                                ({"borrower_ref": "R-1"}, "cases_borrower_ref_idx")])
def test_the_borrower_filters_and_the_case_id_prefix_are_served_by_their_indexes(engine, make_case, filters, index):
    from sqlalchemy import select
    from sqlalchemy.dialects import postgresql

    from domain.case_queries import CaseFilter
    from store.case_listing import conditions

    make_case(borrower_name="José Núñez")
    query = select(cases_processed.c.id).where(*conditions(CaseFilter(**filters)))
    sql = query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    assert index in _plan(engine, str(sql), "enable_indexscan")


def test_the_listing_combines_filters_with_each_other(client, admin_headers, book):
    combos = list(itertools.combinations([{"team": "call_center"}, {"region": "South"}, {"priority": "High"},
                                          {"borrower": "nunez"}], 2))
    everything = all_pages(client, admin_headers, limit=500)
    for a, b in combos:
        query = {**a, **b}
        expected = [c["id"] for c in everything if matches(c, query, {}, set())]
        assert [c["id"] for c in all_pages(client, admin_headers, limit=3, **query)] == expected, query


SHAPES = [({"status": "In Progress"}, "cases_status_{field}_idx"),
          ({"assigned_to": 1}, "cases_assignee_{field}_idx"),
          ({"unassigned": True}, "cases_assignee_{field}_idx"),
          ({"region": "North"}, "cases_status_{field}_idx"),  # merged: one branch per status
          ({}, "cases_status_{field}_idx"),
          ({"promise": "broken"}, "cases_promise_{field}_idx"),
          ({"promise": "open", "status": "In Progress"}, "cases_promise_{field}_idx"),
          ({"on_hold": True}, "cases_held_{field}_idx"),
          ({"on_hold": True, "region": "North"}, "cases_held_{field}_idx")]


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize(("filters", "index"), SHAPES, ids=lambda v: json.dumps(v) if isinstance(v, dict) else None)
@pytest.mark.parametrize("deep", [False, True], ids=["first page", "after a cursor"])
def test_every_sort_reads_a_status_an_assignee_and_the_merged_branches_in_index_order(engine, make_case, sort,
                                                                                      filters, index, deep):
    """With sorting switched off, a page that needed one would still show a Sort node of the table's
    rows: none may. Merged branches (at most `limit` rows each) may be sorted together."""
    from sqlalchemy import select
    from sqlalchemy.dialects import postgresql

    from domain.case_queries import CaseFilter, CaseSort
    from domain.cases import CaseStatus, Priority
    from domain.promises import PromiseStatus
    from store.case_listing import page_ids

    make_case()
    parsed = CaseSort.parse(sort)
    value = {"id": 7, "due_amount": Decimal("10.00"), "days_past_due": 40, "updated_at": T0, "created_at": T0,
             "priority": Priority.HIGH}[parsed.field]
    filters = {**filters, **({"status": CaseStatus(filters["status"])} if "status" in filters else {}),
               **({"promise": PromiseStatus(filters["promise"])} if "promise" in filters else {})}
    page = page_ids(CaseFilter(**filters), parsed, after=(value, 7) if deep else None, limit=51)
    sql = select(page.c.id).compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    plan = _plan(engine, str(sql), "enable_sort", "enable_bitmapscan")
    sorted_keys = [line.strip() for line in plan.splitlines() if line.strip().startswith(("Sort Key", "Presorted Key"))]
    assert all('"*SELECT* ' in key for key in sorted_keys), plan
    assert index.format(field=parsed.field) in plan, plan


@pytest.mark.parametrize("descending", [False, True])
def test_a_priority_by_amount_reads_each_status_with_that_priority_in_amount_order(engine, make_case, descending):
    """Priority follows the amount: walking all priorities by amount reached Critical cases last."""
    from sqlalchemy.dialects import postgresql

    from domain.case_queries import CaseFilter, CaseSort
    from domain.cases import Priority
    from domain.users import Team
    from store.case_listing import page_ids

    make_case()
    page = page_ids(CaseFilter(team=Team.LEGAL, priority=Priority.CRITICAL),
                    CaseSort("due_amount", descending), after=None, limit=51)
    sql = select(page.c.id).compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    plan = _plan(engine, str(sql), "enable_sort", "enable_bitmapscan")
    assert plan.count("cases_status_priority_due_amount_idx") == 4, plan


def test_the_webs_connections_run_without_jit_and_with_plans_for_their_values(app):
    """A listing's estimate may pass jit_above_cost; compiling it took 20-30 ms of a 1 ms page."""
    from web.extensions import engine

    with app.app_context(), engine().connect() as conn:
        assert conn.exec_driver_sql("SELECT current_setting('jit'), current_setting('plan_cache_mode')").one() == (
            "off", "force_custom_plan")

"""GET /api/cases, /api/cases/<id> and /api/cases/<id>/history: the contract, filters, keyset
pages and agent isolation."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, update

from conftest import login
from store.promises import mark_case
from store.tables import case_assignments, case_status_history, cases_processed, promises


@pytest.fixture(autouse=True)
def no_payments(engine, clean_db):
    """The ledger starts empty too (the suite's cleanup truncates the cases, not the payments)."""
    with engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE payments RESTART IDENTITY")


@pytest.fixture
def agents(client, make_user):
    """Two call-centre agents and a field agent: (user, headers) each."""
    return [(user, login(client, user.email)) for user in
            (make_user("call_center_agent"), make_user("call_center_agent"), make_user("field_agent"))]


def listed(client, headers, **query) -> list[int]:
    response = client.get("/api/cases", headers=headers, query_string=query)
    assert response.status_code == 200, response.json
    return [item["id"] for item in response.json["items"]]


def all_pages(client, headers, **query) -> list[dict]:
    items, cursor = [], None
    while True:
        response = client.get("/api/cases", headers=headers,
                              query_string={**query, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.json
        items += response.json["items"]
        cursor = response.json["next_cursor"]
        if cursor is None:
            return items


def test_a_case_is_the_contracts_resource_with_its_version_as_etag(client, admin_headers, make_case, agents):
    agent, _ = agents[0]
    case_pk = make_case(assigned_to=agent.id, status="Resolved", due_amount="13404.5", loan_amount="20000",
                        amount_recovered="13404.5", resolved_at=datetime.fromisoformat("2026-11-28T04:41:12+00:00"),
                        days_past_due=45, priority="Critical", region="West", bank_code="ICICI")
    response = client.get(f"/api/cases/{case_pk}", headers=admin_headers)
    assert response.status_code == 200
    assert response.headers["ETag"] == '"1"'
    body = response.json
    assert set(body) == {"id", "case_id", "bank_code", "borrower_name", "loan_amount", "due_amount", "days_past_due",
                         "priority", "region", "team", "status", "assigned_to", "amount_recovered", "version",
                         "created_at", "updated_at", "resolved_at", "borrower_ref", "timezone", "balance", "promise",
                         "on_hold"}
    assert body["id"] == case_pk
    assert (body["loan_amount"], body["due_amount"], body["amount_recovered"]) == ("20000.00", "13404.50", "13404.50")
    assert (body["team"], body["status"], body["priority"], body["assigned_to"]) == (
        "field", "Resolved", "Critical", agent.id)
    assert body["resolved_at"] == "2026-11-28T04:41:12+00:00"
    assert datetime.fromisoformat(body["created_at"]).utcoffset() is not None
    assert (body["borrower_ref"], body["timezone"], body["balance"], body["promise"], body["on_hold"]) == (
        None, None, "0.00", None, False)


def test_a_case_shows_its_borrower_its_balance_and_its_open_promise(client, admin_headers, make_case):
    case_pk = make_case(due_amount="1000.00", borrower_ref="CUST-42", timezone="America/Chicago")
    paid = client.post(f"/api/cases/{case_pk}/payments", headers=admin_headers,
                       json={"amount": "250.50", "paid_on": "2026-01-02", "reference": "R-1"})
    assert paid.status_code == 201, paid.json
    due = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    promise = client.post(f"/api/cases/{case_pk}/promises", headers=admin_headers,
                          json={"amount": "100.00", "due_date": due}).json
    body = client.get(f"/api/cases/{case_pk}", headers=admin_headers).json
    assert (body["borrower_ref"], body["timezone"]) == ("CUST-42", "America/Chicago")
    assert (body["amount_recovered"], body["balance"]) == ("250.50", "749.50")
    assert body["promise"] == promise and promise["status"] == "open"
    [listed] = client.get("/api/cases", headers=admin_headers).json["items"]
    assert listed == body


def test_the_promise_filter_lists_cases_by_their_latest_promise(client, admin_headers, make_case, engine):
    today = datetime.now(UTC).date()
    names = ("open", "kept", "broken", "partial", "cancelled", "none", "broken_then_open")
    cases = {name: make_case() for name in names}
    with engine.begin() as conn:
        for name, statuses in {"open": ["open"], "kept": ["kept"], "broken": ["broken"], "partial": ["partial"],
                               "cancelled": ["cancelled"], "broken_then_open": ["broken", "open"]}.items():
            for status in statuses:
                conn.execute(insert(promises).values(case_pk=cases[name], amount="10.00", due_date=today,
                                                     status=status))
                mark_case(conn, cases[name], status)  # as the promise store does
    for status, expected in (("open", ["open", "broken_then_open"]), ("kept", ["kept"]), ("broken", ["broken"]),
                             ("partial", ["partial"])):
        assert listed(client, admin_headers, promise=status) == [cases[name] for name in expected], status
        assert listed(client, admin_headers, promise=status, sort="-due_amount") == sorted(
            (cases[name] for name in expected), reverse=True)
    response = client.get("/api/cases", headers=admin_headers, query_string={"promise": "cancelled"})
    assert response.status_code == 400 and "promise" in response.json["errors"]


def test_the_promise_filter_pages_and_combines_with_the_agents_scope(client, make_case, agents, engine):
    (agent, headers), (other, _), _ = agents
    today = datetime.now(UTC).date()
    mine = [make_case(assigned_to=agent.id) for _ in range(5)]
    theirs = make_case(assigned_to=other.id)
    with engine.begin() as conn:
        for case_pk in [*mine[:4], theirs]:
            conn.execute(insert(promises).values(case_pk=case_pk, amount="10.00", due_date=today))
            mark_case(conn, case_pk, "open")
    assert [c["id"] for c in all_pages(client, headers, promise="open", limit=3)] == mine[:4]


def test_an_open_case_has_no_amount_recovered_nor_resolution_time(client, admin_headers, make_case):
    body = client.get(f"/api/cases/{make_case()}", headers=admin_headers).json
    assert (body["amount_recovered"], body["resolved_at"], body["assigned_to"]) == (None, None, None)


def test_a_missing_case_is_404_problem_json(client, admin_headers):
    response = client.get("/api/cases/987654", headers=admin_headers)
    assert response.status_code == 404
    assert response.content_type == "application/problem+json"


@pytest.mark.parametrize("path", ["/api/cases", "/api/cases/1", "/api/cases/1/history"])
def test_every_case_route_needs_a_token(client, path):
    assert client.get(path).status_code == 401


def test_an_agent_never_reads_another_agents_case_by_any_id(client, make_case, agents):
    (mine, my_headers), (other, _), _ = agents
    own = make_case(assigned_to=mine.id)
    theirs, nobodys = make_case(assigned_to=other.id), make_case()
    assert client.get(f"/api/cases/{own}", headers=my_headers).status_code == 200
    assert client.get(f"/api/cases/{own}/history", headers=my_headers).status_code == 200
    for case_pk in (theirs, nobodys, 987654):
        for path in (f"/api/cases/{case_pk}", f"/api/cases/{case_pk}/history"):
            response = client.get(path, headers=my_headers)
            assert response.status_code == 404, path
            assert str(case_pk) in response.json["detail"]  # the same answer as for a case that does not exist


def test_an_agent_lists_only_its_own_cases(client, make_case, agents):
    (mine, my_headers), (other, _), _ = agents
    own = [make_case(assigned_to=mine.id) for _ in range(3)]
    make_case(assigned_to=other.id), make_case()
    assert listed(client, my_headers) == own
    assert listed(client, my_headers, assigned_to=mine.id) == own
    assert listed(client, my_headers, unassigned="false") == own


@pytest.mark.parametrize("query", [{"assigned_to": "OTHER"}, {"unassigned": "true"}])
def test_an_agent_asking_for_someone_elses_cases_is_forbidden(client, make_case, agents, query):
    (mine, my_headers), (other, _), _ = agents
    make_case(assigned_to=other.id)
    query = {k: other.id if v == "OTHER" else v for k, v in query.items()}
    response = client.get("/api/cases", headers=my_headers, query_string=query)
    assert response.status_code == 403
    assert response.content_type == "application/problem+json"


def test_an_admin_lists_every_case_and_filters_by_assignee(client, admin_headers, make_case, agents):
    (first, _), (second, _), _ = agents
    a, b, c = make_case(assigned_to=first.id), make_case(assigned_to=second.id), make_case()
    assert listed(client, admin_headers) == [a, b, c]
    assert listed(client, admin_headers, assigned_to=second.id) == [b]
    assert listed(client, admin_headers, unassigned="true") == [c]
    assert listed(client, admin_headers, unassigned="false") == [a, b]


def test_each_filter_narrows_the_listing(client, admin_headers, make_case):
    target = make_case(case_id="AB-100", bank_code="AXIS", region="South", priority="High", status="Escalated",
                       days_past_due=95)
    make_case(case_id="AB-200", bank_code="SBI", region="North", priority="Low", status="Pending", days_past_due=5)
    make_case(case_id="ZZ-100", bank_code="SBI", region="North", priority="Low", status="In Progress", days_past_due=40)
    for name, value in [("bank_code", "AXIS"), ("region", "South"), ("priority", "High"), ("status", "Escalated"),
                        ("team", "legal"), ("min_dpd", 91), ("q", "AB-1")]:
        assert listed(client, admin_headers, **{name: value}) == [target], name
    assert len(listed(client, admin_headers, max_dpd=40)) == 2
    assert len(listed(client, admin_headers, min_dpd=40, max_dpd=40)) == 1
    assert len(listed(client, admin_headers, q="AB-")) == 2


def test_a_case_id_prefix_is_taken_literally_not_as_a_pattern(client, admin_headers, make_case):
    make_case(case_id="A_1"), make_case(case_id="AB1"), make_case(case_id="A%2")
    assert [c["case_id"] for c in all_pages(client, admin_headers, q="A_")] == ["A_1"]
    assert [c["case_id"] for c in all_pages(client, admin_headers, q="A%")] == ["A%2"]


@pytest.mark.parametrize("sort", ["id", "-id", "due_amount", "-due_amount", "days_past_due", "-days_past_due",
                                  "updated_at", "-updated_at"])
def test_every_sort_pages_through_all_cases_in_order_without_gaps_or_repeats(client, admin_headers, make_case,
                                                                            engine, sort):
    # few distinct values, so ties on the sort field must be broken by id across page boundaries
    pks = [make_case(due_amount=f"{(n % 4) * 100}.50", days_past_due=n % 3) for n in range(23)]
    with engine.begin() as conn:  # updated_at ties too: a batch of cases changed by one statement
        conn.execute(update(cases_processed).where(cases_processed.c.id.in_(pks[::2]))
                     .values(updated_at=datetime.fromisoformat("2026-01-01T00:00:00.000001+00:00")))
    items = all_pages(client, admin_headers, sort=sort, limit=5)
    field, reverse = sort.removeprefix("-"), sort.startswith("-")

    def key(item):
        value = item[field]
        if field == "due_amount":
            value = float(value)
        elif field == "updated_at":
            value = datetime.fromisoformat(value)
        return value, item["id"]

    assert [i["id"] for i in items] == [i["id"] for i in sorted(items, key=key, reverse=reverse)]
    assert sorted(i["id"] for i in items) == pks


def test_pages_follow_the_filter_and_end_with_a_null_cursor(client, admin_headers, make_case):
    pending = [make_case(status="Pending", due_amount=f"{n}.00") for n in range(1, 8)]
    [make_case(status="Escalated", due_amount=f"{n}.00") for n in range(1, 8)]
    first = client.get("/api/cases", headers=admin_headers,
                       query_string={"status": "Pending", "sort": "-due_amount", "limit": 3}).json
    assert [i["id"] for i in first["items"]] == pending[::-1][:3]
    assert first["next_cursor"]
    items = all_pages(client, admin_headers, status="Pending", sort="-due_amount", limit=3)
    assert [i["id"] for i in items] == pending[::-1]
    last = client.get("/api/cases", headers=admin_headers, query_string={"limit": 500}).json
    assert last["next_cursor"] is None


@pytest.mark.parametrize("query", [
    {"status": "Closed"}, {"team": "sales"}, {"priority": "urgent"}, {"min_dpd": "-1"}, {"max_dpd": "x"},
    {"min_dpd": 10, "max_dpd": 5}, {"limit": 0}, {"limit": 501}, {"sort": "name"}, {"unassigned": "maybe"},
    {"assigned_to": "me"}, {"unassigned": "true", "assigned_to": 1}, {"cursor": "not-a-cursor"},
    {"cursor": "WzEsMl0"}, {"borrower_name": "x"}, {"q": ""},
])
def test_a_bad_query_is_a_400_problem(client, admin_headers, make_case, query):
    make_case()
    response = client.get("/api/cases", headers=admin_headers, query_string=query)
    assert response.status_code == 400, response.json
    assert response.content_type == "application/problem+json"


def test_a_cursor_from_another_sort_is_refused(client, admin_headers, make_case):
    [make_case() for _ in range(3)]
    first = client.get("/api/cases", headers=admin_headers, query_string={"sort": "-due_amount", "limit": 1})
    cursor = first.json["next_cursor"]
    response = client.get("/api/cases", headers=admin_headers, query_string={"sort": "id", "cursor": cursor})
    assert response.status_code == 400
    assert "cursor" in response.json["errors"]


def test_history_merges_assignments_and_status_moves_oldest_first(client, admin_headers, make_case, agents, engine):
    (agent, agent_headers), _, _ = agents
    case_pk = make_case()
    admin_id = client.get("/api/auth/me", headers=admin_headers).json["id"]
    t = [datetime(2026, 11, 28, 9, minute, tzinfo=UTC) for minute in range(3)]
    with engine.begin() as conn:
        # assigned by a beat run at t0 (Pending -> In Progress), escalated by the agent at t1,
        # released by an admin at t2 (the release's status move at the same time)
        conn.execute(insert(case_assignments).values(
            case_pk=case_pk, assigned_to=agent.id, assigned_by=None, assigned_at=t[0], status_from="Pending",
            status_to="In Progress", released_at=t[2], released_by=admin_id, release_reason="agent deactivated"))
        conn.execute(insert(case_status_history), [
            dict(case_pk=case_pk, at=t[2], by=admin_id, from_value="Escalated", to_value="Pending",
                 comment="agent deactivated"),
            dict(case_pk=case_pk, at=t[1], by=agent.id, from_value="In Progress", to_value="Escalated",
                 comment="promised to pay, then vanished")])
    history = client.get(f"/api/cases/{case_pk}/history", headers=admin_headers)
    assert history.status_code == 200
    assert [{k: e[k] for k in ("kind", "from", "to", "by", "comment")} for e in history.json] == [
        {"kind": "assignment", "from": None, "to": agent.id, "by": None, "comment": None},
        {"kind": "status", "from": "Pending", "to": "In Progress", "by": None, "comment": None},
        {"kind": "status", "from": "In Progress", "to": "Escalated", "by": agent.id,
         "comment": "promised to pay, then vanished"},
        {"kind": "assignment", "from": agent.id, "to": None, "by": admin_id, "comment": "agent deactivated"},
        {"kind": "status", "from": "Escalated", "to": "Pending", "by": admin_id, "comment": "agent deactivated"},
    ]
    assert [datetime.fromisoformat(e["at"]) for e in history.json] == [t[0], t[0], t[1], t[2], t[2]]


def test_a_case_without_history_has_an_empty_list(client, admin_headers, make_case):
    assert client.get(f"/api/cases/{make_case()}/history", headers=admin_headers).json == []


def test_the_openapi_document_describes_the_case_routes(client):
    paths = client.get("/openapi.json").json["paths"]
    assert {"/api/cases", "/api/cases/{case_id}", "/api/cases/{case_id}/update-status",
            "/api/cases/{case_id}/history"} <= set(paths)
    listing = {p["name"] for p in paths["/api/cases"]["get"]["parameters"]}
    assert {"assigned_to", "status", "team", "bank_code", "region", "priority", "min_dpd", "max_dpd", "unassigned",
            "q", "sort", "limit", "cursor"} <= listing
    patch = paths["/api/cases/{case_id}/update-status"]["patch"]
    assert "If-Match" in {p["name"] for p in patch["parameters"]}
    assert {"200", "403", "404", "409", "412"} <= set(patch["responses"])

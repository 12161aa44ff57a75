"""The case listing's SQL: filters, keyset, and the query shape that lets an index serve each page.

Which index serves which question is in docs/cases.md. In short: a page is read in sort order from
one of two index families, `(status, <sort>, id)` and `(assigned_to, <sort>, id)` (and for a team
by DPD, `(status, team, days_past_due, id)`: DPD decides the team), so it costs
about `limit` index entries plus the rows the other filters drop, at any depth:

- a filter naming an assignee (an agent's own queue, `assigned_to`, `unassigned=true`) reads
  `(assigned_to, <sort>, id)`;
- `promise=` reads `(latest_promise, <sort>, id)`, and `on_hold=true` `(<sort>, id) WHERE on_hold`:
  partial indexes of the few cases with a promise, and of the held ones;
- a filter naming a status reads `(status, <sort>, id)` (a priority by amount:
  `(status, priority, due_amount, id)`);
- any other filter reads the same index once per status, each branch in sort order, and merges
  the four short branches (a skip scan by hand: PostgreSQL 16 has none). A status is a small,
  fixed set, and one that correlates with time (new cases are Pending) costs no more than another;
- a case_id prefix, a borrower_ref or a borrower's name: their own index finds the cases, then
  they are sorted (`cases_processed_case_id_key` with text_pattern_ops, `cases_borrower_ref_idx`,
  `cases_borrower_words_idx`): the cost follows the cases that match, not the table.
"""
from __future__ import annotations

from sqlalchemy import any_, cast, func, literal, literal_column, select, tuple_, union_all
from sqlalchemy.dialects.postgresql import ARRAY, array

from domain.case_queries import CaseFilter, CaseSort
from domain.cases import CaseStatus
from store.name_words import ACCENTED, PLAIN
from store.tables import cases_processed

_c = cases_processed.c


def name_words(value):
    """The tsvector of a name as `cases_borrower_words_idx` stores it."""
    return func.to_tsvector(_SIMPLE, func.lower(func.translate(value, _ACCENTED, _PLAIN)))


def _words_query(words: str):
    """All the words, any order, normalized as the names are."""
    return func.plainto_tsquery(_SIMPLE, func.lower(func.translate(words, _ACCENTED, _PLAIN)))


# Literals, not bound values: the planner matches an expression index only against the same
# expression, and a prepared statement's generic plan would not see the values.
_SIMPLE = literal_column("'simple'::regconfig")
_ACCENTED, _PLAIN = literal_column(f"'{ACCENTED}'"), literal_column(f"'{PLAIN}'")


def conditions(f: CaseFilter, sort: CaseSort | None = None, fixed: dict | None = None) -> list:
    """The filter's WHERE conditions (all of them must hold), with a branch's `fixed` leading
    value (see _lead)."""
    fixed = fixed or {}
    equal = {"assigned_to": f.assigned_to, "bank_code": f.bank_code, "region": f.region,
             "status": f.status and f.status.value, "team": f.team and f.team.value,
             "priority": f.priority and f.priority.value, "borrower_ref": f.borrower_ref,
             "latest_promise": f.promise and f.promise.value}
    # under the priority sort, a priority is a range, not an equality: with `priority = X`
    # PostgreSQL reduces ORDER BY priority, id to ORDER BY id and may walk the primary key
    # filtering by status, which correlates with a case's age
    as_range = f.priority is not None and sort is not None and sort.field == "priority"
    where = [_c[name] == value for name, value in equal.items()
             if value is not None and name not in fixed and not (as_range and name == "priority")]
    for name, value in fixed.items():
        column = _c[name]
        where.append(column == any_(cast(array([literal(value, column.type)]), ARRAY(column.type))))
    if as_range:
        where.append(_c.priority.between(f.priority.value, f.priority.value))
    if f.unassigned is not None:
        where.append(_c.assigned_to.is_(None) if f.unassigned else _c.assigned_to.is_not(None))
    if f.min_dpd is not None:
        where.append(_c.days_past_due >= f.min_dpd)
    if f.max_dpd is not None:
        where.append(_c.days_past_due <= f.max_dpd)
    if f.case_id_prefix:
        where.append(_c.case_id.startswith(f.case_id_prefix, autoescape=True))
    if f.borrower is not None:
        where.append(name_words(_c.borrower_name).op("@@")(_words_query(f.borrower)))
    if f.on_hold is not None:
        where.append(_c.on_hold if f.on_hold else ~_c.on_hold)  # as is: the held family's predicate
    return where


def keyset(sort: CaseSort, after: tuple):
    """Rows strictly after `after` in sort order, as one row comparison an index can range-scan."""
    value, last_id = after
    if sort.field == "id":
        return _c.id < last_id if sort.descending else _c.id > last_id
    if sort.field == "priority":
        value = value.value
    # typed as the column (a priority is the enum case_priority, not text)
    here, there = tuple_(_c[sort.field], _c.id), tuple_(literal(value, _c[sort.field].type), last_id)
    return here < there if sort.descending else here > there


def order(sort: CaseSort, lead: tuple[str, ...] = ()) -> list:
    """ORDER BY of a page: the sort field and id, after the `lead` columns the index starts with."""
    columns = [_c[name] for name in lead] + ([_c.id] if sort.field == "id" else [_c[sort.field], _c.id])
    return [col.desc() if sort.descending else col.asc() for col in columns]


def _found_by_own_index(f: CaseFilter) -> bool:
    """A filter whose own index finds its cases, which are then sorted: a case_id prefix or a
    borrower_ref names a few; a borrower's name is read once from its GIN index (merged branches
    would read the name's cases once per status)."""
    return bool(f.case_id_prefix) or f.borrower_ref is not None or f.borrower is not None


def _partitions(f: CaseFilter, sort: CaseSort) -> list[dict]:
    """The branches a page is merged from: one per status the filter leaves open. A priority by
    amount is fixed in each branch too (cases_status_priority_due_amount_idx): priority follows
    the amount, so a walk of all priorities by amount reached Critical cases last."""
    by_priority = {"priority": f.priority.value} if f.priority is not None and sort.field == "due_amount" else {}
    return [{"status": status.value, **by_priority}
            for status in ([f.status] if f.status is not None else CaseStatus)]


def _lead(f: CaseFilter, sort: CaseSort) -> list[dict]:
    """The value each branch fixes in its index's leading column, sent as `= ANY` of a one-value
    array, with ORDER BY starting with it: fixed by an equality, PostgreSQL drops it from the
    order and may then walk the primary key (for `sort=id`) filtering by status, whose cases
    correlate with their age (team=legal&sort=-id: 100,000 rows dropped per branch at 5M). A range
    would do that too, but then the keyset could no longer seek: btree seeks past a column only
    when it is `=`, and `= ANY` is one `=` scan per element."""
    if _found_by_own_index(f):
        return [{}]
    if f.assigned_to is not None:
        return [{"assigned_to": f.assigned_to}]
    if f.unassigned is True:
        return [{}]  # IS NULL: the order starts with assigned_to (see page_ids)
    if f.promise is not None:
        return [{"latest_promise": f.promise.value}]  # cases_promise_<sort>_idx
    if f.on_hold:
        return [{}]  # the predicate of cases_held_<sort>_idx
    return _partitions(f, sort)


def page_ids(f: CaseFilter, sort: CaseSort, *, after: tuple | None, limit: int):
    """The ids (and sort keys) of the page, as a subquery; see the module's docstring for its shape."""
    after_key = [keyset(sort, after)] if after is not None else []
    columns = [_c.id] if sort.field == "id" else [_c.id, _c[sort.field]]
    branches = []
    for fixed in _lead(f, sort):
        lead = tuple(fixed) if fixed else ("assigned_to",) if f.unassigned is True and f.assigned_to is None else ()
        branches.append(select(*columns).where(*conditions(f, sort, fixed), *after_key)
                        .order_by(*order(sort, lead)).limit(limit))
    if len(branches) == 1:
        return branches[0].subquery("page")
    merged = union_all(*branches).subquery("branches")
    keys = [merged.c.id] if sort.field == "id" else [merged.c[sort.field], merged.c.id]
    return (select(merged.c.id).order_by(*(k.desc() if sort.descending else k.asc() for k in keys))
            .limit(limit).subquery("page"))

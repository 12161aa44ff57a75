"""Cases: the listing, one case with its ETag, the status workflow and the history."""
from __future__ import annotations

from flask import request
from flask_jwt_extended import jwt_required

from domain import case_queries, workflow
from domain.case_queries import CaseFilter, CaseSort
from domain.errors import InvalidInput
from domain.promises import PromiseStatus
from web.auth import viewer
from web.extensions import reading, settings, unit_of_work
from web.pagination import decode_cursor, page
from web.payments import utc_today
from web.schemas.cases import CaseListArgs, CasePageSchema, CaseSchema, HistoryEntrySchema, StatusUpdateSchema
from web.smorest import Blueprint

blp = Blueprint("cases", __name__, url_prefix="/api/cases", description="Cases, their status workflow and history")

_ETAG = {"ETag": {"description": 'The case version, quoted: "<version>"', "schema": {"type": "string"}}}
_IF_MATCH = {
    "in": "header", "name": "If-Match", "required": False, "schema": {"type": "string"},
    "description": 'The ETag read before ("<version>"); a case changed since answers 412.',
}
_FILTERS = ("assigned_to", "unassigned", "status", "team", "bank_code", "region", "priority", "min_dpd", "max_dpd",
            "borrower", "borrower_ref")


def _with_etag(case) -> tuple:
    return case, 200, {"ETag": f'"{case.version}"'}


def _if_match() -> frozenset[int] | None:
    """The versions an If-Match header accepts; None when absent or `*` (the case exists)."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    versions = set()
    for tag in (part.strip() for part in header.split(",")):
        weak = tag.startswith("W/")
        opaque = tag[2:] if weak else tag
        if len(opaque) < 2 or opaque[0] != '"' or opaque[-1] != '"':
            raise InvalidInput("If-Match must hold entity tags such as \"3\"", {"If-Match": ["not an entity tag"]})
        if not weak and opaque[1:-1].isdigit():  # If-Match compares strongly: a weak tag never matches
            versions.add(int(opaque[1:-1]))
    return frozenset(versions)


@blp.route("")
@jwt_required()
@blp.arguments(CaseListArgs, location="query")
@blp.response(200, CasePageSchema)
@blp.alt_response(403, description="An agent asked for cases not assigned to it")
def list_cases(args):
    """Cases, filtered and sorted, keyset-paginated; an agent sees only its own."""
    promise = PromiseStatus(args["promise"]) if "promise" in args else None
    case_filter = CaseFilter(case_id_prefix=args.get("q"), promise=promise, on_hold=args.get("on_hold"),
                             **{name: args.get(name) for name in _FILTERS})
    sort = CaseSort.parse(args["sort"])
    after = sort.after(decode_cursor(args["cursor"]))
    with reading() as uow:
        items = case_queries.list_cases(uow, viewer(), case_filter, sort, after=after, limit=args["limit"] + 1)
    return page(items, args["limit"], key=sort.cursor_key)


@blp.route("/<int:case_id>")
@jwt_required()
@blp.response(200, CaseSchema, headers=_ETAG)
@blp.alt_response(404, description="No such case, or not the caller's")
def get_case(case_id: int):
    """One case, with its version as ETag; an agent sees only its own."""
    with reading() as uow:
        return _with_etag(case_queries.get_case(uow, case_id, viewer()))


@blp.route("/<int:case_id>/update-status", methods=["PATCH"])
@jwt_required()
@blp.arguments(StatusUpdateSchema)
@blp.response(200, CaseSchema, headers=_ETAG)
@blp.alt_response(403, description="An agent on a case not assigned to it, or an agent reopening a case")
@blp.alt_response(404, description="No such case")
@blp.alt_response(409, description="The workflow does not allow this transition; `errors.status` lists those it does")
@blp.alt_response(412, description="If-Match names a version the case is no longer at")
@blp.doc(parameters=[_IF_MATCH])
def update_status(change, case_id: int):
    """Move a case along the workflow; history is written with it.

    Resolving with an `amount_recovered` above the case's payments so far records the difference as one
    payment of method `settlement` (below them: 400). Reopening (Resolved → In Progress) is admin only and
    clears `resolved_at`; `amount_recovered` stays the sum of the payments.
    """
    if_match = _if_match()
    with unit_of_work() as uow:
        case = workflow.update_status(uow, case_id, viewer(), if_match=if_match, today=utc_today(),
                                      terms=settings().promise_terms, **change)
    return _with_etag(case)


@blp.route("/<int:case_id>/history")
@jwt_required()
@blp.response(200, HistoryEntrySchema(many=True))
@blp.alt_response(404, description="No such case, or not the caller's")
def case_history(case_id: int):
    """The case's entries, oldest first: status moves, assignments, payments and their reversals
    (`from`/`to`: the amount), promises taken and closed."""
    with reading() as uow:
        return case_queries.case_history(uow, case_id, viewer())

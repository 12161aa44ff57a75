"""Holds: put a case or its borrower on hold, list a case's holds, lift one."""
from __future__ import annotations

from flask_jwt_extended import jwt_required

from domain import hold_book
from web.auth import viewer
from web.extensions import reading, unit_of_work
from web.pagination import decode_cursor, page, strict_int
from web.payments import utc_today
from web.schemas.collecting import ReasonSchema
from web.schemas.contacts import HoldListArgs, HoldPageSchema, HoldSchema, NewHoldSchema
from web.smorest import Blueprint

blp = Blueprint("holds", __name__, url_prefix="/api", description="Holds on a case or its borrower")


@blp.route("/cases/<int:case_id>/holds", methods=["POST"])
@jwt_required()
@blp.arguments(NewHoldSchema)
@blp.response(201, HoldSchema)
@blp.alt_response(400, description="A pause without an `until` after today, an `until` on another type, or "
                                   "malformed input")
@blp.alt_response(403, description="An agent on a case not assigned to it")
@blp.alt_response(404, description="No such case")
@blp.alt_response(409, description="An active hold of this type already covers this scope")
def place_hold(args, case_id: int):
    """Put the case, or every case of its borrower (bank_code + borrower_ref), on hold.

    While on hold a case keeps its status and agent; the contact policy forbids contacting it,
    dispute, cease and bankruptcy holds forbid promises, and assignment runs skip it when unassigned.
    """
    with unit_of_work() as uow:
        return hold_book.place_hold(uow, case_id, viewer(), hold_type=args["type"], reason=args["reason"],
                                    until=args["until"], scope=args["scope"], today=utc_today()), 201


@blp.route("/cases/<int:case_id>/holds")
@jwt_required()
@blp.arguments(HoldListArgs, location="query")
@blp.response(200, HoldPageSchema)
@blp.alt_response(404, description="No such case, or not the caller's")
def list_holds(args, case_id: int):
    """The holds covering the case (its own and its borrower's), oldest first."""
    after = decode_cursor(args["cursor"], strict_int)
    with reading() as uow:
        items = hold_book.list_holds(uow, case_id, viewer(), active=args["active"],
                                     after_id=after[0] if after else None, limit=args["limit"] + 1)
    return page(items, args["limit"], key=lambda hold: [hold.id])


@blp.route("/holds/<int:hold_id>/lift", methods=["POST"])
@jwt_required()
@blp.arguments(ReasonSchema)
@blp.response(200, HoldSchema)
@blp.alt_response(403, description="An agent on a case not assigned to it, or on a cease, bankruptcy or "
                                   "attorney hold (admins only)")
@blp.alt_response(404, description="No such hold")
@blp.alt_response(409, description="The hold is lifted already")
def lift_hold(args, hold_id: int):
    """Lift an active hold."""
    with unit_of_work() as uow:
        return hold_book.lift_hold(uow, hold_id, viewer(), reason=args["reason"])

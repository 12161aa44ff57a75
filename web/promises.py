"""Promises to pay: take one on a case, list a case's, cancel one, and the promises job (admin)."""
from __future__ import annotations

from flask_jwt_extended import current_user, jwt_required

from domain import promise_book
from web.auth import admin_required, viewer
from web.extensions import enqueue, reading, settings, unit_of_work
from web.jobs import accepted
from web.pagination import decode_cursor, page, strict_int
from web.payments import utc_today
from web.schemas.cases import PromiseSchema
from web.schemas.collecting import EvaluateSchema, NewPromiseSchema, PromisePageSchema, ReasonSchema
from web.schemas.common import PageArgs
from web.schemas.jobs import JobSchema
from web.smorest import Blueprint

blp = Blueprint("promises", __name__, url_prefix="/api", description="Promises to pay and the promises job")


@blp.route("/cases/<int:case_id>/promises", methods=["POST"])
@jwt_required()
@blp.arguments(NewPromiseSchema)
@blp.response(201, PromiseSchema)
@blp.alt_response(400, description="amount not > 0 or above the balance, due_date outside today … today + "
                                   "PROMISE_MAX_DAYS, or malformed input")
@blp.alt_response(403, description="An agent on a case not assigned to it")
@blp.alt_response(404, description="No such case")
@blp.alt_response(409, description="The case already has an open promise")
def take_promise(args, case_id: int):
    """Take the borrower's promise to pay `amount` by `due_date`.

    Payments recorded from now on and paid on or after today count toward it; it is kept as soon
    as they reach PROMISE_KEPT_PERCENT of the amount.
    """
    with unit_of_work() as uow:
        return promise_book.take_promise(uow, case_id, viewer(), amount=args["amount"], due_date=args["due_date"],
                                         today=utc_today(), terms=settings().promise_terms), 201


@blp.route("/cases/<int:case_id>/promises")
@jwt_required()
@blp.arguments(PageArgs, location="query")
@blp.response(200, PromisePageSchema)
@blp.alt_response(404, description="No such case, or not the caller's")
def list_promises(args, case_id: int):
    """The case's promises, oldest first."""
    after = decode_cursor(args["cursor"], strict_int)
    with reading() as uow:
        items = promise_book.list_promises(uow, case_id, viewer(), after_id=after[0] if after else None,
                                           limit=args["limit"] + 1)
    return page(items, args["limit"], key=lambda promise: [promise.id])


@blp.route("/promises/<int:promise_id>/cancel", methods=["POST"])
@jwt_required()
@blp.arguments(ReasonSchema)
@blp.response(200, PromiseSchema)
@blp.alt_response(403, description="An agent on a case not assigned to it")
@blp.alt_response(404, description="No such promise")
@blp.alt_response(409, description="The promise is closed already")
def cancel_promise(args, promise_id: int):
    """Cancel an open promise."""
    with unit_of_work() as uow:
        return promise_book.cancel_promise(uow, promise_id, viewer(), reason=args["reason"])


@blp.route("/promises/evaluate", methods=["POST"])
@admin_required
@blp.arguments(EvaluateSchema, required=False)
@blp.response(202, JobSchema, description=(
    "The promises job. Once succeeded, its `result` is `{kept, partial, broken}`: the open promises it "
    "closed. Those past due_date + PROMISE_GRACE_DAYS on as_of close as partial (something paid) or "
    "broken (nothing); any that reached their threshold as kept. The same as_of twice closes nothing twice."))
def evaluate(args):
    """Start a promises job deciding on `as_of` (admin); beat starts one every PROMISE_INTERVAL_SECONDS."""
    with unit_of_work() as uow:
        job = promise_book.request_evaluation(uow, enqueue(), as_of=args.get("as_of") or utc_today(),
                                              created_by=current_user.id)
    return accepted(job)

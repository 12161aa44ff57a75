"""Contacts: record one on a case (made now or reported), a case's contacts, its eligibility."""
from __future__ import annotations

from datetime import UTC, datetime

from flask_jwt_extended import jwt_required

from domain import contact_book
from domain.contacts import NewContact
from web.auth import viewer
from web.extensions import reading, unit_of_work
from web.pagination import decode_cursor, invalid_cursor, page, strict_int
from web.schemas.common import PageArgs
from web.schemas.contacts import ContactPageSchema, ContactSchema, EligibilityArgs, EligibilitySchema, NewContactSchema
from web.smorest import Blueprint

blp = Blueprint("contacts", __name__, url_prefix="/api/cases", description="The contact log and the policy gate")


@blp.route("/<int:case_id>/contacts", methods=["POST"])
@jwt_required()
@blp.arguments(NewContactSchema)
@blp.response(201, ContactSchema, description="The contact, recorded")
@blp.alt_response(200, schema=ContactSchema, success=True,
                  description="The same report again (case, at, channel, direction, outcome): the one recorded")
@blp.alt_response(400, description="Malformed input, or `at` in the future or without offset")
@blp.alt_response(403, description="An agent on a case not assigned to it, or an agent's override_reason")
@blp.alt_response(404, description="No such case")
@blp.alt_response(409, description="Made now, the policy forbids it: the problem lists `reasons` and "
                                   "`next_allowed_at`; nothing is recorded")
def record_contact(args, case_id: int):
    """Record a contact with the borrower.

    Without `at` it is being made now: an outbound contact the contact policy forbids is refused
    (409), unless an admin gives `override_reason`. With `at` it is a report of a past contact:
    always recorded, with the rules it broke in `policy_violations`. A `dispute_raised` outcome
    puts the case on a dispute hold, `cease_requested` the borrower on a cease hold.
    """
    with unit_of_work() as uow:
        contact, new = contact_book.record_contact(uow, case_id, viewer(), NewContact(**args))
    return contact, 201 if new else 200


@blp.route("/<int:case_id>/contacts")
@jwt_required()
@blp.arguments(PageArgs, location="query")
@blp.response(200, ContactPageSchema)
@blp.alt_response(404, description="No such case, or not the caller's")
def list_contacts(args, case_id: int):
    """The case's contacts, oldest first (by `at`)."""
    after = decode_cursor(args["cursor"], _instant, strict_int)
    with reading() as uow:
        items = contact_book.list_contacts(uow, case_id, viewer(), after=tuple(after) if after else None,
                                           limit=args["limit"] + 1)
    return page(items, args["limit"], key=lambda contact: [contact.at.isoformat(), contact.id])


@blp.route("/<int:case_id>/contact-eligibility")
@jwt_required()
@blp.arguments(EligibilityArgs, location="query")
@blp.response(200, EligibilitySchema)
@blp.alt_response(404, description="No such case, or not the caller's")
def eligibility(args, case_id: int):
    """May the borrower be contacted on `channel` at `at` (default now): every reason it may not, and
    the earliest instant it may (null while an indefinite hold forbids it)."""
    with reading() as uow:
        return contact_book.contact_eligibility(uow, case_id, viewer(), channel=args["channel"],
                                                at=args["at"] or utc_now())


def utc_now() -> datetime:
    return datetime.now(UTC)


def _instant(value) -> datetime:
    at = datetime.fromisoformat(value) if isinstance(value, str) else None
    if at is None or at.tzinfo is None:
        raise invalid_cursor()
    return at

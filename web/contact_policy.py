"""The contact policy: its settings and each bank's overrides."""
from __future__ import annotations

from flask_jwt_extended import current_user, jwt_required

from domain import contact_settings
from web.auth import admin_required
from web.extensions import reading, unit_of_work
from web.schemas.contacts import ContactPolicySchema
from web.smorest import Blueprint

blp = Blueprint("contact_policy", __name__, url_prefix="/api/contact-policy", description="The contact policy")


@blp.route("")
@jwt_required()
@blp.response(200, ContactPolicySchema)
def get_policy():
    """The contact policy in force (default: US Regulation F's), with each bank's overrides."""
    with reading() as uow:
        return contact_settings.current_rules(uow).document()


@blp.route("", methods=["PUT"])
@admin_required
@blp.arguments(ContactPolicySchema)
@blp.response(200, ContactPolicySchema)
@blp.alt_response(400, description="window_start not before window_end, an unknown time zone, a count below 0, "
                                   "an unknown setting")
@blp.alt_response(403, description="Not an admin")
def replace_policy(args):
    """Replace the contact policy (settings left out take their defaults); web and workers apply it at once."""
    with unit_of_work() as uow:
        return contact_settings.replace_rules(uow, args, by=current_user.id).document()

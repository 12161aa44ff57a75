"""Assignment API: start a run (POST /api/cases/assign) and the routing bands (/api/assignment/rules)."""
from __future__ import annotations

from flask.views import MethodView
from flask_jwt_extended import current_user, jwt_required

from domain import assignment
from web.auth import admin_required
from web.extensions import enqueue, unit_of_work
from web.jobs import accepted
from web.schemas.assignment import AssignRequestSchema, RulesSchema
from web.schemas.jobs import JobSchema
from web.smorest import Blueprint

blp = Blueprint("assignment", __name__, url_prefix="/api", description="Round-robin assignment and routing bands")


@blp.route("/cases/assign", methods=["POST"])
@admin_required
@blp.arguments(AssignRequestSchema, required=False)
@blp.response(202, JobSchema, description=(
    "The assign job. Once succeeded, its `result` is `{assigned, by_team: {team: n}, "
    "by_agent: {\"<user id>\": n}, left_unassigned: {team: n}, dry_run}`; teams and agents with "
    "nothing are left out, and left_unassigned names the teams without an active agent."))
def assign(args):
    """Start an assignment run (admin); `dry_run` reports the plan and writes nothing."""
    with unit_of_work() as uow:
        job = assignment.request_assignment(uow, enqueue(), dry_run=args.get("dry_run", False),
                                            created_by=current_user.id)
    return accepted(job)


@blp.route("/assignment/rules")
class AssignmentRules(MethodView):
    @jwt_required()
    @blp.response(200, RulesSchema)
    def get(self):
        """The routing bands: DPD up to each band's max_dpd goes to its team."""
        with unit_of_work() as uow:
            return {"bands": assignment.get_bands(uow)}

    @admin_required
    @blp.arguments(RulesSchema)
    @blp.response(200, RulesSchema)
    def put(self, rules):
        """Replace the routing bands (admin); the next run routes open unassigned cases by them."""
        with unit_of_work() as uow:
            return {"bands": assignment.replace_bands(uow, rules["bands"])}

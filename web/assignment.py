"""assignment API (being built)."""
from flask_smorest import Blueprint

blp = Blueprint("assignment", __name__, url_prefix="/api/assignment")

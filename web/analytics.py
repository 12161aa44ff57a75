"""analytics API (being built)."""
from flask_smorest import Blueprint

blp = Blueprint("analytics", __name__, url_prefix="/api/analytics")

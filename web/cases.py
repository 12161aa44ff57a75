"""cases API (being built)."""
from flask_smorest import Blueprint

blp = Blueprint("cases", __name__, url_prefix="/api/cases")

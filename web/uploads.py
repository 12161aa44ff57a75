"""Case file uploads (being built)."""
from flask_smorest import Blueprint

blp = Blueprint("uploads", __name__, url_prefix="/api/cases")

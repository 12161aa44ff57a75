"""Swagger UI assets, served by the app itself (the docs work with no internet)."""
from __future__ import annotations

from flask import Blueprint, Flask, send_from_directory
from swagger_ui_bundle import swagger_ui_path

assets = Blueprint("api_docs_assets", __name__)


@assets.route("/api-docs/assets/<path:filename>")
def asset(filename: str):
    """A file of the Swagger UI bundle."""
    return send_from_directory(swagger_ui_path, filename, max_age=86400)


def init_app(app: Flask) -> None:
    app.register_blueprint(assets)

"""Dependencies point one way: the domain imports neither the frameworks, the drivers nor the adapters."""
from __future__ import annotations

import ast
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[2] / "domain"
FORBIDDEN = {"flask", "celery", "kombu", "sqlalchemy", "psycopg", "redis", "store", "web", "worker", "dcoe"}


def forbidden_imports(source: str, filename: str) -> list[str]:
    """`filename:line imports module` for every import of a forbidden package, wherever it stands."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        else:
            continue
        for module in modules:
            top = module.split(".")[0]
            if top in FORBIDDEN or top.startswith("flask_"):
                found.append(f"{filename}:{node.lineno} imports {module}")
    return found


def test_no_domain_module_imports_flask_celery_sqlalchemy_or_the_store():
    offending = [problem for path in sorted(DOMAIN.rglob("*.py"))
                 for problem in forbidden_imports(path.read_text(), str(path.relative_to(DOMAIN.parent)))]
    assert not offending, "the domain must not import these:\n" + "\n".join(offending)


def test_the_check_sees_imports_in_functions_and_type_checking_blocks_and_flask_extensions():
    source = (
        "from typing import TYPE_CHECKING\n"
        "import json, sqlalchemy.orm\n"
        "if TYPE_CHECKING:\n"
        "    from store.uow import UnitOfWork\n"
        "def f():\n"
        "    import flask_smorest\n"
        "from . import events\n"
        "from domain import storage\n"
    )
    assert forbidden_imports(source, "domain/x.py") == [
        "domain/x.py:2 imports sqlalchemy.orm",
        "domain/x.py:4 imports store.uow",
        "domain/x.py:6 imports flask_smorest",
    ]

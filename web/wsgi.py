"""WSGI entry for servers that want a module attribute: `gunicorn web.wsgi:app`."""
from web import create_app

app = create_app()

"""Alembic environment: the URL comes from the caller (`dcoe db upgrade`) or DATABASE_URL."""
from alembic import context
from sqlalchemy import create_engine, pool

from store import locks
from store.tables import metadata

config = context.config
url = config.get_main_option("sqlalchemy.url")


def run_migrations_online() -> None:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata)
        with context.begin_transaction():
            # several processes may start at once (web replicas, standalone): one migrates
            context.execute(f"SELECT pg_advisory_xact_lock({locks.MIGRATIONS})")
            context.run_migrations()


if context.is_offline_mode():
    context.configure(url=url, target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()

"""Alembic environment: always run on a connection handed in by servanda.platform.migrate."""

from alembic import context

from servanda.models import Base
from servanda.platform.migrate import include_object

connection = context.config.attributes["connection"]
context.configure(
    connection=connection, target_metadata=Base.metadata, compare_type=True, include_object=include_object
)
with context.begin_transaction():
    context.run_migrations()

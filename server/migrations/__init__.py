"""Alembic's migration scripts, shipped inside the package (`script_location = server:migrations`)."""

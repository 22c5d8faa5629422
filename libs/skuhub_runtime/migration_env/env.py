"""The one alembic environment of every service: online only, inside the caller's transaction.

:func:`skuhub_runtime.migrations.upgrade` points alembic here, at the service's
own revisions (``version_locations``) and its schema.
"""

from skuhub_runtime.migrations import run_env

run_env()

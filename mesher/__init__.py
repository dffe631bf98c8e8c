"""Mesher's storage core: PostgreSQL schema, migrations and data access.

- ``mesher.queries`` / ``mesher.aio.queries``: query helpers (sync / async).
- ``mesher.partitions`` / ``mesher.aio.partitions``: daily event partitions.
- ``mesher.models``: Pydantic models; ``mesher.errors``: exceptions.
- ``python -m mesher.migrate``: apply ``sql/schema`` and create partitions.
"""

__version__ = "0.1.0"

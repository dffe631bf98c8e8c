"""Mesher's storage core: PostgreSQL schema, migrations and data access.

- ``mesher.queries`` / ``mesher.aio.queries``: query helpers (sync / async).
- ``mesher.ingest`` / ``mesher.aio.ingest``: the write path.
- ``mesher.partitions`` / ``mesher.aio.partitions``: daily event partitions
  and their maintenance.
- ``mesher.fingerprint``: how events group into issues.
- ``mesher.models``: Pydantic models; ``mesher.errors``: exceptions.
- ``python -m mesher.migrate``: apply ``sql/migrations``, then maintain partitions.
"""

__version__ = "0.1.0"

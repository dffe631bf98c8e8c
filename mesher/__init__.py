"""Mesher's storage core: PostgreSQL schema, migrations and data access.

Each public module has an async twin under ``mesher.aio`` (same names, same
SQL); the sync ones are generated from them.

- ``mesher.queries``: query helpers, one module per entity
  (``organizations``, ``projects``, ``api_keys``, ``users``, ``sessions``,
  ``memberships``, ``issues``, ``events``, ``alert_rules``, ``alerts``),
  each over its ``sql/queries/<entity>.sql``; all reachable from the package.
- ``mesher.ingest``: the write path (native payloads).
- ``mesher.sentry``: events from the official Sentry SDKs (envelopes).
- ``mesher.partitions``: the daily partitions of ``events``.
- ``mesher.maintenance``: ``maintain``, the daily housekeeping.
- ``mesher.fingerprint``: how events group into issues.
- ``mesher.search``: the issue search syntax, parsed (not yet run).
- ``mesher.models``: Pydantic models; ``mesher.errors``: exceptions;
  ``mesher.limits``: the limits checked before SQL runs.
- ``python -m mesher.migrate``: apply ``sql/migrations`` and ``sql/functions``,
  then create the partitions ahead; ``--maintain``: the daily housekeeping.
- ``mesher.embedded``: the project-local PostgreSQL 18 for development.
- ``mesher.testing``: a pytest plugin, a migrated database per test.
"""

__version__ = "0.1.0"

"""Limits that Python enforces before any SQL runs, in one place.

Limits that the database enforces itself (CHECK constraints, such as the
idempotency key's length) live in the DDL only.
"""

from __future__ import annotations

#: Largest page a list helper returns.
MAX_PAGE = 1000
#: Most events one ingest_events call takes.
MAX_BATCH = 1000
#: How long an idempotency key is remembered; maintenance forgets older ones.
IDEMPOTENCY_DAYS = 7
#: Longest alert rule cooldown: one year.
MAX_COOLDOWN_MINUTES = 525_600
#: Most days of event partitions made ahead (migrate --days, maintain's days_ahead).
MAX_DAYS_AHEAD = 10_000
#: The retention of event partitions, in days (migrate --retention-days, maintain).
MIN_RETENTION_DAYS = 1
MAX_RETENTION_DAYS = 100_000
#: Most buckets event_volume returns, and issue_sparklines per issue.
MAX_BUCKETS = 10_000
#: Most points (issues times buckets) one issue_sparklines call returns.
MAX_SPARKLINE_POINTS = 100_000
#: Most top values per tag key that issue_tag_facets returns.
MAX_FACET_VALUES = 100
#: How long the hourly rollups are kept, in days (maintain's
#: rollup_retention_days); bounded like the partitions' retention.
ROLLUP_RETENTION_DAYS = 400
#: The longest issue search query (mesher.search.parse), in characters,
#: and the most terms it may hold.
MAX_SEARCH_LENGTH = 4000
MAX_SEARCH_TERMS = 100
#: The longest relative time in a search (lastSeen:-<n><unit>): about 100 years.
MAX_SEARCH_RELATIVE_DAYS = 36_500
#: How long outcomes (what happened to what SDKs sent) are kept, in days
#: (maintain's outcomes_retention_days): as long as Sentry keeps them.
OUTCOMES_RETENTION_DAYS = 90

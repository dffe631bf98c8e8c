"""Async twins of mesher.queries, ingest, sentry, partitions and maintenance
(same names, same SQL). The sync modules are generated from these by
tools/gen_sync.py."""

"""Async twins of mesher.queries and mesher.partitions (same names, same SQL)."""

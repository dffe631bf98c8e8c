"""Mesher's exceptions, and the one place where database errors become them.

Every public helper is wrapped in :func:`translate_errors`, so callers see
only :class:`MesherError` subclasses. The original driver error stays
available as ``__cause__`` for debugging; messages never include bound
parameter values, so a password, key or token cannot leak through them.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable
from typing import Any, TypeVar, cast

import psycopg
from psycopg import errors as pg

__all__ = [
    "Conflict",
    "DatabaseError",
    "InvalidCredentials",
    "InvalidInput",
    "MesherError",
    "MigrationError",
    "NotFound",
    "translate_errors",
]


class MesherError(Exception):
    """Base class of every error this package raises."""


class NotFound(MesherError):
    """A single-row lookup matched nothing, or a referenced row does not exist."""


class Conflict(MesherError):
    """A uniqueness rule was violated (duplicate slug, email, membership)."""

    def __init__(self, message: str, constraint: str | None = None) -> None:
        super().__init__(message)
        self.constraint = constraint


class InvalidInput(MesherError):
    """An argument was refused, normally before any SQL ran."""


class InvalidCredentials(MesherError):
    """Wrong password or unknown email: deliberately indistinguishable."""


class MigrationError(MesherError):
    """The schema history and the migration files disagree, or a file failed."""


class DatabaseError(MesherError):
    """Any other database failure (connection lost, server error, ...)."""

    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


# What a violated constraint means to a caller. Names are the ones in sql/migrations.
_CONSTRAINT_MESSAGES = {
    "organizations_slug_key": "an organization with this slug already exists",
    "users_email_lower_key": "a user with this email already exists",
    "org_memberships_user_id_org_id_key": "the user is already a member of this organization",
    "projects_org_id_fkey": "organization not found",
    "api_keys_project_id_fkey": "project not found",
    "sessions_user_id_fkey": "user not found",
    "org_memberships_user_id_fkey": "user not found",
    "org_memberships_org_id_fkey": "organization not found",
    "issues_project_id_fkey": "project not found",
    "events_issue_fkey": "issue not found",
    "alerts_rule_fkey": "alert rule not found",
    "issues_assigned_to_fkey": "user not found",
    "alert_rules_project_id_fkey": "project not found",
    "ingest_batches_project_id_fkey": "project not found",
    "sentry_event_ids_project_id_fkey": "project not found",
    "project_rate_limits_project_id_fkey": "project not found",
    "project_outcomes_project_id_fkey": "project not found",
    "ingest_batches_idempotency_key_check": "idempotency_key must be 1 to 200 characters",
}


# On Citus, an error raised on a worker names its constraint in its message
# only, with the shard's id appended for unique and foreign keys
# (``issues_project_id_fkey_102016``); the name Mesher promises is the one
# without it.
_SHARD_CONSTRAINT = re.compile(r'constraint "([^"]+?)(?:_[0-9]+)?"')


def _constraint(exc: psycopg.Error) -> str | None:
    """The violated constraint's name as sql/migrations spells it."""
    if exc.diag.constraint_name:
        return exc.diag.constraint_name
    forwarded = _SHARD_CONSTRAINT.search(exc.diag.message_primary or "")
    return forwarded.group(1) if forwarded else None


def _describe(exc: psycopg.Error) -> str:
    """The server's primary message, or psycopg's first line: never parameters."""
    text = exc.diag.message_primary or str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


def translate(exc: BaseException) -> MesherError:
    """Map a driver error to the matching :class:`MesherError`."""
    if isinstance(exc, MesherError):
        return exc
    if isinstance(exc, UnicodeEncodeError):
        return InvalidInput(f"text cannot be encoded as UTF-8 ({exc.reason})")
    if not isinstance(exc, psycopg.Error):
        return DatabaseError(f"unexpected error: {type(exc).__name__}")
    constraint = _constraint(exc)
    known = _CONSTRAINT_MESSAGES.get(constraint or "")
    if isinstance(exc, pg.UniqueViolation):
        return Conflict(known or f"duplicate value violates {constraint}", constraint)
    if isinstance(exc, pg.ForeignKeyViolation):
        return NotFound(known or f"referenced row not found ({constraint})")
    if isinstance(exc, (pg.CheckViolation, pg.NotNullViolation)):
        return InvalidInput(known or _describe(exc))
    if isinstance(exc, psycopg.DataError):
        # Server-side class 22 (bad value) or psycopg refusing a value, e.g. NUL.
        return InvalidInput(_describe(exc))
    return DatabaseError(_describe(exc), exc.sqlstate)


F = TypeVar("F", bound=Callable[..., Any])


def translate_errors(fn: F) -> F:
    """Decorate a sync or async helper so that only MesherError escapes it."""
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return await fn(*args, **kwargs)
            except MesherError:
                raise
            except (psycopg.Error, UnicodeEncodeError) as exc:
                raise translate(exc) from exc

        return cast(F, async_wrapper)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except MesherError:
            raise
        except (psycopg.Error, UnicodeEncodeError) as exc:
            raise translate(exc) from exc

    return cast(F, wrapper)

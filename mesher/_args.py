"""Argument checks that must run before any SQL.

Only what the database cannot refuse cleanly is checked here: types, id
syntax, closed sets that callers pass as strings, and credential formats.
Messages name the argument and never echo a secret.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Mapping
from enum import Enum
from typing import Any, Literal, TypeVar
from uuid import UUID

from pydantic import BaseModel, ValidationError

from .errors import InvalidInput
from .models import MAX_TAG_NAME, MAX_TAG_VALUE, Role

_SESSION_TOKEN = re.compile(r"[0-9a-f]{64}")
_API_KEY = re.compile(r"mshr_[0-9a-f]{48}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_YYYYMMDD = re.compile(r"[0-9]{8}")
_COUNT_TEXT = re.compile(r"-?[0-9]{1,10}")
BCRYPT_MAX_BYTES = 72
E = TypeVar("E", bound=Enum)
M = TypeVar("M", bound=BaseModel)


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def uuid_arg(value: Any, name: str) -> UUID:
    if isinstance(value, UUID):
        return value
    if isinstance(value, str):
        try:
            return UUID(value)
        except ValueError:
            pass
    raise InvalidInput(f"{name} must be a UUID, got {_preview(value)}")


def optional_uuid_arg(value: Any, name: str) -> UUID | None:
    return None if value is None else uuid_arg(value, name)


def text_arg(value: Any, name: str, *, max_length: int = 1024) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise InvalidInput(f"{name} must not be empty")
    if len(value) > max_length:
        raise InvalidInput(f"{name} is longer than {max_length} characters")
    if "\x00" in value:
        raise InvalidInput(f"{name} contains a NUL character")
    return value


def optional_text_arg(value: Any, name: str, *, max_length: int = 1024) -> str | None:
    return None if value is None else text_arg(value, name, max_length=max_length)


def email_arg(value: Any) -> str:
    email = text_arg(value, "email", max_length=254)
    if not _EMAIL.fullmatch(email):
        raise InvalidInput(f"email is not an address: {_preview(email)}")
    return email


def password_arg(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"password must be a string, got {type(value).__name__}")
    if not value:
        raise InvalidInput("password must not be empty")
    if "\x00" in value:
        raise InvalidInput("password contains a NUL character")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidInput("password is not valid Unicode text") from None
    if size > BCRYPT_MAX_BYTES:
        # bcrypt silently ignores everything past 72 bytes; refuse instead.
        raise InvalidInput(f"password is {size} bytes in UTF-8; the limit is {BCRYPT_MAX_BYTES}")
    return value


def role_arg(value: Any) -> Role:
    return enum_arg(value, Role, "role")


def session_token_arg(value: Any) -> str:
    if not isinstance(value, str) or not _SESSION_TOKEN.fullmatch(value):
        raise InvalidInput("session token must be 64 lowercase hex characters")
    return value


def is_api_key(value: Any) -> bool:
    """Whether a value has the form of a Mesher API key ('mshr_' + 48 hex)."""
    return isinstance(value, str) and _API_KEY.fullmatch(value) is not None


def api_key_arg(value: Any) -> str:
    if not is_api_key(value):
        raise InvalidInput("api key must be 'mshr_' followed by 48 lowercase hex characters")
    key: str = value
    return key


def dsn_id_arg(value: Any) -> int:
    """A DSN's project number: a positive integer, or its decimal digits (as
    it comes out of a URL path)."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        number = int(value)
        value = number if str(number) == value else value  # "0042" is not a canonical id
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        raise InvalidInput(f"dsn_id must be a positive integer, got {_preview(value)}")
    return value


def day_arg(value: Any) -> dt.date:
    """A UTC day: a ``date`` (not a ``datetime``) or a ``'YYYYMMDD'`` string."""
    if isinstance(value, dt.datetime):
        raise InvalidInput("day must be a date or 'YYYYMMDD', not a datetime")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and _YYYYMMDD.fullmatch(value):
        try:
            return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
        except ValueError:
            pass
    raise InvalidInput(f"day must be a date or a valid 'YYYYMMDD' string, got {_preview(value)}")


def count_arg(value: Any, name: str, *, minimum: int = 0, maximum: int = 10_000) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name} must be an integer, got {type(value).__name__}")
    if not minimum <= value <= maximum:
        raise InvalidInput(f"{name} must be between {minimum} and {maximum}, got {value}")
    return value


def aware_datetime_arg(value: Any, name: str) -> dt.datetime:
    if not isinstance(value, dt.datetime) or value.utcoffset() is None:
        raise InvalidInput(f"{name} must be a timezone-aware datetime, got {_preview(value)}")
    return value


def tags_arg(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping) or not value:
        raise InvalidInput("tags must be a non-empty mapping of strings to strings")
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise InvalidInput("tags must be a non-empty mapping of strings to strings")
        text_arg(key, "tag name", max_length=MAX_TAG_NAME)
        if "\x00" in item or len(item) > MAX_TAG_VALUE:
            raise InvalidInput(
                f"tag {key!r}: values are at most {MAX_TAG_VALUE} characters, without NUL"
            )
    return dict(value)


def enum_arg(value: Any, kind: type[E], name: str) -> E:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(str(member.value) for member in kind)
        raise InvalidInput(f"{name} must be one of {allowed}, got {_preview(value)}") from None


def optional_enum_arg(value: Any, kind: type[E], name: str) -> E | None:
    return None if value is None else enum_arg(value, kind, name)


def encode_cursor(at: dt.datetime, row_id: UUID) -> str:
    """An opaque keyset-pagination cursor: the last row's (timestamp, id)."""
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{row_id}".encode()).decode()


def cursor_arg(value: Any) -> tuple[dt.datetime, UUID] | tuple[None, None]:
    if value is None:
        return None, None
    try:
        at, row_id = base64.urlsafe_b64decode(str(value).encode()).decode().split("|")
        parsed = dt.datetime.fromisoformat(at)
        if parsed.utcoffset() is None:
            raise ValueError
        return parsed, UUID(row_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("cursor is not one this API returned") from None


#: The sort orders of search_issues, each with the column of its keyset.
SEARCH_SORTS = {
    "date": "last_seen",
    "new": "first_seen",
    "freq": "event_count",
    "user": "user_count",
}
SearchSort = Literal["date", "new", "freq", "user"]


def search_sort_arg(value: Any) -> str:
    if not isinstance(value, str) or value not in SEARCH_SORTS:
        allowed = ", ".join(SEARCH_SORTS)
        raise InvalidInput(f"sort must be one of {allowed}, got {_preview(value)}")
    return value


def encode_search_cursor(sort: str, key: dt.datetime | int, row_id: UUID) -> str:
    """A search_issues cursor: the sort order, and the last row's sort key and id."""
    text = key.isoformat() if isinstance(key, dt.datetime) else str(key)
    return base64.urlsafe_b64encode(f"{sort}|{text}|{row_id}".encode()).decode()


def search_cursor_arg(value: Any, sort: str) -> tuple[dt.datetime | int, UUID] | tuple[None, None]:
    """The (sort key, id) of a search_issues cursor made for ``sort``."""
    if value is None:
        return None, None
    try:
        made_for, key, row_id = base64.urlsafe_b64decode(str(value).encode()).decode().split("|")
        if made_for not in SEARCH_SORTS:
            raise ValueError
        if made_for != sort:
            raise InvalidInput(f"cursor is for sort {made_for!r}, not {sort!r}")
        if made_for in ("freq", "user"):
            if not _COUNT_TEXT.fullmatch(key) or not -(2**31) <= int(key) < 2**31:
                raise ValueError
            return int(key), UUID(row_id)
        at = dt.datetime.fromisoformat(key)
        if at.utcoffset() is None:
            raise ValueError
        return at, UUID(row_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("cursor is not one this API returned") from None


def model_arg(value: Any, model: type[M], what: str) -> M:
    """A model instance, or a mapping validated into one; ``InvalidInput``
    naming the first problems otherwise (never echoing the values)."""
    if isinstance(value, model):
        return value
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{what}: must be a mapping or {model.__name__}")
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {err['msg']}"
            for err in exc.errors()[:5]
        )
        raise InvalidInput(f"{what}: {problems}") from None

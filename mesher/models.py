"""Pydantic models for Mesher's rows and payloads.

Row models are frozen and built from query rows by the helpers; ids are
UUIDs, timestamps timezone-aware datetimes, and JSONB columns arrive parsed
into the typed sub-models. Credentials never live in a model: ``User`` has
no password hash, ``Session`` no token, and ``ApiKey.key_value`` is a
``SecretStr`` that prints as ``**********``.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated, Any, Literal, NamedTuple, NotRequired
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    TypeAdapter,
    field_validator,
    model_validator,
    with_config,
)
from pydantic_core import PydanticSerializationError
from typing_extensions import TypedDict

__all__ = [
    "Alert",
    "AlertCondition",
    "AlertRule",
    "AlertStatus",
    "ApiKey",
    "Breadcrumb",
    "EnvelopeResult",
    "Event",
    "EventPage",
    "EventPayload",
    "ExceptionInfo",
    "FacetValue",
    "IngestedEvent",
    "Issue",
    "IssueFingerprint",
    "IssuePage",
    "IssueRelease",
    "IssueStatus",
    "OrgMembership",
    "Organization",
    "Outcome",
    "Project",
    "Release",
    "ReleasePage",
    "Role",
    "Session",
    "Severity",
    "SkipReason",
    "SkippedItem",
    "StackFrame",
    "TagFacet",
    "TagKeyBound",
    "TagValueCount",
    "User",
    "most_severe",
]

#: Upper bound of one event, serialized as JSON.
MAX_EVENT_BYTES = 256 * 1024


class Severity(StrEnum):
    """Event and issue level, Sentry's five (LOCKED in the specification)."""

    FATAL = "fatal"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    DEBUG = "debug"


def most_severe(levels: Iterable[Severity]) -> Severity:
    """The most severe of some levels. ``Severity`` lists them most severe
    first: the reverse of the SQL function ``severity_rank``, which ranks
    debug 1 to fatal 5 (tested)."""
    order = list(Severity)
    return min(levels, key=order.index)


class IssueStatus(StrEnum):
    UNRESOLVED = "unresolved"
    RESOLVED = "resolved"
    ARCHIVED = "archived"


class AlertStatus(StrEnum):
    """An alert only moves forward: active, acknowledged, resolved."""

    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Role(StrEnum):
    """An organization member's role."""

    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Payload(BaseModel):
    """Incoming data: unknown fields are refused rather than silently dropped."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_max_length=8192)


# --- event parts (also stored as JSONB) -------------------------------------

Text = Annotated[str, Field(max_length=8192)]
ShortText = Annotated[str, Field(max_length=256)]


# Stack frames and breadcrumbs come by the dozen in every event, so they are
# TypedDicts: validated by Pydantic like a model, but without building a Python
# object per item (measured: 20 frames validate in 11 µs as TypedDicts, 84 µs as
# models). Read them with frame["filename"], frame.get("in_app", False).


@with_config(ConfigDict(extra="forbid"))
class StackFrame(TypedDict):
    filename: ShortText
    function_name: ShortText
    lineno: NotRequired[Annotated[int, Field(ge=0)] | None]
    colno: NotRequired[Annotated[int, Field(ge=0)] | None]
    context_line: NotRequired[Text | None]
    in_app: NotRequired[bool]


@with_config(ConfigDict(extra="forbid"))
class Breadcrumb(TypedDict, total=False):
    timestamp: AwareDatetime | None
    #: Sentry's breadcrumb type ("default", "http", "navigation", ...).
    type: ShortText | None
    category: ShortText | None
    message: Text | None
    level: Severity | None
    data: dict[str, Any]
    #: The id of the Sentry event this breadcrumb stands for (32 hex digits).
    event_id: ShortText | None
    #: Where the breadcrumb was recorded ("manual", "auto.http", ...).
    origin: ShortText | None


class ExceptionInfo(_Payload):
    type_name: ShortText
    value: Text = ""
    module: ShortText | None = None


#: Tag limits, shared by EventPayload and the tag filter's argument check.
MAX_TAG_NAME = 32
MAX_TAG_VALUE = 200
TagKey = Annotated[str, Field(min_length=1, max_length=MAX_TAG_NAME)]
TagValue = Annotated[str, Field(max_length=MAX_TAG_VALUE)]


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


# Serializers of the JSONB columns, in the order of json_columns().
_ADAPTERS: dict[str, TypeAdapter[Any]] = {
    "stacktrace": TypeAdapter(list[StackFrame]),
    "breadcrumbs": TypeAdapter(list[Breadcrumb]),
    "tags": TypeAdapter(dict[str, Any]),
    "extra": TypeAdapter(dict[str, Any]),
    "user_context": TypeAdapter(dict[str, Any]),
}


class EventPayload(_Payload):
    """An event as an SDK sends it; validation bounds every size."""

    message: Text = ""
    level: Severity = Severity.ERROR
    fingerprint: ShortText | None = None
    exception: ExceptionInfo | None = None
    stacktrace: list[StackFrame] = Field(default_factory=list, max_length=250)
    breadcrumbs: list[Breadcrumb] = Field(default_factory=list, max_length=100)
    tags: dict[TagKey, TagValue] = Field(default_factory=dict, max_length=32)
    extra: dict[str, Any] = Field(default_factory=dict, max_length=100)
    user_context: dict[str, Any] = Field(default_factory=dict, max_length=50)
    sdk_name: ShortText | None = None
    sdk_version: ShortText | None = None

    # The JSONB columns as JSON text, made once here: they measure the event,
    # and they are what the write path sends to the database.
    _json: tuple[str | None, str, str, str, str, str] = PrivateAttr()

    @model_validator(mode="after")
    def _storable(self) -> EventPayload:
        try:
            columns = (
                None if self.exception is None else self.exception.model_dump_json(),
                *(_ADAPTERS[name].dump_json(getattr(self, name)).decode() for name in _ADAPTERS),
            )
        except PydanticSerializationError as exc:
            raise ValueError(f"event holds a value that is not JSON: {exc}") from None
        text = "".join(c for c in columns if c)
        # JSON escapes NUL as \u0000; only then walk the values to be sure.
        if "\x00" in self.message or ("\\u0000" in text and _has_nul(self.model_dump())):
            raise ValueError("event contains a NUL character, which PostgreSQL cannot store")
        size = len(text.encode()) + len(self.message.encode())
        if size > MAX_EVENT_BYTES:
            raise ValueError(f"event is {size} bytes as JSON; the limit is {MAX_EVENT_BYTES}")
        self._json = columns  # type: ignore[assignment]
        return self

    def json_columns(self) -> tuple[str | None, str, str, str, str, str]:
        """exception, stacktrace, breadcrumbs, tags, extra and user_context as
        JSON text (made when the payload was validated)."""
        # Straight from the private-attribute dict: self._json goes through
        # BaseModel.__getattr__, measured at 6 µs an event on the write path.
        columns: tuple[str | None, str, str, str, str, str] = self.__pydantic_private__["_json"]  # type: ignore[index]
        return columns


class Event(_Row):
    """A stored event; JSONB columns that are NULL read as empty."""

    id: UUID
    project_id: UUID
    issue_id: UUID
    level: Severity
    message: str
    fingerprint: str
    exception: ExceptionInfo | None
    stacktrace: list[StackFrame]
    breadcrumbs: list[Breadcrumb]
    tags: dict[str, str]
    extra: dict[str, Any]
    user_context: dict[str, Any]
    sdk_name: str | None
    sdk_version: str | None
    received_at: AwareDatetime
    # From the Sentry path (mesher.sentry); None / empty for native events.
    client_event_id: UUID | None = None  # the SDK's event_id
    occurred_at: AwareDatetime | None = None  # the SDK's timestamp
    release: str | None = None
    environment: str | None = None
    dist: str | None = None
    platform: str | None = None
    server_name: str | None = None
    logger: str | None = None
    transaction: str | None = None
    handled: bool | None = None  # False: some exception was not handled (a crash)
    #: The whole exception chain in Sentry's order, the main exception last
    #: (``exception`` is that main one), each with its own stack frames.
    exceptions: list[dict[str, Any]] = Field(default_factory=list)
    #: The rest of a Sentry event: threads, contexts, request, modules, sdk,
    #: logentry, ``_meta`` (what trimming cut) and fields Mesher does not know.
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("stacktrace", "breadcrumbs", "exceptions", mode="before")
    @classmethod
    def _null_list(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("user_context", "data", mode="before")
    @classmethod
    def _null_dict(cls, value: Any) -> Any:
        return {} if value is None else value


# --- issues ------------------------------------------------------------------


class Issue(_Row):
    id: UUID
    project_id: UUID
    fingerprint: str
    title: str
    level: Severity
    status: IssueStatus
    event_count: int
    first_seen: AwareDatetime
    last_seen: AwareDatetime
    assigned_to: UUID | None
    first_release: str | None = None  # the release of its first event that had one
    last_release: str | None = None  # the release of its latest event that had one
    #: Set on a merged source (merge_issues): the target's id. The reads hide
    #: such an issue (get_issue answers its target), so a read returns None.
    merged_into: UUID | None = None
    #: Set when the issue was deleted: hidden from every read.
    deleted_at: AwareDatetime | None = None
    #: Resolved "in the next release" (``resolve_issue(in_release="next")``):
    #: an event of a release first seen after this time reopens it.
    resolved_after: AwareDatetime | None = None
    #: Resolved in this release: an event of it, or of a release first seen
    #: after it, reopens the issue.
    resolved_in_release: str | None = None
    #: Distinct users among its events (the user id, else the email, else
    #: the IP address, else the username), exact.
    user_count: int = 0


class IssueFingerprint(_Row):
    """One fingerprint of an issue (``list_issue_fingerprints``), with its own
    counts: the events it grouped into whichever issue held it."""

    fingerprint: str
    issue_id: UUID
    title: str  # its first event's
    level: Severity  # the most severe of its events
    event_count: int
    first_seen: AwareDatetime
    last_seen: AwareDatetime


class Release(_Row):
    """A release a project has seen (``list_releases``)."""

    release: str
    first_seen: AwareDatetime  # releases are ordered by this
    last_seen: AwareDatetime
    event_count: int
    #: the project's issues whose first release this is
    new_issues: int


class ReleasePage(_Row):
    """A page of releases, most recently first seen first."""

    items: list[Release]
    next_cursor: str | None


class IssueRelease(_Row):
    """An issue's events of one release and environment (``issue_releases``)."""

    release: str
    environment: str | None  # None: events without an environment
    first_seen: AwareDatetime
    last_seen: AwareDatetime
    event_count: int


# --- the tag store -------------------------------------------------------------


class TagValueCount(_Row):
    """One value of a tag key and the events that carried it: in a project
    (``project_tag_values``) or an issue (``FacetValue``)."""

    value: str
    count: int  # events that carried this value
    first_seen: AwareDatetime
    last_seen: AwareDatetime


class TagKeyBound(_Row):
    """A tag key of a project and its bound (``project_tag_key_bounds``,
    migration 0028): how many of its values have rows of their own, and how
    many events carried a value without (never offered by
    ``project_tag_values``, never listed in facets)."""

    key: str
    value_bound: int
    tracked_values: int
    untracked_events: int


class FacetValue(TagValueCount):
    """One of a tag key's top values in an issue."""

    #: count / the issue's event_count: the part of the issue's events that
    #: carried this value (between 0 and 1).
    share: float


class TagFacet(_Row):
    """One tag key of an issue (``issue_tag_facets``)."""

    key: str
    #: how many of the issue's events carried this key, whatever the value
    event_count: int
    #: how many distinct values the key has in the issue (top_values holds
    #: at most the requested number of them); when untracked_events > 0, the
    #: values with rows of their own only: the key has more than this
    distinct_values: int
    top_values: list[FacetValue]  # most seen first, ties by value
    #: events of the key whose value has no row of its own (first seen after
    #: the key reached its project's value_bound): counted in event_count,
    #: never among top_values; 0 when every value is listed by its count
    untracked_events: int = 0


# --- tenancy -----------------------------------------------------------------


class Organization(_Row):
    id: UUID
    name: str
    slug: str
    created_at: AwareDatetime


class Project(_Row):
    id: UUID
    org_id: UUID
    name: str
    platform: str | None
    created_at: AwareDatetime
    #: The integer that names the project in a Sentry DSN:
    #: ``https://<public key>@<host>/<dsn_id>``.
    dsn_id: int
    #: The project's own retention of events, in days (``set_project_retention``);
    #: None: the global one. Only a shorter one has an effect.
    retention_days: int | None = None
    #: Set by ``delete_project``; the helpers never return a deleted project.
    deleted_at: AwareDatetime | None = None


class ApiKey(_Row):
    id: UUID
    project_id: UUID
    key_value: SecretStr
    label: str
    created_at: AwareDatetime
    revoked_at: AwareDatetime | None


class User(_Row):
    """A user as application code sees it: there is no password_hash field."""

    id: UUID
    email: str
    display_name: str
    created_at: AwareDatetime


class OrgMembership(_Row):
    id: UUID
    user_id: UUID
    org_id: UUID
    role: Role
    joined_at: AwareDatetime


class Session(_Row):
    """A live session. The token itself is never stored, so it is not here."""

    user_id: UUID
    created_at: AwareDatetime
    expires_at: AwareDatetime


# --- alerts ------------------------------------------------------------------


class AlertCondition(_Payload):
    condition_type: Literal["threshold", "new_issue", "regression"]
    threshold: int = Field(default=1, gt=0)
    window_minutes: int = Field(default=60, gt=0)


class AlertRule(_Row):
    """A rule; ``condition`` and ``action`` are the columns condition_json and
    action_json, parsed."""

    id: UUID
    project_id: UUID
    name: str
    condition: AlertCondition
    action: dict[str, Any]
    enabled: bool
    cooldown_minutes: int
    last_fired_at: AwareDatetime | None
    created_at: AwareDatetime


class Alert(_Row):
    """One firing of a rule."""

    id: UUID
    rule_id: UUID
    project_id: UUID
    status: AlertStatus
    message: str
    condition_snapshot: AlertCondition
    triggered_at: AwareDatetime
    acknowledged_at: AwareDatetime | None
    resolved_at: AwareDatetime | None


# --- results of the write path and of paginated reads -------------------------


class IngestedEvent(NamedTuple):
    """What the write path did with one event."""

    event_id: UUID
    issue_id: UUID
    new_issue: bool  # the event opened a new issue
    regressed: bool  # the event reopened a resolved issue
    #: A retry of what was stored before (same idempotency key, or an SDK
    #: event id seen before): the fields above are the first arrival's, and
    #: fire_issue_rules does not fire for it again.
    duplicate: bool = False
    #: The SDK's event id (``mesher.sentry``); None for native events.
    client_event_id: UUID | None = None


class SkipReason(StrEnum):
    """Why an envelope item (or a ``/store/`` body) was not stored: stable
    codes for an HTTP layer's outcomes and client reports."""

    #: An item type Mesher does not store (transaction, session, attachment, ...).
    ITEM_TYPE = "item_type"
    #: An event whose body is a transaction (``"type": "transaction"``).
    TRANSACTION = "transaction"
    #: Not an event at all: not UTF-8, not JSON, or not a JSON object.
    INVALID = "invalid"
    #: Still over the size cap once trimmed, or too big to read at all.
    TOO_LARGE = "too_large"
    #: The event could not be read for another reason (a bug: please report it).
    ERROR = "error"


class Outcome(_Row):
    """One count of ``project_outcomes``: what happened to the items that
    SDKs sent a project in one UTC hour (``queries.project_outcomes``)."""

    hour_start: AwareDatetime
    #: Sentry's data category: error, transaction, session, attachment, ...
    category: str
    #: accepted, filtered, rate_limited, invalid or client_discard.
    outcome: str
    #: Why ('' for accepted): a ``SkipReason`` code, or the SDK's own reason
    #: for a client_discard (queue_overflow, ratelimit_backoff, ...).
    reason: str
    quantity: int


class SkippedItem(NamedTuple):
    """An envelope item that was not stored, and why."""

    item_type: str  # "transaction", "session", "attachment", "event", ...
    reason: str  # for people; may change between versions
    code: SkipReason  # for programs: stable


class EnvelopeResult(_Row):
    """What ``mesher.sentry.ingest_envelope`` did with one envelope."""

    events: list[IngestedEvent]  # one per stored event, in envelope order
    skipped: list[SkippedItem]  # the items not stored, in envelope order


class IssuePage(_Row):
    """One page of issues; pass ``next_cursor`` back for the next, None at the end."""

    items: list[Issue]
    next_cursor: str | None


class EventPage(_Row):
    items: list[Event]
    next_cursor: str | None

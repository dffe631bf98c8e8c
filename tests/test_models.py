"""Models: real types, parsed JSONB, bounded payloads, no secrets in reprs."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from mesher import models as m

NOW = dt.datetime(2031, 1, 1, tzinfo=dt.UTC)


def test_sixteen_types() -> None:
    names = {
        "Event", "EventPayload", "Severity", "StackFrame", "ExceptionInfo", "Breadcrumb",
        "Issue", "IssueStatus", "Organization", "Project", "ApiKey", "User",
        "OrgMembership", "Session", "AlertRule", "AlertCondition",
    }  # fmt: skip
    assert names <= set(m.__all__)


def test_enums_are_lowercase_strings() -> None:
    assert [s.value for s in m.Severity] == ["fatal", "error", "warning", "info", "debug"]
    assert [s.value for s in m.IssueStatus] == ["unresolved", "resolved", "archived"]
    assert m.Severity("warning") == "warning"


def _event_row(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": uuid.uuid4(), "project_id": uuid.uuid4(), "issue_id": uuid.uuid4(),
        "level": "error", "message": "boom", "fingerprint": "abc",
        "exception": {"type_name": "ValueError", "value": "bad", "module": "app"},
        "stacktrace": [{"filename": "app.py", "function_name": "run", "lineno": 3,
                        "colno": None, "context_line": "x()", "in_app": True}],
        "breadcrumbs": [{"timestamp": "2031-01-01T00:00:00Z", "category": "http",
                         "message": "GET /", "level": "info", "data": {"status": 200}}],
        "tags": {"env": "prod"}, "extra": {"n": 1}, "user_context": {"id": "u1"},
        "sdk_name": "mesher-py", "sdk_version": "1.0", "received_at": NOW,
    }  # fmt: skip
    row.update(overrides)
    return row


def test_event_parses_jsonb_into_typed_parts() -> None:
    event = m.Event.model_validate(_event_row())
    assert isinstance(event.exception, m.ExceptionInfo)
    assert event.exception.type_name == "ValueError"
    assert event.stacktrace[0] == {
        "filename": "app.py", "function_name": "run", "lineno": 3, "colno": None,
        "context_line": "x()", "in_app": True,
    }  # fmt: skip
    assert event.breadcrumbs[0]["timestamp"] == NOW  # parsed, not a string
    assert event.breadcrumbs[0]["level"] is m.Severity.INFO
    assert event.level is m.Severity.ERROR
    assert event.tags == {"env": "prod"}


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        m.Event.model_validate(_event_row(received_at=dt.datetime(2031, 1, 1)))


def test_user_has_no_password_field() -> None:
    assert "password_hash" not in m.User.model_fields
    with pytest.raises(ValidationError):
        m.User.model_validate(
            {"id": uuid.uuid4(), "email": "a@b", "display_name": "A", "created_at": NOW,
             "password_hash": "$2a$12$..."}
        )  # fmt: skip


def test_api_key_value_is_masked() -> None:
    key = m.ApiKey(
        id=uuid.uuid4(), project_id=uuid.uuid4(), key_value="mshr_" + "a" * 48,  # type: ignore[arg-type]
        label="ci", created_at=NOW, revoked_at=None,
    )  # fmt: skip
    assert "mshr_" not in repr(key) and "mshr_" not in str(key)
    assert "mshr_" not in key.model_dump_json()
    assert key.key_value.get_secret_value().startswith("mshr_")


def test_payload_defaults_and_level() -> None:
    payload = m.EventPayload(message="hi")
    assert payload.level is m.Severity.ERROR
    assert (payload.tags, payload.stacktrace) == ({}, [])
    with pytest.raises(ValidationError, match="level"):
        m.EventPayload(message="hi", level="critical")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("message", "x" * 8193),
        ("tags", {f"k{i}": "v" for i in range(33)}),
        ("tags", {"k" * 33: "v"}),
        ("tags", {"k": "v" * 201}),
        ("tags", {"k": 1}),
        ("stacktrace", [{"filename": "f", "function_name": "g"}] * 251),
        ("breadcrumbs", [{}] * 101),
        ("unknown_field", 1),
    ],
)
def test_payload_bounds(field: str, value: Any) -> None:
    with pytest.raises(ValidationError):
        m.EventPayload.model_validate({"message": "m", field: value})


def test_payload_total_size_is_bounded() -> None:
    big = {f"k{i}": "x" * 8000 for i in range(40)}
    with pytest.raises(ValidationError, match="the limit is 262144"):
        m.EventPayload(message="m", extra=big)


def test_alert_condition_validation() -> None:
    ok = m.AlertCondition(condition_type="threshold", threshold=10, window_minutes=5)
    assert ok.threshold == 10
    for bad in (
        {"condition_type": "sometimes"},
        {"condition_type": "threshold", "threshold": 0},
        {"condition_type": "threshold", "window_minutes": -5},
    ):
        with pytest.raises(ValidationError):
            m.AlertCondition.model_validate(bad)


def test_payload_values_must_be_json() -> None:
    with pytest.raises(ValidationError, match="not JSON"):
        m.EventPayload(message="m", extra={"when": object()})


def test_json_columns_are_what_gets_stored() -> None:
    payload = m.EventPayload.model_validate(
        {"message": "m", "breadcrumbs": [{"timestamp": "2031-01-01T00:00:00Z"}], "tags": {"a": "b"}}
    )
    exception, stacktrace, breadcrumbs, tags, extra, user = payload.json_columns()
    assert (exception, stacktrace, tags, extra, user) == (None, "[]", '{"a":"b"}', "{}", "{}")
    assert breadcrumbs == '[{"timestamp":"2031-01-01T00:00:00Z"}]'


def test_a_literal_backslash_u0000_is_not_a_nul() -> None:
    assert m.EventPayload(message="path C:\\u0000\\x").message == "path C:\\u0000\\x"
    with pytest.raises(ValidationError, match="NUL"):
        m.EventPayload(message="m", tags={"k": "a\x00"})

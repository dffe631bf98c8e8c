"""The Sentry wire format: authentication, Content-Encoding and envelopes.

Pure functions over bytes and headers; nothing here touches the database.
Every refusal is :class:`~mesher.errors.InvalidInput` (a bad body) or
:class:`~mesher.errors.InvalidCredentials` (no usable key), and no message
ever repeats the key.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import brotli  # type: ignore[import-untyped]

from .errors import InvalidCredentials, InvalidInput

__all__ = [
    "MAX_COMPRESSED_BYTES",
    "MAX_DECOMPRESSED_BYTES",
    "MAX_EVENT_BYTES",
    "MAX_ITEMS",
    "MAX_RAW_EVENT_BYTES",
    "Envelope",
    "EnvelopeItem",
    "SentryAuth",
    "decode_body",
    "parse_auth",
    "parse_envelope",
]

#: Limits of Sentry's own ingestion (Relay): a body as received, after
#: Content-Encoding, and one event once trimmed (its stored JSON).
MAX_COMPRESSED_BYTES = 20 * 1024 * 1024
MAX_DECOMPRESSED_BYTES = 100 * 1024 * 1024
MAX_EVENT_BYTES = 1024 * 1024
#: The largest event payload read at all: a bigger one is refused unread;
#: one up to this size is trimmed, then refused only if still over
#: MAX_EVENT_BYTES.
MAX_RAW_EVENT_BYTES = 20 * 1024 * 1024
#: SDKs send one event per envelope, and at most ~100 logs, spans or session
#: aggregates; 1,000 is also what one write-path batch takes.
MAX_ITEMS = 1000

_CHUNK = 1024 * 1024  # decompressed bytes produced per step


# --- authentication -----------------------------------------------------------


@dataclass(frozen=True)
class SentryAuth:
    """What the SDK identified itself with. ``public_key`` is a credential."""

    public_key: str = field(repr=False)
    client: str | None = None
    version: str | None = None


def _auth_fields(value: str, source: str) -> dict[str, str]:
    """``Sentry sentry_key=..., sentry_version=7`` as a dict (prefix optional)."""
    text = value.strip()
    if text[:7].lower() == "sentry ":
        text = text[7:]
    fields: dict[str, str] = {}
    for raw in text.split(","):
        part = raw.strip()
        if not part:
            continue
        name, sep, val = part.partition("=")
        if not sep or not name.strip():
            raise InvalidCredentials(f"malformed {source} header")
        fields[name.strip().lower()] = val.strip().strip('"')
    return fields


def _latin1(value: Any, what: str) -> str:
    """Text as HTTP servers give it: str, or bytes (ASGI) read as latin-1."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("latin-1")
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be str or bytes, got {type(value).__name__}")
    return value


def _header_dict(headers: Any) -> dict[str, str]:
    """Header names (lowercased) to values, from a mapping or (name, value) pairs."""
    try:
        items = headers.items() if isinstance(headers, Mapping) else iter(headers)
        return {
            _latin1(name, "a header name").lower(): _latin1(value, "a header value")
            for name, value in items
        }
    except (TypeError, ValueError):
        raise InvalidInput("headers must be a mapping or (name, value) pairs") from None


def parse_auth(
    headers: Mapping[str, str] | Iterable[tuple[str, str]], query_string: str = ""
) -> SentryAuth:
    """The key from ``X-Sentry-Auth``, ``Authorization: Sentry ...`` or
    ``?sentry_key=``, in that order of preference."""
    lowered = _header_dict(headers)
    query_string = _latin1(query_string, "query_string")
    fields: dict[str, str] = {}
    if "x-sentry-auth" in lowered:
        fields = _auth_fields(lowered["x-sentry-auth"], "X-Sentry-Auth")
    elif lowered.get("authorization", "").lstrip()[:7].lower() == "sentry ":
        fields = _auth_fields(lowered["authorization"], "Authorization")
    if not fields.get("sentry_key"):
        try:
            query = dict(parse_qsl(query_string, keep_blank_values=True))
        except ValueError:
            raise InvalidCredentials("malformed query string") from None
        fields = {k: v for k, v in query.items() if k.startswith("sentry_")} | {
            k: v for k, v in fields.items() if v
        }
    key = fields.get("sentry_key", "")
    if not key:
        raise InvalidCredentials("no Sentry key in the request")
    if len(key) > 256 or not key.isprintable():
        raise InvalidCredentials("malformed Sentry key")
    client, version = fields.get("sentry_client"), fields.get("sentry_version")
    return SentryAuth(key, client or None, version or None)


# --- Content-Encoding -----------------------------------------------------------


def _too_big() -> InvalidInput:
    return InvalidInput(f"body is over {MAX_DECOMPRESSED_BYTES} bytes once decompressed; refused")


def _inflate(body: bytes, wbits: int) -> bytes:
    """zlib/gzip/raw deflate, never producing more than the cap; gzip may
    hold several members, one after the other."""
    out: list[bytes] = []
    total = 0
    data = body
    while True:
        stream = zlib.decompressobj(wbits)
        while True:
            chunk = stream.decompress(data, _CHUNK)
            total += len(chunk)
            if total > MAX_DECOMPRESSED_BYTES:
                raise _too_big()
            out.append(chunk)
            data = stream.unconsumed_tail
            if stream.eof:
                break
            if not data and not chunk:
                raise InvalidInput("compressed body is truncated")
        data = stream.unused_data
        if not (data and wbits > 16 and data.strip(b"\x00")):
            return b"".join(out)


def _unbrotli(body: bytes) -> bytes:
    stream = brotli.Decompressor()
    out: list[bytes] = []
    total = 0
    data = body
    while True:
        chunk = stream.process(data, output_buffer_limit=_CHUNK)
        data = b""
        total += len(chunk)
        if total > MAX_DECOMPRESSED_BYTES:
            raise _too_big()
        out.append(chunk)
        if stream.is_finished():
            return b"".join(out)
        if not chunk and stream.can_accept_more_data():
            raise InvalidInput("compressed body is truncated")


def _deflate(body: bytes) -> bytes:
    # RFC 9110 says zlib-wrapped, but browsers and some clients send raw deflate.
    zlib_header = len(body) >= 2 and body[0] & 0x0F == 8 and (body[0] << 8 | body[1]) % 31 == 0
    return _inflate(body, zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)


_DECODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": lambda body: _inflate(body, 16 + zlib.MAX_WBITS),
    "x-gzip": lambda body: _inflate(body, 16 + zlib.MAX_WBITS),
    "deflate": _deflate,
    "br": _unbrotli,
}


def decode_body(body: bytes, content_encoding: str | None) -> bytes:
    """The body with its Content-Encoding undone, within both size caps."""
    if len(body) > MAX_COMPRESSED_BYTES:
        raise InvalidInput(f"body is {len(body)} bytes; the limit is {MAX_COMPRESSED_BYTES}")
    # "gzip, br" means gzip first, then br: undo them right to left.
    codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
    for coding in reversed(codings):
        if coding in ("", "identity"):
            continue
        decoder = _DECODERS.get(coding)
        if decoder is None:
            raise InvalidInput(f"unsupported Content-Encoding {coding[:40]!r}")
        try:
            body = decoder(body)
        except (zlib.error, brotli.error):
            raise InvalidInput(f"body is not valid {coding} data") from None
    if len(body) > MAX_DECOMPRESSED_BYTES:
        raise _too_big()
    return body


# --- envelopes --------------------------------------------------------------------


@dataclass(frozen=True)
class EnvelopeItem:
    type: str
    headers: dict[str, Any]
    payload: bytes


@dataclass(frozen=True)
class Envelope:
    headers: dict[str, Any]
    items: list[EnvelopeItem]


def _header(line: bytes, where: str) -> dict[str, Any]:
    try:
        value = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidInput(f"{where}: header is not valid UTF-8") from None
    except (ValueError, RecursionError):
        raise InvalidInput(f"{where}: header is not JSON") from None
    if not isinstance(value, dict):
        raise InvalidInput(f"{where}: header is not a JSON object")
    return value


def parse_envelope(body: bytes, content_encoding: str | None = None) -> Envelope:
    """Split an envelope into its header and items; payloads stay bytes."""
    data = decode_body(body, content_encoding)
    end = len(data)
    eol = data.find(b"\n")
    eol = end if eol < 0 else eol
    if not data[:eol].strip():
        raise InvalidInput("envelope is empty: it has no header")
    headers = _header(data[:eol], "envelope")
    items: list[EnvelopeItem] = []
    pos = eol + 1
    while pos < end:
        # Only a blank line can start the trailing newlines: test that first,
        # so that an envelope of many items is not copied once per item.
        if data[pos] in b"\r\n" and not data[pos:].strip(b"\r\n"):
            break  # trailing newlines
        where = f"item {len(items)}"
        if len(items) == MAX_ITEMS:
            raise InvalidInput(f"envelope has more than {MAX_ITEMS} items")
        eol = data.find(b"\n", pos)
        eol = end if eol < 0 else eol
        item_headers = _header(data[pos:eol], where)
        item_type = item_headers.get("type")
        if not isinstance(item_type, str) or not item_type:
            raise InvalidInput(f"{where}: header has no type")
        pos = eol + 1
        length = item_headers.get("length")
        if length is None:
            eol = data.find(b"\n", pos)
            eol = end if eol < 0 else eol
            payload = data[pos:eol]
        elif type(length) is not int or length < 0:
            raise InvalidInput(f"{where} ({item_type[:40]}): length is not a non-negative integer")
        elif pos + length > end:
            raise InvalidInput(
                f"{where} ({item_type[:40]}): length {length} goes past the end of the envelope"
            )
        else:
            payload = data[pos : pos + length]
            eol = pos + length
            if eol < end and data[eol] != 0x0A:
                raise InvalidInput(
                    f"{where} ({item_type[:40]}): payload is not followed by a newline"
                )
        items.append(EnvelopeItem(item_type, item_headers, payload))
        pos = eol + 1
    return Envelope(headers, items)

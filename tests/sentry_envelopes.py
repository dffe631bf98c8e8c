"""Real envelopes, made by the official ``sentry_sdk`` without any network.

``capture(fn, **options)`` runs ``fn`` under a fresh ``sentry_sdk`` client whose
transport keeps each envelope's bytes (``envelope.serialize()``), and returns
them. Each call is isolated: its own client, a forked isolation scope,
cleared, a flush, then the client closed, so nothing leaks from one
capture to the next. ``sentry_sdk`` installs its integrations once per
process; they do nothing while no client is bound.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

PUBLIC_KEY = "mshr_" + "0123456789abcdef" * 3
DSN = f"https://{PUBLIC_KEY}@localhost/1"
LOGGER = logging.getLogger("tests.sentry_app")


class KeepTransport(Transport):
    """A transport that keeps the serialized envelopes instead of sending them."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.envelopes: list[bytes] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope.serialize())

    def flush(self, timeout: float, callback: Any = None) -> None:
        return None

    def kill(self) -> None:
        return None


@contextmanager
def sdk(**options: Any) -> Iterator[KeepTransport]:
    """A fresh client and isolation scope; yields the transport."""
    transport = KeepTransport()
    options = {
        "release": "shop@1.2.3",
        "environment": "production",
        # Integrations the SDK turns on when a library is installed (Starlette,
        # ...) would change its name (sentry.python.starlette) with the venv.
        "auto_enabling_integrations": False,
        **options,
    }
    sentry_sdk.init(dsn=DSN, transport=transport, **options)
    try:
        sentry_sdk.get_global_scope().set_new_propagation_context()
        with sentry_sdk.isolation_scope() as isolation:
            isolation.clear()  # breadcrumbs, tags, trace of an earlier capture
            isolation.set_new_propagation_context()
            with sentry_sdk.new_scope() as scope:
                scope.clear()
                yield transport
        sentry_sdk.flush()
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init(dsn=None)  # later code reports nowhere


def capture(fn: Callable[[], object], **options: Any) -> list[bytes]:
    """The envelopes ``fn`` made the SDK send."""
    with sdk(**options) as transport:
        fn()
    return transport.envelopes


def items(envelope: bytes) -> list[tuple[dict[str, Any], bytes]]:
    """(item header, payload) pairs of an uncompressed envelope, split the
    simple way (every SDK item here has a length)."""
    out = []
    _, _, rest = envelope.partition(b"\n")
    while rest.strip():
        line, _, rest = rest.partition(b"\n")
        header = json.loads(line)
        length = header["length"]
        out.append((header, rest[:length]))
        rest = rest[length + 1 :]
    return out


def combine(*envelopes: bytes) -> bytes:
    """One envelope holding the items of several (the first one's header)."""
    header = envelopes[0].partition(b"\n")[0]
    body = [header]
    for envelope in envelopes:
        body.append(envelope.partition(b"\n")[2].rstrip(b"\n"))
    return b"\n".join(body) + b"\n"


def event_payloads(envelopes: list[bytes]) -> list[bytes]:
    return [p for e in envelopes for h, p in items(e) if h["type"] == "event"]


# --- application code that fails ------------------------------------------------------


class PaymentError(Exception):
    pass


def recurse(n: int) -> None:
    if n == 0:
        raise RecursionError("too deep")
    recurse(n - 1)


def explicit_chain() -> None:
    try:
        try:
            {}["cart"]
        except KeyError as exc:
            raise PaymentError("card declined for order 1042") from exc
    except PaymentError:
        sentry_sdk.capture_exception()


def implicit_chain() -> None:
    try:
        try:
            int("abc")
        except ValueError:
            None.missing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError:
        sentry_sdk.capture_exception()


def deep_stack(depth: int = 20) -> Callable[[], None]:
    def level(n: int, payload: dict[str, Any]) -> None:
        local_list = list(range(n))
        local_text = f"level {n}"
        if n == 0:
            raise PaymentError(f"declined at depth {depth} ({local_text}, {local_list})")
        level(n - 1, payload)

    def run() -> None:
        try:
            level(depth, {"user": "ada", "amount": 12.5})
        except PaymentError:
            sentry_sdk.capture_exception()

    return run


def at_depth(depth: int) -> Callable[[], None]:
    def run() -> None:
        try:
            recurse(depth)
        except RecursionError:
            sentry_sdk.capture_exception()

    return run


def thread_crash() -> None:
    def work() -> None:
        raise PaymentError("worker died")

    previous = threading.excepthook
    threading.excepthook = lambda args: None  # the SDK reports it; keep stderr quiet
    try:
        thread = threading.Thread(target=work, name="worker-1")
        thread.start()
        thread.join()
    finally:
        threading.excepthook = previous


def realistic(i: int) -> Callable[[], None]:
    """The benchmark's event: a chain of 2, ~20 frames each with vars,
    breadcrumbs, tags, user and contexts."""

    def inner(n: int, order: dict[str, Any]) -> None:
        total = order["amount"] * n
        if n == 0:
            raise KeyError(f"sku-{i}")
        inner(n - 1, order) if total >= 0 else None

    def outer(n: int, order: dict[str, Any]) -> None:
        attempt = n
        if n == 0:
            try:
                inner(18, order)
            except KeyError as exc:
                raise PaymentError(f"order {order['id']} failed (attempt {attempt})") from exc
        outer(n - 1, order)

    def run() -> None:
        sentry_sdk.set_tag("region", "eu-west-1")
        sentry_sdk.set_tag("tenant", f"t{i % 7}")
        sentry_sdk.set_user({"id": str(i), "email": f"u{i}@example.com"})
        sentry_sdk.set_context("cart", {"items": 3, "currency": "EUR"})
        for j in range(5):
            sentry_sdk.add_breadcrumb(category="http", message=f"GET /api/{j}", level="info")
        try:
            outer(18, {"id": 1000 + i, "amount": 12.5, "items": ["a", "b"]})
        except PaymentError:
            sentry_sdk.capture_exception()

    return run


# --- timing: python -m tests.sentry_envelopes ----------------------------------------------


def bench(n: int = 1000, rounds: int = 5) -> None:
    """normalize_event over ``n`` real SDK events against the baseline's work:
    json.loads, then json.dumps of the same column values (best of ``rounds``,
    CPU time)."""
    import time

    from mesher._sentry_event import normalize_event

    def many() -> None:
        for i in range(n):
            realistic(i)()

    payloads = event_payloads(capture(many, include_local_variables=True, max_breadcrumbs=10))
    columns = ("exception", "breadcrumbs", "tags", "extra", "user")

    def baseline() -> None:
        for payload in payloads:
            event = json.loads(payload)
            for column in columns:
                json.dumps(event.get(column))
            json.dumps({k: v for k, v in event.items() if k not in columns})

    def normalize() -> None:
        for payload in payloads:
            normalize_event(payload)

    best = {}
    for fn in (baseline, normalize):
        times = []
        for _ in range(rounds):
            start = time.process_time()
            fn()
            times.append(time.process_time() - start)
        best[fn.__name__] = min(times)
    size = sum(map(len, payloads)) / len(payloads)
    print(f"{len(payloads)} events, {size:.0f} bytes each on average")
    for name, seconds in best.items():
        print(f"  {name:9} {seconds * 1000:7.0f} ms")
    print(f"  ratio     {best['normalize'] / best['baseline']:7.2f}")


if __name__ == "__main__":
    bench()

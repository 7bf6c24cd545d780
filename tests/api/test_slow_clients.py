"""BodyReadGuard on real sockets: a body that trickles is cut with 408, readers beyond the limit get
503 without waiting, a whole body reaches the app unchanged, and a chunked body has the size limit."""

from __future__ import annotations

import io
import json
import socket
import threading
import time

import pytest

from pneumoscan.api.slow_clients import BodyReadGuard


class _App:
    """A WSGI app that records the body it was given."""

    def __init__(self):
        self.bodies: list[bytes] = []

    def __call__(self, environ, start_response):
        self.bodies.append(environ["wsgi.input"].read())
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]


def _call(guard, environ) -> tuple[str, dict]:
    seen = {}

    def start_response(status, headers):
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(guard(environ, start_response))
    return seen["status"], json.loads(body) if seen["headers"].get("Content-Type") == "application/json" else {}


@pytest.fixture()
def connection():
    """(server side socket, client side socket), like gunicorn's accepted connection."""
    server, client = socket.socketpair()
    yield server, client
    server.close()
    client.close()


def _environ(server: socket.socket, length: int) -> dict:
    return {"REQUEST_METHOD": "POST", "PATH_INFO": "/api/predict", "CONTENT_LENGTH": str(length),
            "wsgi.input": server.makefile("rb"), "gunicorn.socket": server}


def test_a_body_that_trickles_is_cut_with_408_and_never_reaches_the_app(connection):
    server, client = connection
    app = _App()
    guard = BodyReadGuard(app, grace_s=1.0, min_rate=1000.0, idle_s=5.0)  # 1000 bytes may take 2 s

    def trickle():
        for _ in range(20):
            try:
                client.sendall(b"x")
            except OSError:
                return
            time.sleep(0.3)

    sender = threading.Thread(target=trickle)
    sender.start()
    started = time.monotonic()
    status, body = _call(guard, _environ(server, 1000))
    waited = time.monotonic() - started
    sender.join()
    assert status.startswith("408") and body["error"]["code"] == "request_timeout"
    assert "1000 bytes" in body["error"]["message"]
    assert app.bodies == [] and waited < 5  # cut at the 2 s deadline, not after the whole trickle
    assert guard.readers.acquire(blocking=False)  # the reader's slot was given back


def test_a_pause_longer_than_idle_is_cut_too(connection):
    server, client = connection
    guard = BodyReadGuard(_App(), grace_s=30.0, idle_s=0.5)
    client.sendall(b"abc")
    status, body = _call(guard, _environ(server, 100))
    assert status.startswith("408")


def test_readers_beyond_the_limit_get_503_at_once(connection):
    server, client = connection
    app = _App()
    guard = BodyReadGuard(app, max_readers=1, grace_s=2.0, idle_s=2.0)
    first = threading.Thread(target=_call, args=(guard, _environ(server, 10)))
    first.start()  # waits for a body that does not come
    time.sleep(0.2)
    started = time.monotonic()
    status, body = _call(guard, {"REQUEST_METHOD": "POST", "PATH_INFO": "/api/studies", "CONTENT_LENGTH": "5",
                                 "wsgi.input": io.BytesIO(b"hello")})
    assert time.monotonic() - started < 1
    assert status.startswith("503") and body["error"]["code"] == "busy"
    first.join()
    assert app.bodies == []


def test_a_whole_body_reaches_the_app_unchanged(connection):
    server, client = connection
    app = _App()
    data = bytes(range(256)) * 1000
    sender = threading.Thread(target=client.sendall, args=(data,))
    sender.start()
    status, _ = _call(BodyReadGuard(app), _environ(server, len(data)))
    sender.join()
    assert status.startswith("200") and app.bodies == [data]


def test_a_chunked_body_over_the_limit_is_refused_with_413():
    app = _App()
    guard = BodyReadGuard(app, max_body=1000)
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/api/predict", "HTTP_TRANSFER_ENCODING": "chunked",
               "wsgi.input": io.BytesIO(b"x" * 5000)}
    status, body = _call(guard, environ)
    assert status.startswith("413") and body["error"]["code"] == "payload_too_large" and app.bodies == []
    small = {**environ, "wsgi.input": io.BytesIO(b"y" * 10)}
    assert _call(guard, small)[0].startswith("200") and app.bodies == [b"y" * 10]

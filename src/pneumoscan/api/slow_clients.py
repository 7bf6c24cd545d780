"""Slow clients cannot take every request thread.

gunicorn's threaded worker hands a connection to a thread, and the thread then waits for the request
body at whatever pace the client sends it: twelve clients trickling a byte every two seconds held
every thread, and the health check stopped answering. ``BodyReadGuard`` (WSGI middleware) reads a
request body completely before the app sees it, and:

- at most ``max_readers`` requests per worker may be receiving a body at once (the rest of the
  threads stay free for everything else); a body beyond that is answered 503 with ``Retry-After``
  at once, without waiting for it;
- a body must arrive within ``grace_s + length / min_rate`` seconds (capped at ``max_s``; a chunked
  body gets ``max_s``) and without a pause longer than ``idle_s``; otherwise the read is cut (the
  socket's read side is shut down) and the answer is 408.

Slow request *headers* are the reverse proxy's job (it terminates TLS too; see docs/deploy.md).
"""

from __future__ import annotations

import io
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger(__name__)

_CHUNK = 64 * 1024


class BodyReadGuard:
    """WSGI middleware: bodies are read whole, on a deadline, by a bounded number of threads.

    Args:
        app: the WSGI application.
        max_readers: requests per process that may receive a body at the same time.
        grace_s: seconds every body gets, whatever its size.
        min_rate: bytes per second the rest of the body must average.
        max_s: the longest any body may take.
        idle_s: the longest pause between two pieces of a body.
        max_body: bodies declared larger are left to the app, which refuses them (413) unread.
    """

    def __init__(self, app: Callable, max_readers: int = 6, grace_s: float = 10.0, min_rate: float = 100_000.0,
                 max_s: float = 120.0, idle_s: float = 10.0, max_body: int | None = None):
        self.app = app
        self.max_body = max_body
        self.max_readers = max_readers
        self.readers = threading.BoundedSemaphore(max_readers)
        self.grace_s, self.min_rate, self.max_s, self.idle_s = grace_s, min_rate, max_s, idle_s

    def deadline_s(self, length: int) -> float:
        """Seconds a body of ``length`` bytes may take to arrive."""
        return min(self.max_s, self.grace_s + length / self.min_rate)

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        too_large = self.max_body is not None and length > self.max_body
        if (length <= 0 and not chunked) or too_large or environ.get("wsgi.input") is None:
            return self.app(environ, start_response)
        if not self.readers.acquire(blocking=False):
            log.warning("503: %d request bodies already arriving in this worker; refused %s %s without reading",
                        self.max_readers, environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
            return _error(start_response, "503 Service Unavailable", "busy",
                          "The server is receiving as many uploads as it takes at once; retry in a few seconds.",
                          {"Retry-After": "5"})
        try:
            body = self._read(environ, None if chunked else length)
        finally:
            self.readers.release()
        if body is None:
            allowed = f"{self.max_s:.0f} s" if chunked else f"{self.deadline_s(length):.0f} s for {length} bytes"
            return _error(start_response, "408 Request Timeout", "request_timeout",
                          f"The request body did not arrive in time ({allowed}, with no pause over "
                          f"{self.idle_s:.0f} s). Check the connection and upload again.")
        if self.max_body is not None and len(body) > self.max_body:
            return _error(start_response, "413 Request Entity Too Large", "payload_too_large",
                          f"The request body is too large (the limit is {self.max_body / 1024 / 1024:.0f} MB). "
                          "Upload a single X-ray image; downscale or compress it if needed.")
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.app(environ, start_response)

    def _read(self, environ: dict[str, Any], length: int | None) -> bytes | None:
        """The whole body (``length`` None: chunked, read to its end or just past ``max_body``), or None
        when it came too slowly (the connection is then closed)."""
        stream = environ["wsgi.input"]
        sock: socket.socket | None = environ.get("gunicorn.socket")
        timer = None
        cut = threading.Event()
        if sock is not None:
            def _cut() -> None:  # wakes a read that is still waiting when the deadline passes
                cut.set()
                try:
                    sock.shutdown(socket.SHUT_RD)
                except OSError:
                    pass

            timer = threading.Timer(self.max_s if length is None else self.deadline_s(length), _cut)
            timer.daemon = True
            timer.start()
            previous = sock.gettimeout()
            sock.settimeout(self.idle_s)
        started = time.monotonic()
        parts, received = [], 0
        limit = (self.max_body if self.max_body is not None else 1 << 30) + 1 if length is None else length
        try:
            while received < limit:
                chunk = stream.read(min(_CHUNK, limit - received))
                if not chunk:
                    break
                parts.append(chunk)
                received += len(chunk)
        except (TimeoutError, OSError) as exc:
            log.warning("request body cut after %.1f s: %d of %s bytes (%s)", time.monotonic() - started, received,
                        length, type(exc).__name__)
            cut.set()
        finally:
            if timer is not None:
                timer.cancel()
            if sock is not None:
                try:
                    sock.settimeout(previous)
                except OSError:
                    pass
        if cut.is_set():
            return None
        if length is not None and received < length:
            log.warning("request body ended early: %d of %d bytes", received, length)
        return b"".join(parts)


def _error(start_response: Callable, status: str, code: str, message: str,
           headers: dict[str, str] | None = None) -> list[bytes]:
    body = json.dumps({"error": {"status": int(status.split()[0]), "code": code, "message": message}}).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                            ("Connection", "close"), *(headers or {}).items()])
    return [body]

"""A Temporal remote codec server, so the UI and `temporal` CLI can show encrypted payloads.

    agentfleet codec-server [--host 127.0.0.1] [--port 8081] [--cors-origin URL ...]
    temporal server start-dev --ui-codec-endpoint http://127.0.0.1:8081
    temporal workflow show -w ID --codec-endpoint http://127.0.0.1:8081

Protocol (Temporal's remote codec protocol): `POST .../encode` and `POST .../decode` take and
return `{"payloads": [...]}`, the protobuf JSON mapping of `temporal.api.common.v1.Payloads`
(bytes as base64). Only the last path segment is looked at, so the endpoints may be mounted
under any prefix, such as `/{namespace}/decode`. The UI sends `Content-Type: application/json`
and `X-Namespace`, hence a CORS preflight, which is answered only for the configured origins.

Whoever reaches this server can decrypt payloads, so it binds loopback by default, and
`AGENTFLEET_CODEC_TOKEN` (or `token=`) makes it require `Authorization: Bearer <token>`.
Serving on another interface without a token is refused. Bodies are never logged: a log line
names the endpoint, namespace, payload count and outcome.

Standard library only (plus the codec), like the simulator.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.converter import PayloadCodec

from agentfleet.payloads.codec import EncryptionCodec, PayloadDecryptionError, codec_from_env

ENV_TOKEN = "AGENTFLEET_CODEC_TOKEN"
DEFAULT_PORT = 8081
# The dev server's UI under both names a browser may use for it.
DEFAULT_CORS_ORIGINS: tuple[str, ...] = ("http://localhost:8233", "http://127.0.0.1:8233")
ALLOWED_HEADERS = "content-type, x-namespace, authorization"
# History pages are decoded in batches; Temporal caps one payload at 2 MB.
MAX_BODY = 64 * 1024 * 1024
ENDPOINTS = frozenset({"encode", "decode"})

log = logging.getLogger("agentfleet.payloads.codec_server")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _normalize_origin(origin: str) -> str:
    # Browsers send scheme://host[:port] with no path or trailing slash; configs often add one.
    return origin.strip().rstrip("/").lower()


class CodecServer:
    """The codec HTTP server on a background thread; `port=0` picks a free port (tests)."""

    def __init__(
        self,
        codec: PayloadCodec,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        token: str | None = None,
        cors_origins: Iterable[str] = DEFAULT_CORS_ORIGINS,
    ) -> None:
        self.codec = codec
        self.host = host
        self._requested_port = port
        self.token = token or None
        self.cors_origins = frozenset(_normalize_origin(o) for o in cors_origins if o.strip())
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        # Requests answered, by "<endpoint> <status>": lets tests see the UI really called us.
        self.stats: Counter[str] = Counter()
        self._stats_lock = threading.Lock()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("codec server is not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def bind(self) -> CodecServer:
        """Listen now (OSError if the port is taken); serve with start() or serve_forever()."""
        if self._httpd is None:
            self._httpd = _Server((self.host, self._requested_port), self)
        return self

    def start(self) -> CodecServer:
        if self._thread is not None:
            return self
        self.bind()
        assert self._httpd is not None
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="codec-server", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve on the calling thread until `stop()` from another thread, or Ctrl-C."""
        self.bind()
        assert self._httpd is not None
        self._httpd.serve_forever()

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        if self._thread is not None:
            httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        httpd.server_close()

    def __enter__(self) -> CodecServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def origin_allowed(self, origin: str) -> bool:
        return _normalize_origin(origin) in self.cors_origins

    def authorized(self, header: str | None) -> bool:
        if self.token is None:
            return True
        scheme, _, value = (header or "").partition(" ")
        # Constant time: the comparison must not leak how much of a guess was right.
        return scheme.lower() == "bearer" and hmac.compare_digest(
            value.strip().encode(), self.token.encode()
        )

    def count(self, what: str, status: int) -> None:
        with self._stats_lock:
            self.stats[f"{what} {status}"] += 1

    def convert(self, endpoint: str, payloads: Payloads) -> Payloads:
        if isinstance(self.codec, EncryptionCodec):
            # Pure CPU work with no awaits: no event loop needed per request.
            items = (
                self.codec.encode_sync(payloads.payloads)
                if endpoint == "encode"
                else self.codec.decode_sync(payloads.payloads)
            )
        else:
            method = self.codec.encode if endpoint == "encode" else self.codec.decode
            items = asyncio.run(method(payloads.payloads))
        return Payloads(payloads=items)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], app: CodecServer) -> None:
        self.app = app
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The default prints a traceback whose frames may hold payload bytes; a browser
        # hanging up mid-answer is routine anyway.
        if not isinstance(sys.exc_info()[1], OSError):
            log.error("codec server: internal error (%s)", type(sys.exc_info()[1]).__name__)


class _HttpError(Exception):
    def __init__(self, status: HTTPStatus, message: str, key_id: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.key_id = key_id


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "agentfleet-codec"
    sys_version = ""
    timeout = 60.0

    # --- CORS ---

    def _cors_headers(self) -> None:
        origin = self.headers.get("Origin")
        if origin and self.server.app.origin_allowed(origin):
            self.send_header("Access-Control-Allow-Origin", origin)
            # The UI's "include cross-origin credentials" option needs this, and it requires
            # the exact origin above rather than "*".
            self.send_header("Access-Control-Allow-Credentials", "true")
        self.send_header("Vary", "Origin")

    def do_OPTIONS(self) -> None:
        origin = self.headers.get("Origin")
        if not origin or not self.server.app.origin_allowed(origin):
            # No CORS headers at all: the browser then refuses the real request.
            self._send_json(
                HTTPStatus.FORBIDDEN, {"error": "origin not allowed"}, cors=False, what="preflight"
            )
            return
        self.send_response(HTTPStatus.NO_CONTENT)
        self._cors_headers()
        self.send_header("Access-Control-Allow-Methods", "POST, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", ALLOWED_HEADERS)
        self.send_header("Access-Control-Max-Age", "600")
        if self.headers.get("Access-Control-Request-Private-Network", "").lower() == "true":
            # Chrome asks before a public-origin page may call a loopback server.
            self.send_header("Access-Control-Allow-Private-Network", "true")
        self.send_header("Content-Length", "0")
        self.end_headers()
        self._log(HTTPStatus.NO_CONTENT, "preflight")

    # --- the protocol ---

    def do_POST(self) -> None:
        started = time.monotonic()
        endpoint = urlsplit(self.path).path.rstrip("/").rsplit("/", 1)[-1]
        count = 0
        try:
            if endpoint not in ENDPOINTS:
                self._drain()
                raise _HttpError(HTTPStatus.NOT_FOUND, "unknown endpoint; use /encode or /decode")
            origin = self.headers.get("Origin")
            if origin and not self.server.app.origin_allowed(origin):
                # A page on another origin must not make us decrypt, even blind.
                self._drain()
                raise _HttpError(HTTPStatus.FORBIDDEN, "origin not allowed")
            if not self.server.app.authorized(self.headers.get("Authorization")):
                self._drain()
                raise _HttpError(HTTPStatus.UNAUTHORIZED, "missing or wrong bearer token")
            payloads = self._read_payloads()
            count = len(payloads.payloads)
            try:
                result = self.server.app.convert(endpoint, payloads)
            except PayloadDecryptionError as err:
                raise _HttpError(HTTPStatus.BAD_REQUEST, err.message, err.key_id) from None
            except Exception as err:  # noqa: BLE001 - any codec, any failure: answer, don't die
                # The message may quote payload bytes: say only what kind of failure it was.
                raise _HttpError(
                    HTTPStatus.INTERNAL_SERVER_ERROR, f"codec failed ({type(err).__name__})"
                ) from None
            body = json_format.MessageToDict(result)
            body.setdefault("payloads", [])
            self._send_json(HTTPStatus.OK, body, what=endpoint, count=count, started=started)
        except _HttpError as err:
            doc: dict[str, Any] = {"error": err.message}
            if err.key_id is not None:
                doc["key_id"] = err.key_id
            extra = {"WWW-Authenticate": "Bearer"} if err.status == HTTPStatus.UNAUTHORIZED else {}
            self._send_json(
                err.status, doc, what=endpoint, count=count, started=started, headers=extra
            )

    def do_GET(self) -> None:
        self._send_json(
            HTTPStatus.METHOD_NOT_ALLOWED,
            {"error": "use POST /encode or POST /decode"},
            headers={"Allow": "POST, OPTIONS"},
            what="GET",
        )

    def _content_length(self) -> int:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            raise _HttpError(HTTPStatus.BAD_REQUEST, "bad Content-Length") from None
        if length < 0:
            raise _HttpError(HTTPStatus.BAD_REQUEST, "bad Content-Length")
        return length

    def _drain(self) -> None:
        # An unread body would be parsed as the next request on this keep-alive connection.
        length = self._content_length()
        if length > MAX_BODY:
            self.close_connection = True
            return
        while length > 0:
            chunk = self.rfile.read(min(length, 1 << 16))
            if not chunk:
                break
            length -= len(chunk)

    def _read_payloads(self) -> Payloads:
        length = self._content_length()
        if length > MAX_BODY:
            self.close_connection = True
            raise _HttpError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {MAX_BODY} bytes; send fewer"
            )
        raw = self.rfile.read(length)
        try:
            doc = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise _HttpError(HTTPStatus.BAD_REQUEST, "body is not JSON") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("payloads", []), list):
            raise _HttpError(HTTPStatus.BAD_REQUEST, 'body must be {"payloads": [...]}')
        payloads = Payloads()
        try:
            # ignore_unknown_fields: newer Payload fields must not break an older server.
            json_format.ParseDict(doc, payloads, ignore_unknown_fields=True)
        except json_format.ParseError:
            # ParseError quotes the offending value; that may be payload data.
            raise _HttpError(
                HTTPStatus.BAD_REQUEST,
                "body is not a Payloads message in protobuf JSON (bytes must be base64)",
            ) from None
        return payloads

    def _send_json(
        self,
        status: HTTPStatus,
        doc: dict[str, Any],
        *,
        cors: bool = True,
        what: str = "",
        count: int = 0,
        started: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        body = json.dumps(doc).encode()
        self.send_response(status)
        if cors:
            self._cors_headers()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        detail = doc.get("error") if status >= 400 else None
        self._log(status, what, count, started, detail)

    def _log(
        self,
        status: int,
        what: str,
        count: int = 0,
        started: float | None = None,
        detail: str | None = None,
    ) -> None:
        # Metadata only: the body is exactly what this server exists to keep private.
        self.server.app.count(what or "-", int(status))
        ms = "" if started is None else f" {(time.monotonic() - started) * 1000:.1f}ms"
        log.info(
            "%s %s ns=%s payloads=%d -> %d%s%s",
            self.command,
            what or "-",
            self.headers.get("X-Namespace", "-")[:100] if self.headers else "-",
            count,
            int(status),
            ms,
            f" ({detail})" if detail else "",
        )

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # _log writes one line per request instead

    def log_message(self, format: str, *args: Any) -> None:
        # Protocol errors only; they quote the request line, never headers or body.
        log.warning("codec server: " + format, *args)


def codec_server_command(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    token: str | None = None,
    cors_origins: Sequence[str] = DEFAULT_CORS_ORIGINS,
) -> int:
    """`agentfleet codec-server`: serve until Ctrl-C or SIGTERM. Returns the exit code."""
    from agentfleet.errors import CliError
    from agentfleet.payloads.codec import ENV_KEY, ENV_KEY_FILE, EncryptionConfigError

    try:
        codec = codec_from_env(os.environ)
    except EncryptionConfigError as err:
        raise CliError(str(err)) from None
    if codec is None:
        raise CliError(
            f"no key: set {ENV_KEY} or {ENV_KEY_FILE} (see agentfleet/payloads/codec.py)"
        )
    token = token or os.environ.get(ENV_TOKEN) or None
    if not _is_loopback(host) and token is None:
        raise CliError(
            f"refusing to serve decrypted payloads on {host} without a token; "
            f"set {ENV_TOKEN} or bind 127.0.0.1"
        )
    server = CodecServer(codec, host, port, token=token, cors_origins=cors_origins)
    try:
        server.bind()
    except OSError as e:
        raise CliError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    print(
        f"codec server on {server.url} (keys: {', '.join(codec.key_ids)}; "
        f"active: {codec.active_key_id}; token: {'required' if token else 'off'}; "
        f"CORS: {', '.join(sorted(server.cors_origins)) or 'none'})\n"
        f"  UI:  temporal server start-dev --ui-codec-endpoint {server.url}\n"
        f"  CLI: temporal workflow show -w ID --codec-endpoint {server.url}",
        file=sys.stderr,
        flush=True,
    )

    def _stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.stop()
    return 0

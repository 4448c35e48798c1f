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

A Starlette app on the project's one HTTP stack (`agentfleet/httpserver.py`), like the
simulator.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from google.protobuf import json_format
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from temporalio.api.common.v1 import Payloads
from temporalio.converter import PayloadCodec

from agentfleet.httpserver import ServerOptions, ThreadedServer, read_body, serve_until_interrupted
from agentfleet.payloads.codec import PayloadDecryptionError, codec_from_env

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


class CodecServer(ThreadedServer):
    """The codec HTTP server on a background thread; `port=0` picks a free port (tests).

    Args:
        codec: The codec whose encode and decode the endpoints run.
        host: Interface to bind; loopback unless a token guards it.
        port: Port to bind; 0 picks a free one.
        token: When set, every encode and decode needs `Authorization: Bearer <token>`.
        cors_origins: The web origins (the Temporal UI) whose pages may call this server.
    """

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
        self.token = token or None
        self.cors_origins = frozenset(_normalize_origin(o) for o in cors_origins if o.strip())
        # Requests answered, by "<endpoint> <status>": lets tests see the UI really called us.
        self.stats: Counter[str] = Counter()
        self._stats_lock = threading.Lock()
        methods = ["GET", "POST", "OPTIONS"]
        app = Starlette(routes=[Route("/{path:path}", self._handle, methods=methods)])
        options = ServerOptions(
            host=host, port=port, name="agentfleet-codec", keep_alive_s=60, backlog=64
        )
        super().__init__(app, options)

    @property
    def url(self) -> str:
        """The base URL to give the UI and the CLI, with the host as configured."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def origin_allowed(self, origin: str) -> bool:
        """Whether a page from `origin` may call us: only the configured UI origins."""
        return _normalize_origin(origin) in self.cors_origins

    def authorized(self, header: str | None) -> bool:
        """Whether an `Authorization` header carries the token (always, when there is none)."""
        if self.token is None:
            return True
        scheme, _, value = (header or "").partition(" ")
        # Constant time: the comparison must not leak how much of a guess was right.
        return scheme.lower() == "bearer" and hmac.compare_digest(
            value.strip().encode(), self.token.encode()
        )

    def count(self, what: str, status: int) -> None:
        """Count one answered request under "<what> <status>" (see `stats`)."""
        with self._stats_lock:
            self.stats[f"{what} {status}"] += 1

    async def convert(self, endpoint: str, payloads: Payloads) -> Payloads:
        """Run the codec's encode or decode over a batch of payloads."""
        method = self.codec.encode if endpoint == "encode" else self.codec.decode
        return Payloads(payloads=await method(payloads.payloads))

    # --- the HTTP app ---

    async def _handle(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return self._preflight(request)
        if request.method == "POST":
            return await self._post(request)
        return self._answer(
            request,
            _Outcome(status=HTTPStatus.METHOD_NOT_ALLOWED, what="GET"),
            {"error": "use POST /encode or POST /decode"},
            headers={"Allow": "POST, OPTIONS"},
        )

    def _preflight(self, request: Request) -> Response:
        origin = request.headers.get("Origin")
        if not origin or not self.origin_allowed(origin):
            # No CORS headers at all: the browser then refuses the real request.
            outcome = _Outcome(status=HTTPStatus.FORBIDDEN, what="preflight")
            return self._answer(request, outcome, {"error": "origin not allowed"}, cors=False)
        headers = {
            **self._cors_headers(request),
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": ALLOWED_HEADERS,
            "Access-Control-Max-Age": "600",
        }
        if request.headers.get("Access-Control-Request-Private-Network", "").lower() == "true":
            # Chrome asks before a public-origin page may call a loopback server.
            headers["Access-Control-Allow-Private-Network"] = "true"
        self._log(request, _Outcome(status=HTTPStatus.NO_CONTENT, what="preflight"))
        return Response(status_code=HTTPStatus.NO_CONTENT, headers=headers)

    async def _post(self, request: Request) -> Response:
        endpoint = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        outcome = _Outcome(status=HTTPStatus.OK, what=endpoint, started=time.monotonic())
        try:
            self._admit(request, outcome.what)
            payloads = await _read_payloads(request)
            outcome.count = len(payloads.payloads)
            body = json_format.MessageToDict(await self._convert(outcome.what, payloads))
        except _HttpError as err:
            outcome.status = err.status
            doc: dict[str, Any] = {"error": err.message}
            if err.key_id is not None:
                doc["key_id"] = err.key_id
            extra = {"WWW-Authenticate": "Bearer"} if err.status == HTTPStatus.UNAUTHORIZED else {}
            return self._answer(request, outcome, doc, headers={**extra, **err.headers})
        body.setdefault("payloads", [])
        return self._answer(request, outcome, body)

    def _admit(self, request: Request, endpoint: str) -> None:
        """Refuse, before reading the body, what this server must not answer."""
        if endpoint not in ENDPOINTS:
            raise _HttpError(HTTPStatus.NOT_FOUND, "unknown endpoint; use /encode or /decode")
        origin = request.headers.get("Origin")
        if origin and not self.origin_allowed(origin):
            # A page on another origin must not make us decrypt, even blind.
            raise _HttpError(HTTPStatus.FORBIDDEN, "origin not allowed")
        if not self.authorized(request.headers.get("Authorization")):
            raise _HttpError(HTTPStatus.UNAUTHORIZED, "missing or wrong bearer token")

    async def _convert(self, endpoint: str, payloads: Payloads) -> Payloads:
        try:
            return await self.convert(endpoint, payloads)
        except PayloadDecryptionError as err:
            raise _HttpError(HTTPStatus.BAD_REQUEST, err.message, key_id=err.key_id) from None
        except Exception as err:  # noqa: BLE001 - any codec, any failure: answer, don't die
            # The message may quote payload bytes: say only what kind of failure it was.
            raise _HttpError(
                HTTPStatus.INTERNAL_SERVER_ERROR, f"codec failed ({type(err).__name__})"
            ) from None

    def _cors_headers(self, request: Request) -> dict[str, str]:
        origin = request.headers.get("Origin")
        if not origin or not self.origin_allowed(origin):
            return {"Vary": "Origin"}
        # The UI's "include cross-origin credentials" option needs Allow-Credentials, and it
        # requires the exact origin rather than "*".
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Credentials": "true",
            "Vary": "Origin",
        }

    def _answer(
        self,
        request: Request,
        outcome: _Outcome,
        doc: dict[str, Any],
        *,
        cors: bool = True,
        headers: dict[str, str] | None = None,
    ) -> Response:
        all_headers = {
            **(self._cors_headers(request) if cors else {}),
            "Cache-Control": "no-store",
            **(headers or {}),
        }
        detail = doc.get("error") if outcome.status >= 400 else None
        self._log(request, outcome, detail)
        return Response(
            json.dumps(doc).encode(), outcome.status, all_headers, media_type="application/json"
        )

    def _log(self, request: Request, outcome: _Outcome, detail: str | None = None) -> None:
        # Metadata only: the body is exactly what this server exists to keep private.
        self.count(outcome.what or "-", int(outcome.status))
        started = outcome.started
        ms = "" if started is None else f" {(time.monotonic() - started) * 1000:.1f}ms"
        log.info(
            "%s %s ns=%s payloads=%d -> %d%s%s",
            request.method,
            outcome.what or "-",
            request.headers.get("X-Namespace", "-")[:100],
            outcome.count,
            int(outcome.status),
            ms,
            f" ({detail})" if detail else "",
        )


@dataclass(kw_only=True)
class _Outcome:
    """What one request came to, for its log line and the stats."""

    status: HTTPStatus
    """The status answered."""
    what: str
    """The endpoint ("decode", "encode"), "preflight", or the method refused."""
    count: int = 0
    """Payloads in the request, once it was read."""
    started: float | None = None
    """`time.monotonic()` at the start, for requests whose time is logged."""


class _HttpError(Exception):
    """A refusal, answered as `{"error": message}` with its status."""

    def __init__(
        self,
        status: HTTPStatus,
        message: str,
        *,
        key_id: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.key_id = key_id
        self.headers = headers or {}


async def _read_payloads(request: Request) -> Payloads:
    raw = await read_body(request, MAX_BODY)
    if raw is None:
        # The rest of the body would be read as the next request: close instead.
        raise _HttpError(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            f"body over {MAX_BODY} bytes; send fewer",
            headers={"Connection": "close"},
        )
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
    server.start()
    serve_until_interrupted(server.stop)
    return 0

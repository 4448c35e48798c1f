"""Payload encryption: AES-256-GCM over every payload the SDK writes to Temporal.

Enable it on every client and worker (`agentfleet.client.connect()` reads the env) with one of:

- `AGENTFLEET_ENCRYPTION_KEY`: a base64 32-byte key, or `keyid:base64`. Without an id the key
  is called `default`.
- `AGENTFLEET_ENCRYPTION_KEY_FILE`: a JSON key ring, for rotation::

      {"active": "k2", "keys": {"k1": "<base64>", "k2": "<base64>"}}

  New payloads are encrypted with the active key; any key in the ring decrypts. To rotate,
  add the new key, deploy it everywhere as a read key, then make it active. Drop an old
  key only once no open or retained history holds payloads written with it.

New key: `python -c "from agentfleet.payloads.codec import generate_key; print(generate_key())"`.

An encrypted payload is `{"encoding": "binary/encrypted", "encryption-key-id": id}` with data
`nonce(12) || ciphertext || tag`, the plaintext being the whole serialized inner payload, so
its original encoding and metadata are hidden too. The key id is authenticated data: a payload
relabelled to another id does not decrypt.

Decoding fails closed: an unknown key id, a tampered or truncated ciphertext, or an unknown
encoding raises `PayloadDecryptionError` (non-retryable, naming the key id) rather than
handing anything on. One exception is deliberate: a payload in one of Temporal's plain
encodings (`json/plain`, `binary/null`, ...) passes through unchanged. That is what histories
written before encryption was enabled contain, and what `temporal workflow start --input`
sends; refusing them would strand every workflow started before the switch. It also means
that whoever can write to the Temporal server can inject plain inputs: encryption here
protects confidentiality, not the authenticity of payloads.

Still plaintext on the server: workflow ids and types, search attributes (indexed for the UI's
filters), `workflow.patched()` markers, and failure messages and stack traces, which the
default failure converter keeps outside payloads.

Codecs run in the worker outside the workflow sandbox, so `os.urandom` is fine here.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec
from temporalio.exceptions import ApplicationError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ENV_KEY = "AGENTFLEET_ENCRYPTION_KEY"
ENV_KEY_FILE = "AGENTFLEET_ENCRYPTION_KEY_FILE"
ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
DEFAULT_KEY_ID = "default"
DECRYPTION_ERROR = "PayloadDecryptionError"

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
# Key ids travel in plaintext metadata and in error messages: keep them short and boring.
KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

# What Temporal's own converters write (and `temporal workflow start --input`, and the UI's
# Start Workflow). Anything else that is not ours is refused rather than guessed at.
PLAIN_ENCODINGS = frozenset(
    {
        b"json/plain",
        b"binary/null",
        b"binary/plain",
        b"json/protobuf",
        b"binary/protobuf",
        b"json/external-storage-reference",
    }
)


class EncryptionConfigError(ValueError):
    """The key configuration is unusable. Messages name key ids and files, never key bytes."""


class PayloadDecryptionError(ApplicationError):
    """A payload that must not be read as is: unknown key id, tampered data, unknown encoding.

    Non-retryable: the same bytes fail the same way on every attempt. Raised while a worker
    decodes a workflow activation, it fails the workflow instead of retrying the task forever.
    """

    def __init__(self, message: str, key_id: str | None) -> None:
        super().__init__(message, type=DECRYPTION_ERROR, non_retryable=True)
        self.key_id = key_id


def generate_key() -> str:
    """A fresh random key, base64, for `AGENTFLEET_ENCRYPTION_KEY` or a key file."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def _check_key_id(key_id: str, where: str) -> str:
    if not KEY_ID.fullmatch(key_id):
        raise EncryptionConfigError(
            f"{where}: key id {key_id[:70]!r} must be 1-64 characters of letters, digits, '.', "
            "'_', '-'"
        )
    return key_id


def _decode_key(key_id: str, value: object, where: str) -> bytes:
    # The messages below may be printed and logged: they say what is wrong, never the value.
    if not isinstance(value, str):
        raise EncryptionConfigError(f"{where}: key {key_id!r} must be a base64 string")
    text = value.strip()
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        try:
            raw = base64.urlsafe_b64decode(text.encode("ascii"))
        except (binascii.Error, ValueError):
            raise EncryptionConfigError(f"{where}: key {key_id!r} is not valid base64") from None
    if len(raw) != KEY_BYTES:
        raise EncryptionConfigError(
            f"{where}: key {key_id!r} is {len(raw)} bytes; AES-256 needs {KEY_BYTES}"
        )
    return raw


def _aad(key_id: str) -> bytes:
    return ENCODING + b";" + key_id.encode("ascii")


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM payload codec with a key ring: encrypt with `active`, decrypt with any."""

    def __init__(self, keys: Mapping[str, bytes], active: str) -> None:
        if not keys:
            raise EncryptionConfigError("no encryption keys given")
        for key_id, key in keys.items():
            _check_key_id(key_id, "encryption keys")
            if len(key) != KEY_BYTES:
                raise EncryptionConfigError(
                    f"key {key_id!r} is {len(key)} bytes; AES-256 needs {KEY_BYTES}"
                )
        if active not in keys:
            raise EncryptionConfigError(
                f"active key {active!r} is not among the keys ({', '.join(sorted(keys))})"
            )
        # Imported here, not at the top: `agentfleet.client` imports this module, and the
        # workflow sandbox cannot re-import cryptography's native extension should a workflow
        # module ever import the client. It also keeps startup lean when encryption is off.
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._ciphers: dict[str, AESGCM] = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._active = active

    @property
    def active_key_id(self) -> str:
        """The key new payloads are sealed with."""
        return self._active

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Every key id that decrypts, sorted: safe to print, unlike the keys."""
        return tuple(sorted(self._ciphers))

    def __repr__(self) -> str:
        return f"EncryptionCodec(active={self._active!r}, keys={list(self.key_ids)!r})"

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Seal each payload with the active key; an already sealed one is left as is."""
        return [self._encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Open each sealed payload with its key; plain ones pass, anything else fails closed."""
        return [self._decrypt(p) for p in payloads]

    def _encrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") == ENCODING:
            # Already sealed (e.g. the UI sent back what it was shown): sealing twice would
            # make a payload that one decode cannot open.
            return payload
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self._active].encrypt(
            nonce, payload.SerializeToString(), _aad(self._active)
        )
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID_METADATA: self._active.encode("ascii")},
            data=nonce + sealed,
        )

    def _decrypt(self, payload: Payload) -> Payload:
        encoding = payload.metadata.get("encoding")
        if encoding != ENCODING:
            if encoding in PLAIN_ENCODINGS and KEY_ID_METADATA not in payload.metadata:
                return payload
            # A key id without our encoding means someone rewrote the encoding; an unknown
            # encoding may be ciphertext from another codec. Neither may reach a converter.
            shown = "(none)" if encoding is None else repr(encoding.decode("utf-8", "replace"))
            key_id = self._key_id_of(payload)
            raise PayloadDecryptionError(
                f"refusing payload with encoding {shown}"
                + (f" and encryption key id {key_id!r}" if key_id else "")
                + ": it is neither encrypted by this codec nor a plain Temporal encoding",
                key_id,
            )
        key_id = self._key_id_of(payload)
        if key_id is None:
            raise PayloadDecryptionError(
                f"encrypted payload has no {KEY_ID_METADATA!r} metadata; cannot pick a key", None
            )
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise PayloadDecryptionError(
                f"payload is encrypted with key id {key_id!r}, which this process does not "
                f"have (known: {', '.join(self.key_ids)}); add it to "
                f"{ENV_KEY_FILE} as a read key",
                key_id,
            )
        data = payload.data
        if len(data) < NONCE_BYTES + TAG_BYTES:
            raise PayloadDecryptionError(
                f"encrypted payload for key id {key_id!r} is truncated ({len(data)} bytes)",
                key_id,
            )
        from cryptography.exceptions import InvalidTag

        try:
            plain = cipher.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], _aad(key_id))
        except InvalidTag:
            raise PayloadDecryptionError(
                f"encrypted payload for key id {key_id!r} failed authentication: it was "
                "tampered with, or the key under that id is not the one that encrypted it",
                key_id,
            ) from None
        inner = Payload()
        try:
            inner.ParseFromString(plain)
        except DecodeError:
            # Authenticated but unparseable: written by something else under our key.
            raise PayloadDecryptionError(
                f"payload decrypted with key id {key_id!r} is not a Temporal payload", key_id
            ) from None
        return inner

    @staticmethod
    def _key_id_of(payload: Payload) -> str | None:
        raw = payload.metadata.get(KEY_ID_METADATA)
        if raw is None:
            return None
        # Untrusted bytes headed for an error message: bounded and printable.
        return raw[:64].decode("utf-8", "replace")


def codec_from_key_file(path: Path) -> EncryptionCodec:
    """The codec of a JSON key ring; errors name the file and key ids, never key bytes."""
    where = f"{ENV_KEY_FILE} {path}"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise EncryptionConfigError(
            f"{where}: cannot read: {os.strerror(e.errno) if e.errno else e}"
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        # JSONDecodeError's message quotes no content, only a position.
        raise EncryptionConfigError(f"{where}: not valid JSON ({type(e).__name__})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), dict) or not doc["keys"]:
        raise EncryptionConfigError(
            f'{where}: expected {{"active": "<id>", "keys": {{"<id>": "<base64>", ...}}}}'
        )
    active = doc.get("active")
    if not isinstance(active, str):
        raise EncryptionConfigError(f'{where}: "active" must name one of the keys')
    keys = {
        _check_key_id(key_id, where): _decode_key(key_id, value, where)
        for key_id, value in doc["keys"].items()
    }
    if active not in keys:
        raise EncryptionConfigError(
            f"{where}: active key {active!r} is not among the keys ({', '.join(sorted(keys))})"
        )
    return EncryptionCodec(keys, active)


def codec_from_env(env: Mapping[str, str]) -> EncryptionCodec | None:
    """The codec the env asks for, or None when encryption is off.

    Raises EncryptionConfigError on a bad key, rather than running unencrypted.
    """
    key = (env.get(ENV_KEY) or "").strip()
    key_file = (env.get(ENV_KEY_FILE) or "").strip()
    if key and key_file:
        raise EncryptionConfigError(
            f"both {ENV_KEY} and {ENV_KEY_FILE} are set; set one (a key file can hold many keys)"
        )
    if key_file:
        return codec_from_key_file(Path(key_file))
    if not key:
        return None
    key_id, sep, value = key.partition(":")
    if not sep:
        key_id, value = DEFAULT_KEY_ID, key
    _check_key_id(key_id, ENV_KEY)
    return EncryptionCodec({key_id: _decode_key(key_id, value, ENV_KEY)}, key_id)

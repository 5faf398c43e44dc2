"""Ed25519 signing keys of preparers and reviewers, and signed records.

Why: a manifest of hashes proves nothing on its own: whoever edits a file can edit its hash too.
A signature made with a key that stays outside the run folder ties the manifest (and each sign-off)
to the person who holds that key. Each person has one key pair, kept in their own key folder
(``~/.config/workbench/keys/`` by default, ``WORKBENCH_KEYS_DIR`` to move it), created on first
use with a message saying where; ``WORKBENCH_SIGNING_KEY`` or ``--key`` names a key file instead.
The run records, beside each signature, the signer's name, the public key and its fingerprint, so
anyone can check the signature; whether the key really is that person's is a matter of trust,
which ``trust_of`` answers from the public keys in the verifier's own key folder.

Limit, stated plainly: a signature shows the holder of the key signed. Someone who has the
preparer's private key can re-sign a forged run; that is what re-performance is for.
Ed25519 signatures are deterministic: the same record signed with the same key gives the same bytes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KEYS_ENV = "WORKBENCH_KEYS_DIR"
KEY_ENV = "WORKBENCH_SIGNING_KEY"
PRIVATE_SUFFIX = ".pem"
PUBLIC_SUFFIX = ".pub.pem"
# The fields a signed record carries beside its content; the signature covers everything but itself.
SIGNER_FIELDS = ("signer", "public_key", "key_fingerprint")
SIGNATURE_FIELD = "signature"


class SigningError(ValueError):
    """A key that cannot be created or read (a ValueError, so the command line reports it as input)."""


def keys_dir() -> Path:
    """The key folder: ``WORKBENCH_KEYS_DIR``, else ``$XDG_CONFIG_HOME/workbench/keys``, else ``~/.config/...``."""
    if os.environ.get(KEYS_ENV):
        return Path(os.environ[KEYS_ENV]).expanduser()
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "workbench" / "keys"


def key_slug(name: str) -> str:
    """A file name for a person's key: 'Morgan Lee, Internal Audit Manager' -> 'morgan-lee-internal-audit-manager'."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-")
    if not slug:
        raise SigningError(f"'{name}' cannot name a signing key: give a person's name")
    return slug


def private_key_path(name: str, directory: Path | None = None) -> Path:
    """Where a person's private key lives in the key folder."""
    return (directory or keys_dir()) / f"{key_slug(name)}{PRIVATE_SUFFIX}"


def public_key_path(name: str, directory: Path | None = None) -> Path:
    """Where a person's public key lives in the key folder (the one to hand to colleagues)."""
    return (directory or keys_dir()) / f"{key_slug(name)}{PUBLIC_SUFFIX}"


def fingerprint(public_key_b64: str) -> str:
    """``SHA256:`` and the hex digest of the raw 32-byte public key: what people compare by phone."""
    return "SHA256:" + hashlib.sha256(base64.b64decode(public_key_b64)).hexdigest()


def short(fingerprint_text: str) -> str:
    """A fingerprint shortened for messages (the first 16 hex digits)."""
    return fingerprint_text[:23]


@dataclass(frozen=True)
class SigningKey:
    """A person's private key, loaded: their name, where it came from, and the public half."""

    name: str
    path: Path
    private: Any  # cryptography's Ed25519PrivateKey
    created: bool = False

    @property
    def public_key(self) -> str:
        """The raw public key, base64."""
        from cryptography.hazmat.primitives import serialization

        raw = self.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return base64.b64encode(raw).decode("ascii")

    @property
    def fingerprint(self) -> str:
        """The public key's fingerprint."""
        return fingerprint(self.public_key)


def create_key(name: str, directory: Path | None = None, path: Path | None = None) -> SigningKey:
    """Create a new key pair for ``name``: private key readable by its owner only, public key beside it.

    Never overwrites a key: a lost or replaced key would make every earlier signature unverifiable
    against the key folder.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    target = Path(path) if path is not None else private_key_path(name, directory)
    if target.exists():
        raise SigningError(f"a signing key already exists at {target}; it is never overwritten")
    target.parent.mkdir(parents=True, exist_ok=True)
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    key = SigningKey(name, target, private, created=True)
    public = private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    public_target = target.with_name(target.name.removesuffix(PRIVATE_SUFFIX) + PUBLIC_SUFFIX)
    if not public_target.exists():
        public_target.write_bytes(public)
    return key


def load_key(path: Path, name: str) -> SigningKey:
    """Read a private key file (PEM, Ed25519), with an error that says which file and why."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = Path(path).expanduser()
    try:
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise SigningError(f"cannot read the signing key {path}: {exc}") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise SigningError(f"{path} is not an Ed25519 key; create one with `workbench keys create \"{name}\"`")
    return SigningKey(name, path, private)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def key_for(name: str, key_path: Path | None = None, announce: Callable[[str], None] = _stderr) -> SigningKey:
    """The key ``name`` signs with: ``key_path``, else ``WORKBENCH_SIGNING_KEY``, else their key in the
    key folder, created there on first use (and announced, with its fingerprint)."""
    explicit = key_path or (Path(os.environ[KEY_ENV]) if os.environ.get(KEY_ENV) else None)
    if explicit is not None:
        return load_key(explicit, name)
    path = private_key_path(name)
    if path.is_file():
        return load_key(path, name)
    key = create_key(name)
    announce(f"Created a signing key for {name} at {path} (fingerprint {key.fingerprint}). Keep it private "
             f"and back it up; give colleagues {public_key_path(name)} so they can check your signatures.")
    return key


def canonical(record: dict[str, Any]) -> bytes:
    """The bytes a record's signature covers: its JSON without the signature, keys sorted, compact."""
    content = {k: v for k, v in record.items() if k != SIGNATURE_FIELD}
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8")


def sign_record(record: dict[str, Any], key: SigningKey) -> dict[str, Any]:
    """The record with the signer's name, public key, fingerprint and an Ed25519 signature over all of it."""
    signed = {**record, "signer": key.name, "public_key": key.public_key, "key_fingerprint": key.fingerprint}
    signed[SIGNATURE_FIELD] = base64.b64encode(key.private.sign(canonical(signed))).decode("ascii")
    return signed


def signature_problem(record: dict[str, Any]) -> str | None:
    """Why a signed record's signature does not hold (None when it does): missing, malformed, or not
    matching the content under the public key recorded beside it."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    missing = [f for f in (*SIGNER_FIELDS, SIGNATURE_FIELD) if not record.get(f)]
    if missing:
        return f"no {', '.join(missing)} recorded"
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(record["public_key"], validate=True))
        signature = base64.b64decode(record[SIGNATURE_FIELD], validate=True)
    except (ValueError, TypeError):
        return "the public key or signature is not valid base64 Ed25519 data"
    if fingerprint(record["public_key"]) != record["key_fingerprint"]:
        return "the recorded key fingerprint is not the fingerprint of the recorded public key"
    try:
        public.verify(signature, canonical(record))
    except InvalidSignature:
        return "the signature does not match the signed content (it was edited after signing, or signed by another key)"
    return None


def trusted_keys(directory: Path | None = None) -> dict[str, str]:
    """The public keys in the verifier's key folder: fingerprint -> key name (file name without suffix)."""
    from cryptography.hazmat.primitives import serialization

    folder = directory or keys_dir()
    found: dict[str, str] = {}
    for path in sorted(folder.glob(f"*{PUBLIC_SUFFIX}")) if folder.is_dir() else []:
        try:
            public = serialization.load_pem_public_key(path.read_bytes())
            raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        except (ValueError, TypeError, OSError):
            continue
        found[fingerprint(base64.b64encode(raw).decode("ascii"))] = path.name.removesuffix(PUBLIC_SUFFIX)
    return found


@dataclass(frozen=True)
class Trust:
    """Whether the verifier knows the key a record was signed with: ``known``, ``unknown`` or ``mismatch``."""

    status: str
    message: str


def trust_of(record: dict[str, Any], directory: Path | None = None) -> Trust:
    """Compare a signed record's key with the verifier's key folder.

    ``known``: the folder holds that very key under the signer's name. ``mismatch``: the folder holds
    a different key for the signer's name (or this key under another name): the signature is not
    theirs. ``unknown``: the folder has no key for the signer; the fingerprint must be confirmed with
    them (or the run re-performed).
    """
    folder = directory or keys_dir()
    keys = trusted_keys(folder)
    signer, key_fp = str(record.get("signer", "")), str(record.get("key_fingerprint", ""))
    try:
        slug = key_slug(signer)
    except SigningError:
        slug = ""
    if keys.get(key_fp) == slug:
        return Trust("known", f"{signer}'s key in your key folder {folder}")
    if key_fp in keys:
        return Trust("mismatch", f"the key {short(key_fp)}… belongs to '{keys[key_fp]}' in your key folder {folder}, "
                                 f"not to {signer}")
    registered = [fp for fp, name in keys.items() if name == slug]
    if registered:
        return Trust("mismatch", f"{signer}'s key in your key folder {folder} is {short(registered[0])}…, not the "
                                 f"{short(key_fp)}… this was signed with: the signature is not {signer}'s")
    return Trust("unknown", f"no key of {signer} in your key folder {folder}: confirm the fingerprint "
                            f"{key_fp} with {signer} (or run workbench verify --reperform)")

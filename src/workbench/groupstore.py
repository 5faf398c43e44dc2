"""Where an audit group's files live: a shared folder, or object storage reached through an fsspec URL.

Why a module of its own: object stores (``s3://`` and the other fsspec filesystems) have no folders,
no renames and no atomic replace, which is how a run folder is made complete on a disk
(``runfolder``). So a group whose ``out`` is a URL is run differently, and this module holds what
that takes, built on fsspec (``s3fs`` for ``s3://``) rather than by hand:

- a worker works in a local scratch folder of its own: the period file, its exports and the
  auditors' record files beside it are fetched into it in the bucket's layout (so the period
  file's relative paths resolve as they do in the bucket) and frozen and hashed there exactly as
  ``workbench run`` does;
- a run folder is *published* to the store by uploading every file (one PUT each), and then, last,
  its sealed ``manifest.json``: a single-object PUT is atomic, so a run folder without its
  manifest is unfinished, as ``runfolder.is_incomplete`` already says of a folder on disk. A copy
  downloaded whole is an ordinary run folder: ``workbench verify`` works on it unchanged;
- every problem reaching the store (no bucket, no credentials, a URL style the group does not use)
  is a sentence naming the key and the URL.

Credentials and endpoints come from the machine, as for any fsspec/boto client (for ``s3://``:
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` or a profile, ``AWS_ENDPOINT_URL`` for a
compatible server); they are never written into the group file or the run.
"""

from __future__ import annotations

import posixpath
import re
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")
#: How each kind of problem reaching a store is named (by the class name of the library's error).
_NO_CREDENTIALS = {"NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError"}


def scheme(location: str) -> str | None:
    """The URL scheme of ``location`` (``s3`` of ``s3://bucket/key``), or None for a path."""
    match = _URL.match(location)
    return match.group("scheme").lower() if match else None


def is_url(location: str | Path) -> bool:
    """Whether ``location`` is a storage URL rather than a path on this machine."""
    return isinstance(location, str) and scheme(location) is not None


def join(url: str, *parts: str) -> str:
    """``url`` with ``parts`` appended, '/'-separated, '..' and '.' resolved (never above the bucket)."""
    head = _URL.match(url)
    assert head is not None, url
    rest = posixpath.normpath("/".join([url[head.end():].rstrip("/"), *parts]))
    return f"{head.group(0)}{rest}"


def filesystem(url: str) -> tuple[Any, str]:
    """The fsspec filesystem of ``url`` and the path within it (cached per process by fsspec)."""
    import fsspec

    return fsspec.core.url_to_fs(url)


def key_path(url: str) -> PurePosixPath:
    """The URL without its scheme (``bucket/prefix/...``): what links between objects are made of."""
    head = _URL.match(url)
    return PurePosixPath(url[head.end():] if head else url)


def known_storage(name: str) -> bool:
    """Whether fsspec has a filesystem for the scheme ``name`` installed here."""
    import fsspec

    try:
        fsspec.get_filesystem_class(name)
    except (ValueError, ImportError):
        return False
    return True


def describe_error(exc: BaseException, url: str, what: str) -> str:
    """An auditor's sentence for a failure reaching ``url`` (``what``: e.g. 'read the period file')."""
    name = type(exc).__name__
    if name in _NO_CREDENTIALS:
        return (f"no credentials to {what} {url}: give this machine and every worker the storage's credentials "
                f"(for s3://: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or an AWS profile)")
    if isinstance(exc, PermissionError):
        return f"access to {url} was refused: the credentials given may not {what} it ({exc})"
    if isinstance(exc, FileNotFoundError):
        return f"{url} does not exist: cannot {what} it"
    return f"cannot {what} {url}: {name}: {exc}"


def bucket_problem(url: str) -> str | None:
    """Why the bucket (the first part of the URL's path) of a group's ``out`` cannot be used, or None.
    Listed, not just looked up: a lookup without credentials says "not there" instead of why."""
    try:
        fs, path = filesystem(url)
        bucket = path.strip("/").split("/")[0]
        fs.ls(bucket, detail=False)
    except FileNotFoundError:
        return (f"the bucket '{bucket}' of {url} does not exist (or these credentials cannot see it): create it, "
                "or correct the URL")
    except Exception as exc:
        return describe_error(exc, url, "write the group's runs to")
    return None


def file_problem(url: str, what: str = "period file") -> str | None:
    """Why the object at ``url`` cannot be read, or None."""
    try:
        fs, path = filesystem(url)
        if fs.info(path).get("type") != "file":
            return f"the {what} {url} is a folder, not a file"
    except FileNotFoundError:
        return f"the {what} {url} does not exist"
    except Exception as exc:
        return describe_error(exc, url, f"read the {what}")
    return None


def read_bytes(url: str) -> bytes:
    """The content of one object."""
    fs, path = filesystem(url)
    return fs.cat_file(path)


def write_bytes(url: str, data: bytes) -> None:
    """Write one object in one PUT: readers see all of it or none of it."""
    fs, path = filesystem(url)
    fs.pipe_file(path, data)


def exists(url: str) -> bool:
    """Whether an object (or a prefix with objects under it) exists at ``url``."""
    fs, path = filesystem(url)
    return fs.exists(path)


def list_files(url: str, suffix: str = "") -> list[str]:
    """The URLs of every object under the prefix ``url`` ending in ``suffix``, sorted."""
    fs, path = filesystem(url)
    if not fs.exists(path):
        return []
    found = fs.find(path)
    return sorted(join(url, posixpath.relpath(p, path.rstrip("/"))) for p in found if p.endswith(suffix))


def remove(url: str) -> None:
    """Remove every object under the prefix ``url`` (nothing if there is none)."""
    fs, path = filesystem(url)
    if fs.exists(path):
        fs.rm(path, recursive=True)


def fetch(url: str, target: Path) -> Path:
    """Download one object to ``target`` (its folders made); return ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fs, path = filesystem(url)
    fs.get_file(path, str(target))
    return target


def download_folder(url: str, target: Path) -> Path:
    """Download every object under the prefix ``url`` into the folder ``target`` (relative layout kept)."""
    fs, path = filesystem(url)
    base = path.rstrip("/")
    for remote in sorted(fs.find(base)):
        fetch(join(url, posixpath.relpath(remote, base)), target / posixpath.relpath(remote, base))
    return target


def upload_folder(folder: Path, url: str, skip: frozenset[str] = frozenset()) -> list[str]:
    """Upload every file under ``folder`` to the prefix ``url`` (relative layout kept), except the
    relative paths in ``skip``; return the relative paths uploaded, in order."""
    fs, path = filesystem(url)
    uploaded = []
    for local in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        relative = local.relative_to(folder).as_posix()
        if relative in skip:
            continue
        fs.put_file(str(local), f"{path.rstrip('/')}/{relative}")
        uploaded.append(relative)
    return uploaded


def mirror_path(scratch: Path, url: str) -> Path:
    """Where the object at ``url`` is kept in a local scratch folder: the bucket's layout under it, so
    relative paths between objects are relative paths between the local copies."""
    return Path(scratch) / key_path(url)


def fetch_period(parameter_url: str, scratch: Path) -> Path:
    """Fetch a period file, its exports and the auditors' record files beside it into ``scratch``,
    in the bucket's layout; return the local period file.

    An export the period file names that is not in the store is not fetched: ``workbench check``
    then reports it, naming the source. Raises ``FileNotFoundError`` naming the URL when the period
    file itself is missing.
    """
    from workbench.parameters import load_period
    from workbench.runner import auditor_record_files

    local = fetch(parameter_url, mirror_path(scratch, parameter_url))
    folder = posixpath.dirname(parameter_url)
    for record in auditor_record_files(local).values():
        record_url = join(folder, record.name)
        if exists(record_url):
            fetch(record_url, record)
    try:
        params = load_period(local)
    except Exception:  # the period file's own problems are reported by ``workbench check``
        return local
    for source in params.sources:
        if scheme(str(source.path)) or posixpath.isabs(str(source.path)):
            continue  # not inside the store: ``workbench check`` names it
        source_url = join(folder, str(source.path))
        if exists(source_url):
            fetch(source_url, mirror_path(scratch, source_url))
    return local


def new_scratch() -> Path:
    """A new local scratch folder for one worker process (removed by ``remove_scratch``)."""
    return Path(tempfile.mkdtemp(prefix="workbench-group-"))


def remove_scratch(folder: Path) -> None:
    """Remove a scratch folder and everything fetched into it."""
    shutil.rmtree(folder, ignore_errors=True)

"""Identity-provider event logs: the Okta System Log (NDJSON or a JSON array) -> ``events``."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..arrowtext import _fold, _np
from ..context import ReadContext
from ..contract import _TEXT, SET
from ..errors import DuplicateRow, PopulationError, RejectedRow
from ..evidence import Population
from ..files import _decode, _RawTable, _read_bytes
from ..frames import _frame
from ..options import _LOG_OPTIONS
from ..source import _Source
from ..timestamps import _check_timezone

_OKTA_LOG_EXAMPLE = "2026-07-14T09:12:33.843Z"
_LOG_FIELDS: tuple[tuple[str, tuple[str | int, ...]], ...] = (
    ("uuid", ("uuid",)),
    ("published", ("published",)),
    ("eventType", ("eventType",)),
    ("displayMessage", ("displayMessage",)),
    ("severity", ("severity",)),
    ("actor.id", ("actor", "id")),
    ("actor.type", ("actor", "type")),
    ("actor.alternateId", ("actor", "alternateId")),
    ("actor.displayName", ("actor", "displayName")),
    ("target[0].id", ("target", 0, "id")),
    ("target[0].type", ("target", 0, "type")),
    ("target[0].alternateId", ("target", 0, "alternateId")),
    ("target[0].displayName", ("target", 0, "displayName")),
    ("outcome.result", ("outcome", "result")),
    ("outcome.reason", ("outcome", "reason")),
    ("client.ipAddress", ("client", "ipAddress")),
    ("client.zone", ("client", "zone")),
)


def _dig(obj: Any, path: tuple[str | int, ...]) -> str | None:
    """A nested value as text: JSON null or absent -> None (the *string* 'null' stays 'null')."""
    for step in path:
        if isinstance(step, int):
            obj = obj[step] if isinstance(obj, list) and len(obj) > step else None
        else:
            obj = obj.get(step) if isinstance(obj, dict) else None
        if obj is None:
            return None
    if isinstance(obj, str):
        return obj
    return json.dumps(obj, ensure_ascii=False, sort_keys=True)


_JSON_GAP = re.compile(r"[\s,]*")


def _json_records(text: str, file: str) -> tuple[str, list[tuple[int, Any]], list[RejectedRow]]:
    """(format, [(line, object)], blank lines) of NDJSON or a JSON array of events."""
    stripped = text.lstrip()
    records: list[tuple[int, Any]] = []
    if stripped.startswith("["):
        decoder = json.JSONDecoder()
        position = text.index("[") + 1
        line = 1 + text.count("\n", 0, position)
        while True:
            gap_end = _JSON_GAP.match(text, position).end()  # type: ignore[union-attr]
            line += text.count("\n", position, gap_end)
            position = gap_end
            if position >= len(text):
                raise PopulationError(file, "the JSON array is not closed with ']'.", row=line)
            if text[position] == "]":
                break
            try:
                obj, end = decoder.raw_decode(text, position)
            except json.JSONDecodeError as exc:
                raise PopulationError(file, f"invalid JSON ({exc.msg}, column {exc.colno}).",
                                      row=exc.lineno) from None
            records.append((line, obj))
            line += text.count("\n", position, end)
            position = end
        if text[position + 1:].strip():
            raise PopulationError(file, "unexpected text after the JSON array.",
                                  row=text.count("\n", 0, position) + 1)
        return "json", records, []
    blanks: list[RejectedRow] = []
    parts = text.split("\n")
    for number, raw in enumerate(parts, start=1):
        content = raw.strip()
        if not content:
            if number < len(parts):  # the empty text after the final line end is no line
                blanks.append(RejectedRow(number, "blank line"))
            continue
        try:
            records.append((number, json.loads(content)))
        except json.JSONDecodeError as exc:
            raise PopulationError(file, f"invalid JSON ({exc.msg}, column {exc.colno}); NDJSON "
                                        "has one event object per line.", row=number) from None
    return "ndjson", records, blanks


def _reject_conflicts(kept: list[tuple[int, dict[str, Any]]], conflicting: dict[str, list[int]],
                      dropped: list[DuplicateRow], rejected: list[RejectedRow]
                      ) -> tuple[list[tuple[int, dict[str, Any]]], list[DuplicateRow],
                                 list[RejectedRow]]:
    """Drop every version of an event whose uuid repeats with different content, listing each
    line as rejected (the option ``conflicting_duplicates: reject``): none is kept on a guess.
    Exact repeats of a rejected version are rejected with it."""
    reasons = {}
    for uuid, lines in conflicting.items():
        for line in lines:
            others = ", ".join(str(other) for other in lines if other != line)
            reasons[line] = (f"event uuid {uuid!r} also on line(s) {others} with different "
                             "content (conflicting_duplicates: reject)")
    for duplicate in dropped:
        if duplicate.duplicate_of in reasons:
            reasons[duplicate.line] = (f"repeats line {duplicate.duplicate_of}, an event with "
                                       "conflicting versions (conflicting_duplicates: reject)")
    return ([(line, obj) for line, obj in kept if line not in reasons],
            [d for d in dropped if d.line not in reasons],
            [*rejected, *(RejectedRow(line, reason) for line, reason in sorted(reasons.items()))])


def read_okta_system_log(ctx: ReadContext) -> Population:
    """Okta System Log events (NDJSON, or the API's JSON array) -> ``events`` (key ``uuid``).

    Columns: :data:`EVENT_COLUMNS` (``actor``, ``target[0]`` and ``outcome`` flattened;
    ``actor_login``/``target_login`` casefolded ``alternateId``), then ``actor_login_original``,
    ``actor_type``, ``actor_display_name``, ``target_login_original``, ``target_display_name``,
    ``target_count``, ``severity``, ``client_ip``, ``client_zone`` and ``line``. JSON null reads
    as NA while the *string* ``'null'`` (Okta writes it in ``client.zone``) stays ``'null'``.

    Polling returns the same event more than once: an event whose uuid repeats with the same
    content is dropped and listed in the evidence; the same uuid with different content is an
    error naming both lines. Events may arrive out of order: the table is sorted by
    ``published`` then ``uuid`` (``line`` keeps each event's line) and the evidence says so.
    """
    kind = "okta_system_log"
    file = ctx.file
    _check_timezone(ctx.timezone)  # a bad zone is named before the file is read
    opts = ctx.reader_options(kind, _LOG_OPTIONS)
    data = _read_bytes(ctx.path, file)
    text, encoding = _decode(data, file, opts.encoding)
    file_format, records, blanks = _json_records(text, file)
    kept: list[tuple[int, dict[str, Any]]] = []
    seen: dict[str, int] = {}
    dropped: list[DuplicateRow] = []
    conflicting: dict[str, list[int]] = {}
    top_level: dict[str, None] = {}
    for line, obj in records:
        if not isinstance(obj, dict):
            raise PopulationError(file, f"expected a JSON object (one event), found "
                                        f"{type(obj).__name__}.", row=line)
        top_level.update(dict.fromkeys(obj))
        uuid = obj.get("uuid")
        if isinstance(uuid, str) and uuid in seen:
            first_line, first = kept[seen[uuid]]
            if first != obj:
                if opts.conflicting_duplicates != "reject":
                    raise PopulationError(
                        file, f"uuid {uuid!r} is on lines {first_line} and {line} with "
                              "different content; an event is never de-duplicated on a guess "
                              "(the reader option conflicting_duplicates: reject lists every "
                              "version as a rejected row instead).", row=line, column="uuid")
                conflicting.setdefault(uuid, [first_line]).append(line)
                continue
            dropped.append(DuplicateRow(line, first_line))
            continue
        if isinstance(uuid, str):
            seen[uuid] = len(kept)
        kept.append((line, obj))
    if conflicting:
        kept, dropped, blanks = _reject_conflicts(kept, conflicting, dropped, blanks)
    columns = [_text_column_nullable([_dig(obj, steps) for _, obj in kept])
               for _, steps in _LOG_FIELDS]
    counts = pa.chunked_array([pa.array(
        [len(obj["target"]) if isinstance(obj.get("target"), list) else 0 for _, obj in kept],
        pa.int64())])
    header = [name for name, _ in _LOG_FIELDS]
    raw = _RawTable(file=file, header=[*header, "target.count"], header_line=None,
                    columns=[*columns, counts],
                    lines=np.asarray([line for line, _ in kept], dtype="int64"),
                    sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data),
                    file_format=file_format, rejected=blanks, encoding=encoding)
    src = _Source(kind, ctx, options=opts, required=("uuid", "published", "eventType"),
                  optional=(*header[3:], "target.count"), raw=raw)
    src.notes.append(f"Top-level fields seen: {', '.join(top_level)}.")
    for name, what in (("uuid", "an event uuid"), ("eventType", "an event type like "
                                                                  "user.session.start")):
        empty = _np(pc.equal(src.text_array(name), ""))
        if empty.any():
            src.fail(name, empty, what)
    published, _ = src.timestamp_state("published", example=_OKTA_LOG_EXAMPLE, sentinels={},
                                       empty_state=None, value_state=SET)
    actor_login = src.text("actor.alternateId")
    target_login = src.text("target[0].alternateId")
    frame = _frame({
        "uuid": src.text("uuid"),
        "published": published,
        "event_type": src.text("eventType"),
        "actor_id": src.text("actor.id"),
        "actor_login": _fold(actor_login),
        "target_id": src.text("target[0].id"),
        "target_login": _fold(target_login),
        "target_type": src.text("target[0].type"),
        "outcome_result": src.text("outcome.result"),
        "outcome_reason": src.text("outcome.reason"),
        "display_message": src.text("displayMessage"),
        "actor_login_original": actor_login,
        "actor_type": src.text("actor.type"),
        "actor_display_name": src.text("actor.displayName"),
        "target_login_original": target_login,
        "target_display_name": src.text("target[0].displayName"),
        "target_count": src.integer("target.count"),
        "severity": src.text("severity"),
        "client_ip": src.text("client.ipAddress"),
        "client_zone": src.text("client.zone"),
    }, src.lines)
    order = frame.sort_values(["published", "uuid"], kind="stable").index.to_numpy()
    if (order != np.arange(len(frame))).any():
        frame = frame.iloc[order].reset_index(drop=True)
        src.notes.append("Events were not in published order in the file; the table is sorted "
                         "by published, then uuid (line keeps each event's line).")
    if dropped:
        src.notes.append(f"{len(dropped)} duplicate event(s) dropped: the same uuid with the same "
                         "content (listed under duplicate lines).")
    return src.population("events", frame, key=("uuid",),
                          totals={"event type": "event_type", "outcome": "outcome_result"},
                          dropped=dropped)


def _text_column_nullable(values: Sequence[str | None]) -> pa.ChunkedArray:
    return pa.chunked_array([pa.array(values, _TEXT)], _TEXT)

"""Every YAML file the workbench reads (period files, remediation and management-response records,
deficiency evaluations), read so that it can neither mislead nor explode.

Why: plain ``yaml.safe_load`` keeps the *last* of two equal keys without a word (a duplicated
``seed:`` silently changed the sample), expands aliases without bound (nine lines of a "billion
laughs" file ran for minutes and ate memory), recurses once per nesting level (20,000 levels end in
a ``RecursionError`` traceback) and reads any file however large. :func:`load_yaml` refuses each of
these with a sentence naming the file, the line and the key, before the document is built:

- the file's type and size are checked before it is read (:data:`YamlLimits.max_bytes`);
- a ``yaml.SafeLoader`` subclass counts nesting and aliases *while composing*, so a deep or
  alias-heavy file stops at the limit, never at Python's recursion limit;
- the composed graph's expanded size and depth (what a consumer walking it would see, each alias
  repeated) are computed without expanding it, and a self-referencing anchor is refused;
- keys given twice in one mapping are listed with both lines.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from workbench.inputfiles import InputFileError, read_limited

Loc = tuple[Any, ...]


@dataclass(frozen=True)
class YamlLimits:
    """How much a YAML file may hold: bytes, nesting levels, aliases, and values once aliases are expanded."""

    max_bytes: int = 10 * 1024**2
    max_depth: int = 100
    max_aliases: int = 1000
    max_expanded_nodes: int = 1_000_000


DEFAULT_LIMITS = YamlLimits()


class YamlFileError(ValueError):
    """A YAML file refused before use; ``problems`` are sentences each naming the line (and key)."""

    def __init__(self, path: Path, problems: list[str], what: str = "YAML file"):
        self.path = Path(path)
        self.problems = problems
        self.what = what
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"The {what} {path} cannot be used ({len(problems)} problem(s)):\n{listing}")


class _LimitExceeded(yaml.YAMLError):
    """Raised inside the loader when a limit is passed; carries the line (1-based) and the sentence."""

    def __init__(self, line: int | None, message: str):
        self.line = line
        self.message = message
        super().__init__(message)


class LimitedSafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that stops composing past a nesting depth or a number of aliases."""

    def __init__(self, stream: str, limits: YamlLimits = DEFAULT_LIMITS):
        super().__init__(stream)
        self.limits = limits
        self.depth = 0
        self.aliases = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        """Compose one node, counting aliases and nesting levels against the limits."""
        event = self.peek_event()
        line = event.start_mark.line + 1 if event.start_mark else None
        if isinstance(event, yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > self.limits.max_aliases:
                raise _LimitExceeded(line, f"more than {self.limits.max_aliases:,} aliases (*name, each repeating "
                                           "what an &anchor names); write the values out instead")
            return super().compose_node(parent, index)
        self.depth += 1
        try:
            if self.depth > self.limits.max_depth:
                raise _LimitExceeded(line, f"the values are nested more than {self.limits.max_depth} levels "
                                           "deep (a period or record file needs fewer than ten)")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def compose_limited(text: str, limits: YamlLimits = DEFAULT_LIMITS) -> yaml.Node | None:
    """The composed YAML node graph of ``text`` within ``limits`` (None for an empty document).

    Raises ``yaml.YAMLError`` for YAML that does not parse and for a limit passed (its message
    and line in ``.message``/``.line`` for the latter).
    """
    loader = LimitedSafeLoader(text, limits)
    try:
        root = loader.get_single_node()
    finally:
        loader.dispose()
    if root is not None and loader.aliases:
        check_expansion(root, limits)
    return root


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def check_expansion(root: yaml.Node, limits: YamlLimits = DEFAULT_LIMITS) -> None:
    """Refuse a node graph whose aliases expand past the limits, or that refers to itself.

    Each node's expanded size and depth are computed once (an iterative walk, memoised per node),
    so a "billion laughs" graph of a few dozen nodes is measured in microseconds, not expanded.
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    active: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            active.discard(key)
            kids = _children(node)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            line = node.start_mark.line + 1
            if size[key] > limits.max_expanded_nodes:
                raise _LimitExceeded(line, f"the aliases (*name) expand to more than {limits.max_expanded_nodes:,} "
                                           "values (aliases inside anchors multiply, as in a 'billion laughs' file); "
                                           "the file is refused unread")
            if depth[key] > limits.max_depth:
                raise _LimitExceeded(line, f"with its aliases expanded the values are nested more than "
                                           f"{limits.max_depth} levels deep")
            continue
        if key in size:
            continue
        if key in active:
            raise _LimitExceeded(node.start_mark.line + 1, "an alias refers to the anchor that contains it, so the "
                                                           "value would contain itself without end")
        active.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node))


@dataclass(frozen=True)
class DuplicateKey:
    """A key given twice in one mapping: where (key path), and the lines of both."""

    loc: Loc
    key: str
    first_line: int
    line: int

    def sentence(self) -> str:
        """The duplicate in an auditor's words."""
        return (f"the key '{self.key}' is given twice in the same mapping (lines {self.first_line} and {self.line}); "
                f"YAML would keep only the last, so line {self.first_line} would be silently ignored. Keep one.")


def duplicate_keys(node: yaml.Node, loc: Loc = ()) -> Iterator[DuplicateKey]:
    """Every key given twice in the same mapping, at any level, in file order.

    Keys are compared as YAML resolves them (``seed`` and ``"seed"`` are the same text key;
    ``1`` and ``"1"`` are not). An aliased mapping is visited where it is used (the limits keep
    that walk small). Merge keys (``<<``) are YAML's own way to override and are not duplicates.
    """
    stack: list[tuple[yaml.Node, Loc]] = [(node, loc)]
    found: list[DuplicateKey] = []
    visited: set[tuple[int, Loc]] = set()
    while stack:
        current, where = stack.pop()
        if (id(current), where) in visited:
            continue
        visited.add((id(current), where))
        if isinstance(current, yaml.MappingNode):
            seen: dict[tuple[str, str], int] = {}
            for key_node, value_node in current.value:
                name = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
                line = key_node.start_mark.line + 1
                if name is not None and key_node.tag != "tag:yaml.org,2002:merge":
                    if (key_node.tag, name) in seen:
                        found.append(DuplicateKey(where + (name,), name, seen[(key_node.tag, name)], line))
                    else:
                        seen[(key_node.tag, name)] = line
                stack.append((value_node, where + (name,)))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend((item, where + (index,)) for index, item in enumerate(current.value))
    yield from sorted(found, key=lambda d: (d.line, d.first_line))


def format_loc(loc: Loc) -> str:
    """A key path as in messages: ``controls[0].sampling.seed``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _line_of(exc: yaml.YAMLError) -> int | None:
    mark = getattr(exc, "problem_mark", None)
    return mark.line + 1 if mark is not None else getattr(exc, "line", None)


#: How many texts' parses are kept (``parse_text``): a period run reads its period file three times
#: (the run, ``workbench check``, the freezing), each a full parse before (0.1 s each on the demo
#: period, 0.3 s on a busy machine).
PARSES_KEPT = 4
_parses: OrderedDict[tuple[str, YamlLimits], tuple[Any, yaml.Node | None]] = OrderedDict()
_parses_lock = threading.Lock()


def parse_text(text: str, path: Path, what: str, limits: YamlLimits = DEFAULT_LIMITS,
               refuse_duplicates: bool = True) -> tuple[Any, yaml.Node | None]:
    """(document, composed root) of YAML text, within ``limits``; raise :class:`YamlFileError` otherwise.

    The document is built as ``yaml.safe_load`` builds it. With ``refuse_duplicates`` every key
    given twice is listed (``workbench check`` reports them itself, among its other problems).

    Parsed once per process for the same text (keyed by the text itself and the limits, not the
    file: a file changed between two reads is parsed again; a text refused is refused again, never
    kept). Whether keys given twice are refused is decided on the kept node tree, so callers that
    refuse them and callers that report them share one parse (a run's check reports them, the run
    refuses them: two full parses of the period file before). Each call gets a document of its own;
    the composed nodes are shared and only ever read.
    """
    key = (text, limits)
    with _parses_lock:
        kept = _parses.get(key)
        if kept is not None:
            _parses.move_to_end(key)
    if kept is not None:
        if refuse_duplicates:
            _refuse_duplicates(kept[1], path, what)
        return copy.deepcopy(kept[0]), kept[1]
    document, root = _parse_text(text, path, what, limits, refuse_duplicates)
    with _parses_lock:
        _parses[key] = (copy.deepcopy(document), root)
        while len(_parses) > PARSES_KEPT:
            _parses.popitem(last=False)
    return document, root


def _refuse_duplicates(root: yaml.Node | None, path: Path, what: str) -> None:
    """Raise :class:`YamlFileError` listing every key given twice in ``root`` (nothing if none is)."""
    if root is None:
        return
    duplicates = [f"line {d.line}, {format_loc(d.loc)}: {d.sentence()}" for d in duplicate_keys(root)]
    if duplicates:
        raise YamlFileError(path, duplicates, what)


def _parse_text(text: str, path: Path, what: str, limits: YamlLimits,
                refuse_duplicates: bool) -> tuple[Any, yaml.Node | None]:
    """``parse_text`` without keeping the result."""
    try:
        root = compose_limited(text, limits)
    except _LimitExceeded as exc:
        where = f"line {exc.line}: " if exc.line else ""
        raise YamlFileError(path, [f"{where}{exc.message}"], what) from None
    except yaml.YAMLError as exc:
        line = _line_of(exc)
        problem = getattr(exc, "problem", None) or str(exc)
        raise YamlFileError(path, [f"{f'line {line}: ' if line else ''}not valid YAML ({problem})"], what) from None
    if root is None:
        return None, None
    if refuse_duplicates:
        _refuse_duplicates(root, path, what)
    constructor = yaml.SafeLoader("")
    try:
        document = constructor.construct_document(root)
    except yaml.YAMLError as exc:
        line = _line_of(exc)
        raise YamlFileError(path, [f"{f'line {line}: ' if line else ''}not valid YAML for the workbench "
                                   f"({getattr(exc, 'problem', None) or exc}; only plain values, no tags)"],
                            what) from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. a date such as 2026-13-45
        raise YamlFileError(path, [f"a value cannot be read as YAML types ({exc})"], what) from None
    finally:
        constructor.dispose()
    return document, root


def read_text(path: Path, what: str, limits: YamlLimits = DEFAULT_LIMITS) -> str:
    """The UTF-8 text of a YAML file, its type and size checked before it is read."""
    path = Path(path)
    try:
        data = read_limited(path, limits.max_bytes, what)
    except InputFileError as exc:
        raise YamlFileError(path, [exc.reason], what) from None
    if b"\x00" in data:
        raise YamlFileError(path, ["the file holds NUL bytes (zero bytes): it is not a YAML text file "
                                   "(saved as UTF-16, or damaged)"], what)
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise YamlFileError(path, [f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})"], what) from None


def load_yaml(path: Path, what: str = "YAML file", limits: YamlLimits = DEFAULT_LIMITS) -> Any:
    """Read a YAML file safely: the one way the workbench reads YAML (see the module's docstring)."""
    return load_yaml_with_nodes(path, what, limits)[0]


def load_yaml_with_nodes(path: Path, what: str = "YAML file",
                         limits: YamlLimits = DEFAULT_LIMITS) -> tuple[Any, yaml.Node | None]:
    """:func:`load_yaml`, also returning the composed root node (for the line of each key)."""
    return parse_text(read_text(path, what, limits), Path(path), what, limits)

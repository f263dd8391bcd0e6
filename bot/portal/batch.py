"""`batch`: up to 50 commands in one request (one rate-limit token), with `$result[...]` links."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from bot.portal.errors import PortalError, error_from_payload
from bot.portal.php import RawValue, encode_query
from bot.portal.session import PortalResponse

if TYPE_CHECKING:
    from bot.portal.methods.base import PortalMethod

R = TypeVar("R")

__all__ = [
    "MAX_BATCH_COMMANDS",
    "BatchCommand",
    "BatchResult",
    "build_cmd",
    "chunk_commands",
    "is_read_method",
    "keyed_commands",
    "parse_batch_result",
    "plan_chunks",
    "result_ref",
]

MAX_BATCH_COMMANDS = 50

_REF = re.compile(r"\$(?:result|next|total|time|error)\[([^\]]+)\]")
_READ_SUFFIXES = (".get", ".list", ".fields", ".current", ".findbycomm", ".items.get")
_READ_METHODS = frozenset({"user.get", "user.current", "crm.settings.mode.get", "event.get"})


def is_read_method(method: str) -> bool:
    """True for methods that only read (safe to repeat after an unknown outcome)."""
    name = method.lower()
    return name in _READ_METHODS or name.endswith(_READ_SUFFIXES)


def result_ref(command: str, *path: str | int) -> RawValue:
    """A reference to an earlier command's result: `result_ref("c0", 49, "ID")`.

    Gives `$result[c0][49][ID]`; the portal substitutes it before running the command.
    Used as a whole parameter value, it may stand for an array too.
    """
    return RawValue(f"$result[{command}]" + "".join(f"[{part}]" for part in path))


@dataclass(frozen=True)
class BatchCommand:
    """One command of a batch: a method and its params."""

    method: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_query(self) -> str:
        """`method?query` with PHP bracket encoding, as the batch `cmd` values want it."""
        if not self.params:
            return self.method
        return f"{self.method}?{encode_query(self.params)}"

    @property
    def is_read(self) -> bool:
        """True when the method only reads."""
        return is_read_method(self.method)


def build_cmd(commands: Mapping[str, BatchCommand]) -> dict[str, str]:
    """The `cmd` object of a batch request."""
    return {key: command.to_query() for key, command in commands.items()}


def keyed_commands(
    commands: Mapping[str, BatchCommand] | Sequence[BatchCommand],
) -> dict[str, BatchCommand]:
    """The commands by key; a sequence gets keys `c0`, `c1`, ... in order."""
    if isinstance(commands, Mapping):
        return dict(commands)
    return {f"c{index}": command for index, command in enumerate(commands)}


def plan_chunks(queries: Mapping[str, str]) -> list[list[str]]:
    """The keys of each request of at most 50, from the commands' encoded queries (in order);
    a reference to a command of another request is refused before anything is sent."""
    keys = list(queries)
    every = set(keys)  # once: a morning's nudges for a big team are 20,000 commands
    chunks: list[list[str]] = []
    for start in range(0, len(keys), MAX_BATCH_COMMANDS):
        chunk = keys[start : start + MAX_BATCH_COMMANDS]
        inside = set(chunk)
        for key in chunk:
            query = queries[key]
            if "$" not in query:
                continue
            outside = set(_REF.findall(query)) - inside
            if outside & every:
                raise ValueError(
                    f"batch command {key!r} refers to {sorted(outside)} in another request of "
                    f"{MAX_BATCH_COMMANDS}; keep linked commands within one chunk"
                )
        chunks.append(chunk)
    return chunks


def chunk_commands(
    commands: Mapping[str, BatchCommand] | Sequence[BatchCommand],
) -> list[dict[str, BatchCommand]]:
    """Split commands into requests of at most 50; references must stay within one request.

    A sequence gets keys `c0`, `c1`, ... in order.
    """
    keyed = keyed_commands(commands)
    queries = {key: command.to_query() for key, command in keyed.items()}
    return [{key: keyed[key] for key in chunk} for chunk in plan_chunks(queries)]


def _as_map(value: Any) -> dict[str, Any]:
    # PHP sends an empty map as [] and a map with keys 0..n-1 as a list.
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list):
        return {str(index): item for index, item in enumerate(value)}
    return {}


@dataclass
class BatchResult:
    """What a batch returned, per command key.

    For a batch of typed methods (`methods`), `result[key]` is built by the key's method and
    `result.get(key, method)` is typed by it; otherwise `result[key]` is the raw result.
    """

    results: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, PortalError] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    nexts: dict[str, int] = field(default_factory=dict)
    times: dict[str, dict[str, Any]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    methods: dict[str, PortalMethod[Any]] = field(default_factory=dict)

    _ordered: set[str] = field(default_factory=set, repr=False, compare=False)

    def merge(self, other: BatchResult) -> None:
        """Add the commands of another chunk."""
        self.results.update(other.results)
        self.errors.update(other.errors)
        self.totals.update(other.totals)
        self.nexts.update(other.nexts)
        self.times.update(other.times)
        if len(self._ordered) != len(self.order):
            self._ordered = set(self.order)
        for key in other.order:
            if key not in self._ordered:  # a list's `in` made 400 merges of 20,000 quadratic
                self._ordered.add(key)
                self.order.append(key)

    def missing(self) -> list[str]:
        """Commands with neither a result nor an error (not run, e.g. after a halt)."""
        return [key for key in self.order if key not in self.results and key not in self.errors]

    def raise_for_errors(self) -> None:
        """Raise the first command error, in command order (the others stay in `errors`)."""
        for key in self.order:
            if key in self.errors:
                raise self.errors[key]
        for error in self.errors.values():
            raise error

    def __getitem__(self, key: str) -> Any:
        """The result of command `key` (built by its method), raising its error if it failed."""
        if key in self.errors:
            raise self.errors[key]
        raw = self.results[key]
        method = self.methods.get(key)
        if method is None:
            return raw
        return method.build(PortalResponse(raw, self.totals.get(key), self.nexts.get(key)))

    def get(self, key: str, method: PortalMethod[R]) -> R:
        """`result[key]`, typed by the method that made it (pass the same method object)."""
        if self.methods.get(key) is not method:
            raise KeyError(f"{key!r} is not the command of this {type(method).__name__}")
        value: R = self[key]
        return value


def parse_batch_result(
    body: Mapping[str, Any], commands: Mapping[str, BatchCommand] | Iterable[str] = ()
) -> BatchResult:
    """Parse the `result` of a batch answer (the object with result/result_error/...)."""
    keys = list(commands.keys() if isinstance(commands, Mapping) else commands)
    methods = {k: c.method for k, c in commands.items()} if isinstance(commands, Mapping) else {}
    result = BatchResult(order=keys)
    result.results = _as_map(body.get("result"))
    for key, error in _as_map(body.get("result_error")).items():
        if isinstance(error, Mapping):
            code = str(error.get("error", "") or "")
            description = str(error.get("error_description", "") or "")
        else:
            code, description = "", str(error)
        result.errors[key] = error_from_payload(
            code, description or code or "error", method=methods.get(key, f"batch[{key}]")
        )
    result.totals = {k: int(v) for k, v in _as_map(body.get("result_total")).items()}
    result.nexts = {k: int(v) for k, v in _as_map(body.get("result_next")).items()}
    result.times = {
        k: dict(v) for k, v in _as_map(body.get("result_time")).items() if isinstance(v, Mapping)
    }
    for key in [*result.results, *result.errors]:
        if key not in result.order:
            result.order.append(key)
    return result

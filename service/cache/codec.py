"""Cache values as data: JSON with an explicit allow-list of types, never pickle.

Whoever can write to a shared Redis must not be able to run code in every replica, so a
cached value is plain JSON in which only the dataclasses and enums named when the codec is
built can be rebuilt. Anything else — a pickle payload, a foreign tag, a field that no
longer exists — fails to decode, and the cache treats that as a miss.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from datetime import datetime
from enum import Enum
from typing import Any

CODEC_VERSION = 1  # part of every cache key: a new layout never meets an old value


class Undecodable(ValueError):
    """A cached value that is not one this codec wrote."""


class Codec:
    def __init__(self, types: Iterable[type]) -> None:
        self._types: dict[str, type] = {t.__name__: t for t in types}
        for name, t in self._types.items():
            if not (dataclasses.is_dataclass(t) or issubclass(t, Enum)):
                raise TypeError(f"{name} is neither a dataclass nor an enum")

    def encode(self, value: Any) -> bytes:
        return json.dumps(self._enc(value), separators=(",", ":")).encode()

    def decode(self, blob: bytes | str) -> Any:
        try:
            return self._dec(json.loads(blob))
        except Undecodable:
            raise
        except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
            raise Undecodable(str(exc)) from exc

    def _enc(self, v: Any) -> Any:
        if v is None or isinstance(v, bool | int | float | str):
            return v
        if isinstance(v, Enum):
            return {"$e": [self._name(type(v)), v.value]}
        if isinstance(v, datetime):
            return {"$dt": v.isoformat()}
        if isinstance(v, tuple):
            return {"$t": [self._enc(x) for x in v]}
        if isinstance(v, list):
            return [self._enc(x) for x in v]
        if isinstance(v, dict) and all(isinstance(k, str) for k in v):
            return {"$m": {k: self._enc(x) for k, x in v.items()}}
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            fields = {f.name: self._enc(getattr(v, f.name)) for f in dataclasses.fields(v)}
            return {"$c": self._name(type(v)), "f": fields}
        raise TypeError(f"cannot cache a {type(v).__name__}: add it to the codec's types")

    def _name(self, t: type) -> str:
        if self._types.get(t.__name__) is not t:
            raise TypeError(f"{t.__name__} is not among the cache codec's types")
        return t.__name__

    def _dec(self, v: Any) -> Any:
        if v is None or isinstance(v, bool | int | float | str):
            return v
        if isinstance(v, list):
            return [self._dec(x) for x in v]
        if not isinstance(v, dict) or len(v) not in (1, 2):
            raise Undecodable(f"unexpected value {v!r:.80}")
        if "$t" in v:
            return tuple(self._dec(x) for x in v["$t"])
        if "$m" in v:
            return {str(k): self._dec(x) for k, x in v["$m"].items()}
        if "$dt" in v:
            return datetime.fromisoformat(v["$dt"])
        if "$e" in v:
            name, value = v["$e"]
            return self._type(name)(value)
        if "$c" in v:
            cls = self._type(v["$c"])
            return cls(**{k: self._dec(x) for k, x in v["f"].items()})
        raise Undecodable(f"unknown tag in {v!r:.80}")

    def _type(self, name: Any) -> Any:
        found = self._types.get(name) if isinstance(name, str) else None
        if found is None:
            raise Undecodable(f"type {name!r:.40} is not allowed in the cache")
        return found

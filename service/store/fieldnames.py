"""Reversible escaping of free-map keys, so partner data never becomes a Mongo operator.

A key such as ``$where`` or ``a.b`` is legal JSON but means something to MongoDB. Keys are
stored with ``%``, ``$`` and ``.`` percent-encoded and decoded on the way out.
"""

from __future__ import annotations

import re
from typing import Any

_ENCODE = {"%": "%25", "$": "%24", ".": "%2E"}
_DECODE = {v: k for k, v in _ENCODE.items()}
_ESCAPED = re.compile("%25|%24|%2E")


def _encode_key(key: str) -> str:
    return "".join(_ENCODE.get(ch, ch) for ch in key)


def _decode_key(key: str) -> str:
    return _ESCAPED.sub(lambda m: _DECODE[m.group(0)], key)


def encode_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {_encode_key(k): encode_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [encode_keys(v) for v in value]
    return value


def decode_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {_decode_key(k): decode_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_keys(v) for v in value]
    return value

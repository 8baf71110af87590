"""Text from outside, made storable: PostgreSQL's text and jsonb refuse NUL characters, and
lone surrogates (from broken decoders) cannot be encoded as UTF-8. Both are dropped here."""

from __future__ import annotations

import re
from typing import Any

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def clean(value: str) -> str:
    return _UNSTORABLE.sub("", value) if value else value


def clean_json(value: Any) -> Any:
    """`clean` applied to every string (and key) inside lists and dicts."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {clean(str(k)): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    return value

"""Reading a JSON request body that a stranger wrote: an object, not too deeply nested.

Python's JSON decoder recurses once per level: a body of 100,000 `[` raises RecursionError, and a
body just under the interpreter's limit decodes but fails later, when the value is validated or
written back out. No payload of ours nests more than a few levels, so a body the decoder gives up on, or
one that decodes deeper than MAX_DEPTH, is refused as bad input before it reaches a handler.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BeforeValidator

MAX_DEPTH = 32


class MalformedBody(ValueError):
    """The body is not a JSON object a handler can read; the message says why, for the client."""


def parse_json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except RecursionError as exc:
        raise MalformedBody(f"The request body nests more than {MAX_DEPTH} levels") from exc
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise MalformedBody(f"The request body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise MalformedBody("The request body must be a JSON object")
    if nesting_depth(data) > MAX_DEPTH:
        raise MalformedBody(f"The request body nests more than {MAX_DEPTH} levels")
    return data


def nesting_depth(value: Any) -> int:
    """How many arrays and objects are open at the deepest point of a decoded value (iteratively)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest


# --- Strict scalars ----------------------------------------------------------------------------------
# Pydantic's lax mode reads JSON's `false` as the number 0 and the number 1 as `true`; a client that
# mixes them up has a bug we should tell it about, not guess around. Strings still convert, as query
# strings and multipart fields need ("5", "true").


def not_a_boolean(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be a number, not true or false")
    return value


def not_a_number(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("must be true or false, not a number")
    return value


# `Annotated[int, Field(ge=0), NotBoolean]`: the check comes after the bounds, so that they stay
# `minimum`/`maximum` in the OpenAPI document.
NotBoolean = BeforeValidator(not_a_boolean)
Flag = Annotated[bool, BeforeValidator(not_a_number)]

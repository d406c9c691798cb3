"""JSON as the protocol speaks it: strict on the way in, total on the way out.

In: Python's json module is lenient where the protocol must not be. It keeps the last of two
equal keys (so `{"force": false, "force": true}` would mean whatever the last writer wanted),
and it reads NaN and Infinity, which are not JSON and cannot be echoed as JSON. And a JSON
string may hold a lone surrogate (`"\\ud800"`) or a NUL, which no file name, environment
variable or UTF-8 answer can carry. `loads` refuses the first two, `text_problem` finds the
others, so that each becomes an invalid request naming where it was.

Out: `dumps_line` never fails. The backend's own data (a file name with undecodable bytes, a
setting whose value is NaN) can hold what JSON or UTF-8 cannot; the answer is still one line of
valid JSON, with such strings repaired rather than the whole answer lost.
"""
from __future__ import annotations

import json
import math
from typing import Any, Optional


class DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(f"the key {_shown(key)} appears twice in one object")


class NotJson(ValueError):
    def __init__(self, constant: str) -> None:
        super().__init__(f"{constant} is not a JSON value a float can hold")


def _shown(key: str, limit: int = 40) -> str:
    # repr() escapes surrogates and control characters, so the message itself stays encodable.
    text = repr(key)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise DuplicateKey(key)
        document[key] = value
    return document


def _refuse_constant(name: str) -> Any:
    raise NotJson(name)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400: valid JSON, but no float can hold it or echo it
        raise NotJson(f"the number {text[:24]}{'...' if len(text) > 24 else ''}")
    return value


def loads(text: str) -> Any:
    """json.loads, refusing duplicate keys, NaN/Infinity and numbers too large for a float
    (ValueError subclasses)."""
    return json.loads(text, object_pairs_hook=_unique_pairs, parse_constant=_refuse_constant, parse_float=_finite_float)


def _string_problem(text: str) -> Optional[str]:
    if "\x00" in text:
        return "contains a NUL character"
    for char in text:
        if "\ud800" <= char <= "\udfff":
            return f"contains a lone surrogate (U+{ord(char):04X}), which is not Unicode text"
    return None


def _key_label(key: str) -> str:
    return key if _string_problem(key) is None and key.isprintable() and len(key) <= 64 else "<key>"


def text_problem(document: Any, root: str) -> Optional[tuple[str, str]]:
    """The first string (key or value) in `document` that no OS or UTF-8 answer can carry, as
    (where, what is wrong); None when all are clean. Iterative: depth costs no recursion."""
    stack: list[tuple[str, Any]] = [(root, document)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            problem = _string_problem(value)
            if problem:
                return where, problem
        elif isinstance(value, dict):
            for key, item in value.items():
                label = _key_label(key)
                place = f"{where}.{label}" if where else label
                problem = _string_problem(key)
                if problem:
                    return place, "a name " + problem
                stack.append((place, item))
        elif isinstance(value, list):
            stack.extend((f"{where}[{index}]", item) for index, item in enumerate(value))
    return None


def _repaired(value: Any) -> Any:
    """A copy that JSON and UTF-8 can carry: lone surrogates become U+FFFD, a non-finite float
    its name as a string. Iterative, like text_problem."""
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any]] = [(root, 0, value)]
    while stack:
        parent, slot, item = stack.pop()
        if isinstance(item, str):
            parent[slot] = item.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        elif isinstance(item, float) and not math.isfinite(item):
            parent[slot] = str(item)
        elif isinstance(item, dict):
            copy: dict[Any, Any] = {}
            parent[slot] = copy
            for key, sub in item.items():
                fixed_key = key.encode("utf-16", "surrogatepass").decode("utf-16", "replace") if isinstance(key, str) else key
                copy[fixed_key] = None
                stack.append((copy, fixed_key, sub))
        elif isinstance(item, (list, tuple)):
            items: list[Any] = [None] * len(item)
            parent[slot] = items
            stack.extend((items, index, sub) for index, sub in enumerate(item))
        else:
            parent[slot] = item
    return root[0]


def dumps_line(document: Any) -> bytes:
    """One UTF-8 line of strict JSON (no NaN), whatever strings and floats `document` holds."""
    try:
        text = json.dumps(document, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=str)
        return text.encode("utf-8") + b"\n"
    except (UnicodeEncodeError, ValueError):
        text = json.dumps(_repaired(document), ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=str)
        return text.encode("utf-8") + b"\n"

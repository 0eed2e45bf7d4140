"""Mutated configuration files for fuzzing the validator (the suite and bench/fuzz_validate.py).

`mutants(seed, texts, count)` derives `count` files from the example files, deterministically
from `seed`: characters deleted, inserted or replaced by YAML indicators, lines duplicated,
swapped, indented or truncated, values replaced by tags, anchors, huge or deeply nested values,
control and non-UTF-8-looking characters. Every mutant is one `Mutant(name, data)` of bytes.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

_INDICATORS = "[]{}:,-?#&*!|>'\"%@`\t\n "
_TAGS = (
    "!!binary",
    "!!int",
    "!!float",
    "!!bool",
    "!!timestamp",
    "!!str",
    "!!map",
    "!!seq",
    "!!set",
    "!!omap",
    "!!python/object",
    "!custom",
    "!<tag:yaml.org,2002:int>",
)
_VALUES = (
    "~",
    "null",
    "yes",
    "0x1F",
    "0o17",
    "1e400",
    ".nan",
    "-.inf",
    "2024-02-30",
    "2024-01-31T25:00:00",
    "'unterminated",
    '"\\uD800"',
    "&a x",
    "*a",
    "<<: *a",
    "|-",
    ">+2",
    "? complex",
    "hunter2",
    "\u202e\u200b",
    "\x00",
    "\x7f",
    "\ufeff",
)


@dataclass(frozen=True)
class Mutant:
    name: str
    data: bytes


Mutation = Callable[[random.Random, str], str]


def _delete(rng: random.Random, text: str) -> str:
    at = rng.randrange(len(text))
    return text[:at] + text[at + rng.randint(1, 8) :]


def _insert(rng: random.Random, text: str) -> str:
    at = rng.randrange(len(text) + 1)
    return text[:at] + rng.choice(_INDICATORS) * rng.randint(1, 3) + text[at:]


def _replace(rng: random.Random, text: str) -> str:
    at = rng.randrange(len(text))
    return text[:at] + rng.choice(_INDICATORS) + text[at + 1 :]


def _lines(rng: random.Random, text: str) -> list[str]:
    lines = text.splitlines(keepends=True)
    return lines or ["\n"]


def _duplicate_line(rng: random.Random, text: str) -> str:
    lines = _lines(rng, text)
    at = rng.randrange(len(lines))
    return "".join(lines[: at + 1] + lines[at:])


def _swap_lines(rng: random.Random, text: str) -> str:
    lines = _lines(rng, text)
    a, b = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[a], lines[b] = lines[b], lines[a]
    return "".join(lines)


def _indent(rng: random.Random, text: str) -> str:
    lines = _lines(rng, text)
    at = rng.randrange(len(lines))
    lines[at] = " " * rng.choice((1, 2, 3, 8)) + lines[at]
    return "".join(lines)


def _truncate(rng: random.Random, text: str) -> str:
    return text[: rng.randrange(len(text) + 1)]


def _value(rng: random.Random, text: str) -> str:
    """Replace the value after one `key: ` by a tag, an odd scalar or an anchor."""
    starts = [i + 2 for i in range(len(text) - 2) if text[i : i + 2] == ": "]
    if not starts:
        return text
    at = rng.choice(starts)
    end = text.find("\n", at)
    end = len(text) if end < 0 else end
    new = f"{rng.choice(_TAGS)} {text[at:end]}" if rng.random() < 0.5 else rng.choice(_VALUES)
    return text[:at] + new + text[end:]


def _deep(rng: random.Random, text: str) -> str:
    depth = rng.choice((10, 63, 64, 65, 200, 1000, 5000))
    opener, closer = rng.choice((("[", "]"), ("{a: ", "}"), ("- ", "")))
    if opener == "- ":
        nested = "".join("  " * i + "-\n" for i in range(min(depth, 300)))
        return text + "extra:\n" + nested
    tag = rng.choice(("", "!!binary ", "!!map ", "!!seq "))
    closed = rng.random() < 0.5
    return text + f"extra: {tag}" + opener * depth + (closer * depth if closed else "") + "\n"


def _wide(rng: random.Random, text: str) -> str:
    items = rng.choice((100, 2000, 20000))
    body = "".join(f"  - {rng.choice(('1', 'x', '/srv/a', '{}', '[]'))}\n" for _ in range(items))
    return text + "paths_extra:\n" + body


MUTATIONS: tuple[Mutation, ...] = (
    _delete,
    _insert,
    _replace,
    _duplicate_line,
    _swap_lines,
    _indent,
    _truncate,
    _value,
    _value,
    _deep,
    _wide,
)


def mutants(seed: int, texts: Sequence[tuple[str, str]], count: int) -> Iterator[Mutant]:
    """`count` mutants of the (name, text) files, reproducible from `seed`; one to three
    mutations each, sometimes encoded with a stray non-UTF-8 byte."""
    rng = random.Random(seed)
    for number in range(count):
        name, text = texts[rng.randrange(len(texts))]
        applied = []
        for _ in range(rng.randint(1, 3)):
            mutation = rng.choice(MUTATIONS)
            text = mutation(rng, text) if text else text
            applied.append(mutation.__name__.strip("_"))
        data = text.encode("utf-8", errors="surrogatepass")
        if rng.random() < 0.03 and data:
            at = rng.randrange(len(data))
            data = data[:at] + bytes([rng.choice((0x80, 0xFF, 0xC3))]) + data[at:]
        yield Mutant(f"{number}:{name}:{'+'.join(applied)}", data)

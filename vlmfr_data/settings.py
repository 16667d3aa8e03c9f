"""Typed config tables: a TOML table read into a dataclass, checked against the field types, and the
config reference written from the same dataclasses.

`parse_table(cls, raw, where, base)` is the one reader every `vlmfr.toml` section goes through. A key
the dataclass does not have, or a value of the wrong type, is an error that names the key path
(`[training.finetune] max_step`), what was given and what is allowed, so a misspelt key never silently
falls back to a default. Values are read over `base` (the section's defaults): a nested dataclass over
the base's, a `dict[str, Dataclass]` entry over the base's entry of that name, other dicts merged over the
base's dict, everything else replaced.

Field documentation comes from the dataclass source: the comment block above a field and the comment on
its line, the way the code is already commented, so the reference cannot drift from the code.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import re
import types
from dataclasses import MISSING, fields, is_dataclass, replace
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

T = TypeVar("T")


class ConfigError(ValueError):
    """A config value that cannot be used: the message names the key path and what is allowed."""


def parse_table(cls: type[T], raw: Any, where: str, base: T | None = None) -> T:
    """`raw` (a TOML table) as a `cls` over `base` (default: `cls()`); `where` is the table's path,
    `[training]` or `[training.methods.lora]`, used in every error."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table of keys, got {_shown(raw)}")
    hints = get_type_hints(cls)
    known = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    unknown = [key for key in raw if key not in known]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(str(key), known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"{where}: unknown key {key!r}{hint}; allowed keys: {', '.join(known)}")
    defaults = {f.name: _field_default(f) for f in fields(cls)}  # type: ignore[arg-type]
    values = {
        key: _value(
            hints[key], value, f"{where} {key}", getattr(base, key) if base is not None else defaults[key]
        )
        for key, value in raw.items()
    }
    try:
        # a class with required fields (a [[datasets]] entry) is built from the values alone
        return replace(base, **values) if base is not None else cls(**values)  # type: ignore[type-var]
    except (ValueError, TypeError) as exc:  # a missing field, or the dataclass's own checks (__post_init__)
        raise ConfigError(f"{where}: {exc}") from exc


def _field_default(f: dataclasses.Field) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return None


def _value(hint: Any, value: Any, where: str, base: Any) -> Any:
    """`value` checked (and converted: a TOML list for a tuple, an int for a float) against `hint`."""
    origin, args = get_origin(hint), get_args(hint)
    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if value is None and len(options) < len(args):
            return None
        errors = []
        for option in options:
            try:
                return _value(option, value, where, base)
            except ConfigError as exc:
                errors.append(exc)
        if len(options) == 1:
            raise errors[0]
        raise ConfigError(f"{where}: expected {describe_type(hint)}, got {_shown(value)}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(
                f"{where}: {value!r} is not allowed; allowed values: {', '.join(map(repr, args))}"
            )
        return value
    if is_dataclass(hint) and isinstance(hint, type):
        nested = base if is_dataclass(base) and not isinstance(base, type) else None
        return parse_table(hint, value, f"[{_table(where)}]", nested)
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected {describe_type(hint)}, got {_shown(value)}")
        item = args[0] if args else Any
        items = [_value(item, v, f"{where}[{i}]", None) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected {describe_type(hint)}, got {_shown(value)}")
        item = args[1] if len(args) == 2 else Any
        old = base if isinstance(base, dict) else {}
        parsed = {str(k): _value(item, v, f"{where}.{k}", old.get(k)) for k, v in value.items()}
        return {**old, **parsed}
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {_shown(value)}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {_shown(value)}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {_shown(value)}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {_shown(value)}")
        return value
    return value  # a type the reader does not check (the dataclass's own checks still run)


def _table(where: str) -> str:
    """`[training] finetune` -> `training.finetune`; `[training] methods.lora` -> `training.methods.lora`."""
    table, _, key = where.partition(" ")
    return f"{table.strip('[]')}.{key}" if key else table.strip("[]")


def _shown(value: Any) -> str:
    text = repr(value)
    return f"{text[:60]}..." if len(text) > 60 else f"{text} ({type(value).__name__})"


def describe_type(hint: Any) -> str:
    """A type in config words: `integer`, `list of integers`, `"demo" or "full"`."""
    origin, args = get_origin(hint), get_args(hint)
    if hint is Any:
        return "any value"
    if origin in (Union, types.UnionType):
        options = [describe_type(a) for a in args if a is not type(None)]
        return " or ".join(options)
    if origin is Literal:
        return " or ".join(f'"{a}"' if isinstance(a, str) else repr(a) for a in args)
    if origin in (list, tuple):
        return f"list of {_plural(describe_type(args[0]) if args else 'values')}"
    if origin is dict:
        item = args[1] if len(args) == 2 else Any
        return f"table of {_plural(describe_type(item))}"
    if is_dataclass(hint) and isinstance(hint, type):
        return f"table ({hint.__name__})"
    names = {bool: "true/false", int: "integer", float: "number", str: "string"}
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def _plural(word: str) -> str:
    if word.startswith("table of "):
        return "tables"
    if word.startswith("table (") or " or " in word or word.endswith("s"):
        return word
    return {"true/false": "true/false values", "any value": "values"}.get(word, f"{word}s")


# ---------------------------------------------------------------------------------------- reference
def field_comments(cls: type) -> dict[str, str]:
    """Per field of dataclass `cls`: its comment block and line comment in the source, joined."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    names = {f.name for f in fields(cls)}
    comments: dict[str, str] = {}
    pending: list[str] = []
    body_indent: int | None = None
    lines = source.splitlines()
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("class ")), 0)
    for line in lines[start + 1 :]:
        stripped = line.strip()
        if not stripped:
            pending = []
            continue
        indent = len(line) - len(line.lstrip())
        if body_indent is None:
            body_indent = indent
        if indent != body_indent:
            continue  # a continuation line of a field, or a method body
        if stripped.startswith("#"):
            pending.append(stripped.lstrip("#").strip())
            continue
        match = re.match(r"(\w+)\s*:", stripped)
        if match and match.group(1) in names:
            trailing = _line_comment(stripped)
            comments[match.group(1)] = " ".join([*pending, *([trailing] if trailing else [])])
        pending = []
    return comments


def _line_comment(line: str) -> str | None:
    """The `# ...` at the end of a code line, outside string literals."""
    quote: str | None = None
    for i, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#":
            return line[i + 1 :].strip()
    return None


def _default_text(instance: Any, name: str, is_required: bool) -> str:
    if is_required:
        return "required"
    value = getattr(instance, name)
    if is_dataclass(value) and not isinstance(value, type):
        return "(table below)"
    if isinstance(value, dict) and value and all(is_dataclass(v) for v in value.values()):
        return f"entries: {', '.join(value)}"
    return _toml(value)


def _toml(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }" if value else "{}"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return "{...}"
    return repr(value)


def reference(table: str, cls: type, instance: Any | None = None, note: str = "") -> list[str]:
    """Markdown for `[table]` (and the dataclass tables inside it, after it): key, type, default, meaning."""
    instance = instance if instance is not None else cls()
    hints = get_type_hints(cls)
    comments = field_comments(cls)
    lines = [f"### `[{table}]`", ""]
    doc = inspect.getdoc(cls)
    if note:
        lines += [note, ""]
    elif doc and not doc.startswith(f"{cls.__name__}("):  # not the signature dataclass writes
        lines += [doc.split("\n\n")[0].replace("\n", " "), ""]
    lines += ["| key | type | default | meaning |", "|---|---|---|---|"]
    nested: list[tuple[str, type, Any]] = []
    must = set(required(cls))
    for f in fields(cls):
        hint = hints[f.name]
        meaning = comments.get(f.name, "").replace("|", "\\|")
        lines.append(
            f"| `{f.name}` | {describe_type(hint)} | {_default_text(instance, f.name, f.name in must).replace('|', '/')} | {meaning} |"
        )
        value = getattr(instance, f.name)
        if is_dataclass(hint) and isinstance(hint, type):
            nested.append((f"{table}.{f.name}", hint, value))
        elif get_origin(hint) is dict and is_dataclass(get_args(hint)[-1]):
            item = get_args(hint)[-1]
            nested.append((f"{table}.{f.name}.<name>", item, item()))
    lines.append("")
    for sub_table, sub_cls, sub_value in nested:
        lines += reference(sub_table, sub_cls, sub_value)
    return lines


def required(cls: type) -> list[str]:
    """Fields of `cls` without a default: keys a `[[...]]` entry must give."""
    return [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]

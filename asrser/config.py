"""Typed configs: a YAML file of conf/ parsed into dataclasses, so that a misspelt or missing option is an error
naming the file and line, not a setting silently ignored or a KeyError deep inside a stage.

    config = load_config(NetConfig, "conf/fast/convnet.yaml")

`base: other.yaml` at the top of a file (relative to it; the other file may have a base of its own) supplies
what the file does not set: mappings are merged key by key, lists and values are replaced whole. The dataclass
fields may be nested dataclasses, lists and str-keyed dicts of them, unions of dataclasses told apart by their
`type` option (a Literal field, e.g. the layers of a network), Literal choices, int, float (an integer is
accepted), str, bool, and `X | None`. Fields with a default may be left out. A dataclass's __post_init__ may
refuse values by raising ValueError; the message is reported with the file.

written_options(config) gives back the options as the file wrote them (not the defaults it left out): what
completion records and checkpoints store, so that a new option with a default does not make earlier runs
look changed.
"""

from __future__ import annotations

import dataclasses
import os
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

from .errors import DataError

T = TypeVar("T")
_WRITTEN = "_written_options"        # attribute of a loaded dataclass: the names of the options given for it
# YAML 1.1 (PyYAML) reads 1e-3 as text; YAML 1.2 and Python read it as a number.
_EXPONENT_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


class _Mapping(dict):
    """A YAML mapping that knows where it and each of its keys were written: (file, line)."""

    def __init__(self, source: str, line: int | None):
        super().__init__()
        self.at = (source, line)
        self.key_at: dict[Any, tuple[str, int | None]] = {}


def read_config(path: str | os.PathLike, what: str = "config") -> _Mapping:
    """The mapping of a YAML config file with its `base:` chain merged in; the file and line of every key are
    kept for error messages. A missing file, YAML syntax errors, a document that is not a mapping and a
    circular chain of bases are DataErrors naming the file."""
    return _read_with_bases(Path(path), what, ())


def load_config(cls: type[T], path: str | os.PathLike, what: str = "config") -> T:
    """A YAML config file (with its `base:` chain) as an instance of the dataclass cls (or of another type that
    from_mapping accepts, e.g. dict[str, SomeConfig] for a file of named sections)."""
    return from_mapping(cls, read_config(path, what), str(path))


def from_mapping(cls: type[T], mapping: dict, source: str) -> T:
    """cls built from a mapping read from a YAML file (read_config), or from a plain dict (e.g. the config a
    checkpoint stores, source naming the checkpoint); the checks and messages of load_config."""
    return _build(cls, mapping, "", (source, getattr(mapping, "at", (source, None))[1]))


def written_options(value):
    """A loaded config as plain data holding only the options its file gave (dataclasses as dicts in the file's
    order; a dataclass made in code gives all its fields)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = getattr(value, _WRITTEN, None) or [f.name for f in dataclasses.fields(value)]
        return {name: written_options(getattr(value, name)) for name in names}
    if isinstance(value, (list, tuple)):
        return [written_options(v) for v in value]
    if isinstance(value, dict):
        return {k: written_options(v) for k, v in value.items()}
    return value


def _read_with_bases(path: Path, what: str, seen: tuple[Path, ...]) -> _Mapping:
    if path.resolve() in seen:
        raise DataError(path, f"circular base configs ({' -> '.join(map(str, (*seen, path.resolve())))})")
    doc = _parse(path, what)
    if "base" not in doc:
        return doc
    base_name = doc.pop("base")
    source, line = doc.key_at.pop("base")
    if not isinstance(base_name, str):
        raise DataError(source, f"base: expected the name of another config file, found {base_name!r}", line)
    if not (path.parent / base_name).is_file():
        raise DataError(source, f"base: {path.parent / base_name} does not exist", line)
    return _merge(_read_with_bases(path.parent / base_name, what, (*seen, path.resolve())), doc)


def _merge(base, over):
    """over's settings on top of base's: mappings key by key (recursively), anything else replaced whole."""
    if not (isinstance(base, _Mapping) and isinstance(over, _Mapping)):
        return over
    merged = _Mapping(*over.at)
    for key in (*base, *(k for k in over if k not in base)):
        merged[key] = _merge(base[key], over[key]) if key in base and key in over else \
            base[key] if key in base else over[key]
        merged.key_at[key] = over.key_at[key] if key in over else base.key_at[key]
    return merged


def _parse(path: Path, what: str) -> _Mapping:
    import yaml

    from .fileio import text_lines

    if not path.is_file():
        raise DataError(path, f"{what} does not exist")
    text = "".join(line for _, line in text_lines(path))

    class Loader(yaml.SafeLoader):
        pass

    def mapping(loader: Loader, node: yaml.MappingNode) -> _Mapping:
        loader.flatten_mapping(node)
        out = _Mapping(str(path), node.start_mark.line + 1)
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in out:
                raise DataError(path, f"option {key!r} is given twice (first on line {out.key_at[key][1]})", line)
            out[key] = loader.construct_object(value_node, deep=True)
            out.key_at[key] = (str(path), line)
        return out

    Loader.add_constructor("tag:yaml.org,2002:map", mapping)
    try:
        doc = yaml.load(text, Loader=Loader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise DataError(path, f"not valid YAML: {getattr(e, 'problem', None) or e}",
                        mark.line + 1 if mark is not None else None) from None
    if doc is None:
        return _Mapping(str(path), None)
    if not isinstance(doc, _Mapping):
        raise DataError(path, f"expected a mapping of {what} options, found {type(doc).__name__}")
    return doc


def _where(name: str) -> str:
    return f" in {name}" if name else ""


def _build(tp, value, name: str, at: tuple[str, int | None]):
    """value (read from at = (file, line)) as type tp; name is the option's dotted name (layers.3.dropout)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    label = f"{name}: " if name else ""
    if dataclasses.is_dataclass(tp):
        return _build_dataclass(tp, value, name, at)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return _build(options[0], value, name, at)
        return _build_tagged(options, value, name, at)
    if origin is Literal:
        if value not in args or isinstance(value, bool) != any(isinstance(a, bool) for a in args):
            raise DataError(at[0], f"{label}expected one of {', '.join(map(str, args))}, found {value!r}", at[1])
        return value
    if origin is list:
        if not isinstance(value, list):
            raise DataError(at[0], f"{label}expected a list, found {value!r}", at[1])
        return [_build(args[0], v, f"{name}.{i}", getattr(v, "at", at)) for i, v in enumerate(value, 1)]
    if origin is dict:
        if not isinstance(value, dict):
            raise DataError(at[0], f"{label}expected a mapping, found {value!r}", at[1])
        key_at = getattr(value, "key_at", {})
        return {str(k): _build(args[1], v, f"{name}.{k}" if name else str(k), key_at.get(k, at))
                for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise DataError(at[0], f"{label}expected true or false, found {value!r}", at[1])
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise DataError(at[0], f"{label}expected an integer, found {value!r}", at[1])
        return value
    if tp is float:
        if isinstance(value, str) and _EXPONENT_FLOAT.fullmatch(value):
            return float(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise DataError(at[0], f"{label}expected a number, found {value!r}", at[1])
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise DataError(at[0], f"{label}expected text, found {value!r}", at[1])
        return value
    raise TypeError(f"config option {name}: type {tp!r} is not supported")


def _build_dataclass(cls, value, name: str, at: tuple[str, int | None]):
    if not isinstance(value, dict):
        raise DataError(at[0], f"{name + ': ' if name else ''}expected a mapping of options, found {value!r}", at[1])
    hints = typing.get_type_hints(cls)
    fields = [f for f in dataclasses.fields(cls) if f.init]
    known = [f.name for f in fields]
    key_at = getattr(value, "key_at", {})
    at = getattr(value, "at", at)
    for key in value:
        if key not in known:
            source, line = key_at.get(key, at)
            raise DataError(source, f"unknown option {key!r}{_where(name)} (known: {', '.join(known)})", line)
    missing = [f.name for f in fields if f.name not in value and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    if missing:
        raise DataError(at[0], f"missing option{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}"
                               f"{_where(name)}", at[1])
    kwargs = {key: _build(hints[key], v, f"{name}.{key}" if name else key, key_at.get(key, at))
              for key, v in value.items()}
    try:
        config = cls(**kwargs)
    except ValueError as e:
        raise DataError(at[0], f"{name + ': ' if name else ''}{e}") from None
    object.__setattr__(config, _WRITTEN, tuple(value))
    return config


def _build_tagged(options: list, value, name: str, at: tuple[str, int | None]):
    """One of several dataclasses, chosen by the mapping's `type` option (each has a `type: Literal[...]`)."""
    tags = {typing.get_args(typing.get_type_hints(c)["type"])[0]: c for c in options}
    if not isinstance(value, dict):
        raise DataError(at[0], f"{name}: expected a mapping with a type ({', '.join(tags)}), found {value!r}", at[1])
    source, line = getattr(value, "key_at", {}).get("type", getattr(value, "at", at))
    if "type" not in value:
        raise DataError(source, f"{name}: no type (one of {', '.join(tags)})", line)
    if value["type"] not in tags:
        raise DataError(source, f"{name}: unknown type {value['type']!r} (one of {', '.join(tags)})", line)
    return _build_dataclass(tags[value["type"]], value, name, at)

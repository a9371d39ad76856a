"""Reading configs: YAML with the hardened loader of ``safe_yaml``, ``--set`` overrides, validation into ``Config``.

Every problem becomes one ``ConfigError`` naming the key path, the bad value and what is allowed.
"""
from __future__ import annotations

import copy
import difflib
import os
from pathlib import Path
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from dlcli.config import safe_yaml
from dlcli.config.schema import NAME_PATTERN, Config
from dlcli.errors import ConfigError, kind_of, os_reason, shown, shown_name
from dlcli.numbers import counted, is_number
from dlcli.registry import did_you_mean

# Keys whose values are free-form mappings (checked later by the stage that uses them).
_FREE_FORM = {("data", "options")}
# Sections that describe a study over the config, not one run: ``dlcli sweep`` and ``dlcli tune``
# read them; a single run (train, resume) trains the config they vary and leaves them aside.
STUDY_SECTIONS = ("sweep", "search")
_PATH_KEYS = (("data", "train"), ("data", "dev"), ("data", "test"), ("model", "init_from"))


def read_yaml(path: str | os.PathLike[str], what: str = "config file") -> dict[str, Any]:
    """The mapping in a YAML file, or a ConfigError that says what is wrong with it (``what``
    the file is for: ``config file``, ``space file``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("", message=f"{what} {str(path)!r} does not exist"
                          + _nearest_file(path, what)) from None
    except IsADirectoryError:
        raise ConfigError("", message=f"{str(path)!r} is a directory, not a {what}"
                          + _example_file(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError("", message=f"{what} {str(path)!r} is not UTF-8 text (byte "
                          f"{exc.object[exc.start]:#04x} at position {exc.start:,})") from None
    except OSError as exc:
        raise ConfigError("", message=f"cannot read {what} {str(path)!r}: "
                          f"{os_reason(exc)}") from None
    raw = safe_yaml.load(text, str(path))
    if raw is None:
        raise ConfigError("", message=f"{path} is empty; a config is a YAML mapping with at "
                          "least data: and model: sections")
    if not isinstance(raw, dict):
        raise ConfigError("", message=f"{path} holds a YAML {kind_of(raw)}, "
                          "not a mapping of config keys (key: value lines)")
    return raw


def _yaml_files(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml")
                      and p.is_file())
    except OSError:
        return []


def _nearest_file(path: Path, what: str) -> str:
    """`` (did you mean configs/quickstart.yaml?)`` for a misspelt file name, naming the YAML
    file beside where it was looked for whose name (without the extension every one shares) is
    closest, and that holds what was asked for: a search space for a ``space file``, else not
    one (``nope.yaml`` is not a misspelt ``space.yaml`` config)."""
    if not path.parent.is_dir():
        return f" (there is no directory {str(path.parent)!r})"
    siblings = {p.stem: p for p in _yaml_files(path.parent)}
    for stem in difflib.get_close_matches(path.stem, list(siblings), n=5, cutoff=0.6):
        if _is_search_space(siblings[stem]) == (what == "space file"):
            return f" (did you mean {siblings[stem]}?)"
    return ""


def _is_search_space(path: Path) -> bool:
    """Whether the YAML file reads as a search space: top-level keys that are dotted config
    paths (``optimizer.learning_rate: {log_uniform: ...}``), where a config has sections."""
    try:
        with open(path, encoding="utf-8") as handle:
            raw = safe_yaml.load(handle.read(1_000_000), str(path))
    except (OSError, UnicodeDecodeError, ConfigError):   # not a space, and not this message's
        return False                                     # business to say what is wrong with it
    return isinstance(raw, dict) and bool(raw) and all("." in str(key) for key in raw)


def _example_file(folder: Path) -> str:
    files = _yaml_files(folder)
    return f"; give a YAML file in it, e.g. {files[0]}" if files else ""


def parse_override(text: str) -> tuple[str, Any]:
    """``KEY.PATH=VALUE`` -> (key path, value parsed as YAML); a key the config does not
    have is a ConfigError, as in a file."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        missing = "no key before '='" if sep else "no '=VALUE' after the key"
        raise ConfigError(f"--set {shown_name(text)}", message=f"--set {shown_name(text)}: "
                          f"{missing}; write overrides as KEY.PATH=VALUE, e.g. --set "
                          "optimizer.learning_rate=0.01")
    if len(key) > 200:
        raise ConfigError("--set", text, "a key path is a few dotted names, "
                          "e.g. optimizer.learning_rate")
    check_key_path(key)
    if not value.strip():
        raise ConfigError(f"--set {shown_name(key)}", message=f"--set {shown_name(key)}: no "
                          f"value after '='; write --set {shown_name(key)}=VALUE (null for "
                          "none)")
    return key, safe_yaml.scalar(value, f"--set {key}")


def _schema_at(parts: list[str]) -> type[BaseModel] | None:
    """The section model at a key path (None for free-form mappings and leaves)."""
    model: type[BaseModel] | None = Config
    for part in parts:
        if model is None:
            return None
        field = model.model_fields.get(part)
        if field is None:
            return None
        model = _section_type(field.annotation)
    return model


def _section_type(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _section_type(arg)
        if found is not None:
            return found
    return None


def unknown_key(at: str, key: str, allowed: Sequence[str]) -> ConfigError:
    """The one message for a key the config does not have, wherever it was written (a YAML
    file, ``--set``, ``--grid``, a sweep grid or a search space): ``config error at AT: unknown
    key 'optimiser' (did you mean 'optimizer'?); allowed keys here: ...``."""
    hint = did_you_mean(key, allowed)
    return ConfigError(at, message=f"{at}: unknown key {shown(key)}"
                       + (f" ({hint})" if hint else "")
                       + f"; allowed keys here: {', '.join(allowed)}")


def check_key_path(key: str, source: str = "--set") -> None:
    """A ConfigError at ``SOURCE KEY`` unless every part of the dotted ``key`` names a key of
    the config (the keys of a free-form mapping such as ``data.options`` are checked by the
    stage that reads them)."""
    parts = key.split(".")
    at = f"{source} {shown_name(key)}"
    for depth, part in enumerate(parts):
        prefix = parts[:depth]
        if tuple(prefix) in _FREE_FORM:
            return
        section = _schema_at(prefix)
        if section is None:
            raise ConfigError(at, message=f"{at}: {_join(prefix)} is a single value; "
                              "it has no keys")
        if part not in section.model_fields:
            raise unknown_key(at, part, list(section.model_fields))


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """A copy of ``raw`` with every ``KEY.PATH=VALUE`` applied; unknown keys are errors."""
    raw = copy.deepcopy(raw)
    for text in overrides:
        key, value = parse_override(text)
        parts = key.split(".")
        node = raw
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = value
    return raw


def _key_path(error: dict[str, Any], raw: dict[str, Any]) -> list[str]:
    """The user's key path of a pydantic error (pydantic adds union member names to it)."""
    parts: list[str] = []
    node: Any = raw
    for part in (str(p) for p in error["loc"]):
        if isinstance(node, dict) and part in node:
            parts.append(part)
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            parts.append(f"[{part}]")
            node = node[int(part)]
        elif error["type"] == "missing" and isinstance(node, dict):
            parts.append(part)
            break
    return parts


def _join(parts: list[str]) -> str:
    return ".".join(shown_name(p) for p in parts).replace(".[", "[")


def _lower(text: str) -> str:
    return text[:1].lower() + text[1:]


def _format_error(errors: list[dict[str, Any]], raw: dict[str, Any],
                  set_texts: Mapping[str, str]) -> ConfigError:
    error = errors[0]
    parts = _key_path(error, raw)
    path = _join(parts)
    kind = error["type"]
    if kind == "extra_forbidden":
        section = _schema_at([p for p in parts[:-1] if not p.startswith("[")])
        return unknown_key(path, parts[-1], list(section.model_fields) if section else [])
    if kind == "missing":
        return ConfigError(path, message=f"{path}: required key is missing")
    if kind == "value_error":
        return ConfigError("", message=str(error.get("ctx", {}).get("error", error["msg"])))
    value = error.get("input")
    # A union (``batch_size: 64 | full``) fails once per member: say what each would take.
    same = [e for e in errors if _key_path(e, raw) == parts and e["type"] != "value_error"]
    hint = ""
    allowed: list[str] = []
    for each in same:
        if each["type"] in ("literal_error", "enum"):
            expected = each.get("ctx", {}).get("expected", "")
            names = [n.strip(" '") for n in expected.replace(" or ", ",").split(",")
                     if n.strip()]
            allowed.append("one of " + ", ".join(names) if len(names) > 1 else shown(names[0]))
            hint = hint or did_you_mean(str(value), names)
        else:
            allowed.append(requirement(each, parts))
    if any(e["type"] == "list_type" for e in same):
        only_a_list = all(e["type"] == "list_type" for e in same)
        hint = _list_hint(path, value, set_texts.get(path), only_a_list) or hint
    unique = list(dict.fromkeys(allowed))
    return ConfigError(path, value, "must be " + ", or ".join(unique), hint)


def _list_hint(path: str, value: Any, set_text: str | None, only_a_list: bool) -> str:
    """For comma-separated values where a list goes (``model.hidden: 16,8``, ``--set
    model.hidden=16,8``), or one value where only a list goes (``model.hidden=4``): the list
    written out, as the user would write it there. Nothing for one value where a single value
    is allowed too: ``[1.5]`` is no better a ``model.keep_prob`` than ``1.5``."""
    written = set_text if set_text is not None else value
    if isinstance(written, (int, float)) and not isinstance(written, bool) and only_a_list:
        written = str(written)
    if not isinstance(written, str) or any(c in written for c in "[]{}") or not (
            "," in written or (only_a_list and is_number(written))):
        return ""
    items = written.strip()
    if set_text is not None:
        return f"write a list as --set {path}=[{items}]"
    return f"did you mean [{items}]?"



def requirement(error: dict[str, Any], parts: Sequence[str] = ()) -> str:
    """What pydantic's error asks for, in the words of the config (after "must be")."""
    kind, ctx = error["type"], error.get("ctx", {})
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        section = _schema_at([p for p in parts if not p.startswith("[")])
        keys = f" ({', '.join(section.model_fields)})" if section else ""
        return f"a mapping of keys{keys}"
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == NAME_PATTERN:
        return "letters, digits, '.', '_' and '-' only (no spaces)"
    plain = {
        "string_type": "text", "string_pattern_mismatch": f"text matching {ctx.get('pattern')}",
        "int_type": "a whole number", "int_parsing": "a whole number",
        "int_from_float": "a whole number",
        "float_type": "a number", "float_parsing": "a number", "finite_number": "a finite number",
        "bool_type": "true or false", "bool_parsing": "true or false",
        "list_type": "a list",
        "greater_than": f"greater than {ctx.get('gt')}",
        "greater_than_equal": f"at least {ctx.get('ge')}",
        "less_than": f"less than {ctx.get('lt')}",
        "less_than_equal": f"at most {ctx.get('le')}",
        "string_too_short": f"at least {counted(ctx.get('min_length'), 'character')}",
        "string_too_long": f"at most {counted(ctx.get('max_length'), 'character')}",
        "too_short": f"at least {counted(ctx.get('min_length'), 'item')}",
        "too_long": f"at most {counted(ctx.get('max_length'), 'item')}",
    }
    if kind in plain:
        return plain[kind]
    return _lower(error["msg"]).removeprefix("input should be ")


def validate(raw: dict[str, Any], overrides: Sequence[str] = ()) -> Config:
    """A ``Config`` from plain data, or the first problem as a ConfigError (``overrides``, the
    ``--set`` texts applied to ``raw``, let a hint say how to write a value on the command
    line)."""
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        # Report unknown keys first, then wrong values; missing keys last.
        # The deepest key path is the most specific (a bad list element, not the whole list).
        errors.sort(key=lambda e: (e["type"] != "extra_forbidden", e["type"] == "missing",
                                   -len(_key_path(e, raw))))
        set_texts = dict(text.partition("=")[::2] for text in overrides)
        raise _format_error(errors, raw, {k.strip(): v for k, v in set_texts.items()}) from None


def _absolute_paths(raw: dict[str, Any], base: Path) -> None:
    # Relative paths are relative to the current working directory; the resolved config keeps
    # them absolute so it reproduces the run from anywhere.
    for section, key in _PATH_KEYS:
        value = raw.get(section, {}).get(key) if isinstance(raw.get(section), dict) else None
        if isinstance(value, str) and value:
            raw[section][key] = str((base / value).resolve())


def load_config(path: str | os.PathLike[str] | None = None, overrides: list[str] | None = None,
                *, raw: dict[str, Any] | None = None, name: str | None = None) -> Config:
    """Read, override and validate a config. ``name`` wins over the config's ``name:``;
    without either, the run is named after the file's stem."""
    if raw is None:
        if path is None:
            raise ConfigError("", message="no config given")
        raw = read_yaml(path)
    raw = {key: value for key, value in raw.items() if key not in STUDY_SECTIONS}
    raw = apply_overrides(raw, list(overrides or []))
    if name is not None:
        raw["name"] = name
    elif raw.get("name") is None:
        raw["name"] = Path(path).stem if path is not None else "run"
    _absolute_paths(raw, Path.cwd())
    return validate(raw, list(overrides or []))

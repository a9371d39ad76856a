"""Search spaces for ``dlcli tune`` (SPEC section 12): parsing, validation, sampling, shrinking.

A space maps config key paths to distributions, one distribution per key::

    optimizer.learning_rate: {log_uniform: [1.0e-4, 1.0e-1]}   # 10^r, r ~ U(-4, -1)
    optimizer.beta1: {one_minus_log_uniform: [0.9, 0.999]}      # 1 - beta in [1e-3, 1e-1], log
    regularization.l2: {log_uniform: [1.0e-5, 1.0e-1]}
    model.keep_prob: {uniform: [0.5, 1.0]}
    training.epochs: {int_uniform: [20, 80]}                    # both ends included
    training.batch_size: {choice: [32, 64, 128, 256]}
    model.activation: {choice: [relu, tanh]}
    model.hidden: {choice: [[16], [16, 8]]}                      # choices may be lists

Keys may also be nested like the config itself (``optimizer: {learning_rate: {log_uniform: ...}}``):
a mapping whose only key is a distribution name is a distribution, any other mapping is a section.

Every numeric distribution has a *sampling scale* in which it is uniform: the value itself
(``uniform``, ``int_uniform``), ``log10(value)`` (``log_uniform``) or ``log10(1 - value)``
(``one_minus_log_uniform``: a beta of 0.9 averages over about 10 values, 0.999 over about 1000, so
the resolution belongs in ``1 - beta``). Coarse to fine shrinks a range to the span of the kept
trials' values in that scale. ``choice`` is not a range and is never shrunk.
"""
from __future__ import annotations

import math
from collections.abc import ItemsView, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlcli.config import apply_overrides, check_key_path, safe_yaml, validate
from dlcli.errors import ConfigError, shown
from dlcli.registry import did_you_mean
from dlcli.runs.files import yaml_value

UNIFORM = "uniform"
LOG_UNIFORM = "log_uniform"
ONE_MINUS_LOG_UNIFORM = "one_minus_log_uniform"
INT_UNIFORM = "int_uniform"
CHOICE = "choice"
DISTRIBUTIONS = (UNIFORM, LOG_UNIFORM, ONE_MINUS_LOG_UNIFORM, INT_UNIFORM, CHOICE)
NUMERIC = (UNIFORM, LOG_UNIFORM, ONE_MINUS_LOG_UNIFORM, INT_UNIFORM)
LOG_SCALED = (LOG_UNIFORM, ONE_MINUS_LOG_UNIFORM)

SYNTAX = ("write a distribution as {uniform: [a, b]}, {log_uniform: [a, b]}, "
          "{one_minus_log_uniform: [a, b]}, {int_uniform: [a, b]} or {choice: [v1, v2, ...]}")


@dataclass(frozen=True)
class Distribution:
    """One key's distribution. ``low``/``high`` for numeric kinds, ``choices`` for ``choice``."""

    kind: str
    low: float = 0.0
    high: float = 0.0
    choices: tuple[Any, ...] = ()

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC

    @property
    def log_scale(self) -> bool:
        """Plotted on a log axis (of the value, or of ``1 - value`` for betas)."""
        return self.kind in LOG_SCALED

    # -- the sampling scale --------------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> Any:
        """One value, drawn with ``rng``. A range shrunk to one point gives that point."""
        if self.kind == CHOICE:
            # Index rather than rng.choice(list): the choices may be lists of different lengths.
            return self.choices[int(rng.integers(len(self.choices)))]
        if self.kind == INT_UNIFORM:
            return int(rng.integers(int(self.low), int(self.high), endpoint=True))
        if self.kind == UNIFORM:
            return float(self.low + (self.high - self.low) * rng.random())
        if self.kind == LOG_UNIFORM:
            # SPEC 12: r ~ U(log10 a, log10 b), value 10^r (written a_log + (b_log - a_log) * u).
            a_log, b_log = math.log10(self.low), math.log10(self.high)
            return float(10.0 ** (a_log + (b_log - a_log) * rng.random()))
        # one_minus_log_uniform: 1 - beta is log-uniform in [1 - b, 1 - a].
        a_log, b_log = math.log10(1.0 - self.high), math.log10(1.0 - self.low)
        return float(1.0 - 10.0 ** (a_log + (b_log - a_log) * rng.random()))

    def shrink(self, kept_values: Iterable[Any]) -> Distribution:
        """The range spanned by ``kept_values`` in the sampling scale (``choice``: unchanged).

        Every sampling scale is monotone in the value, so the span's ends in that scale are the
        scale of the smallest and largest kept values; keeping those values themselves (rather
        than ``10 ** log10(x)``, which can miss by an ulp) makes the new ends exactly values a
        kept trial used, and keeps ``low <= high`` in value terms for betas too."""
        if not self.numeric:
            return self
        values = [float(v) for v in kept_values]
        if not values:
            return self
        lo, hi = min(values), max(values)
        if self.kind == INT_UNIFORM:
            return Distribution(self.kind, int(round(lo)), int(round(hi)))
        return Distribution(self.kind, lo, hi)

    def to_data(self) -> dict[str, Any]:
        """The YAML form, ``{log_uniform: [a, b]}`` (what space.yaml and summary.json hold)."""
        if self.kind == CHOICE:
            return {CHOICE: list(self.choices)}
        if self.kind == INT_UNIFORM:
            return {self.kind: [int(self.low), int(self.high)]}
        return {self.kind: [self.low, self.high]}

    def parse_cell(self, text: str) -> Any:
        """A value back from its trials.csv cell (written with ``yaml_value``)."""
        if self.kind == INT_UNIFORM:
            return int(float(text))
        if self.numeric:
            return float(text)
        by_text = {yaml_value(c): c for c in self.choices}
        if text in by_text:
            return by_text[text]
        return safe_yaml.scalar(text)

    def check_values(self) -> list[Any]:
        """Values that must each be valid in the config: both ends and an inside point.

        The inside point is not an integer, so a float range on an integer key is caught."""
        if self.kind == CHOICE:
            return list(self.choices)
        if self.kind == INT_UNIFORM:
            return [int(self.low), int(self.high)]
        inside = self.low + (self.high - self.low) * 0.377
        return [self.low, self.high, inside]


@dataclass(frozen=True)
class Space:
    """Config key path -> distribution, in the order the space gives them."""

    dists: dict[str, Distribution]

    def __iter__(self) -> Iterator[str]:
        return iter(self.dists)

    def __len__(self) -> int:
        return len(self.dists)

    def items(self) -> ItemsView[str, Distribution]:
        return self.dists.items()

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        """One value per key, drawn in the space's order (so a seed gives the same trial)."""
        return {key: dist.sample(rng) for key, dist in self.dists.items()}

    def shrink(self, kept: Sequence[Mapping[str, Any]]) -> Space:
        """Each numeric range shrunk to the span of the kept trials' values of that key."""
        return Space({key: dist.shrink(values[key] for values in kept if key in values)
                      for key, dist in self.dists.items()})

    def to_data(self) -> dict[str, Any]:
        return {key: dist.to_data() for key, dist in self.dists.items()}

    def overrides(self, values: Mapping[str, Any]) -> list[str]:
        """Sampled values as ``KEY.PATH=VALUE`` overrides (the trial's overrides.yaml)."""
        return [f"{key}={yaml_value(values[key])}" for key in self.dists]


# -- parsing -----------------------------------------------------------------------------------

def _flatten(data: Mapping[Any, Any], prefix: str, where: str) -> dict[str, Any]:
    """Nested sections to dotted key paths; a mapping with one distribution name is a leaf."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if not isinstance(key, str) or not key.strip():
            raise ConfigError(f"{where} key {shown(key)}",
                              message=f"{where}: key {shown(key)} is not a "
                              "config key path like optimizer.learning_rate")
        path = f"{prefix}{key.strip()}"
        if isinstance(value, Mapping) and not _is_distribution(value):
            if not value:
                raise ConfigError(f"{where} {path}", message=f"{where} {path}: empty mapping; "
                                  + SYNTAX)
            flat.update(_flatten(value, path + ".", where))
        else:
            flat[path] = value
    return flat


def _is_distribution(value: Mapping[Any, Any]) -> bool:
    # A list is never a config section, so {loguniform: [1e-4, 1e-1]} is a misspelt
    # distribution (reported with a did-you-mean), not a section named "loguniform".
    if len(value) != 1:
        return False
    kind, args = next(iter(value.items()))
    return kind in DISTRIBUTIONS or isinstance(args, list)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def parse_distribution(path: str, spec: Any, where: str = "search space") -> Distribution:
    """``{log_uniform: [a, b]}`` -> Distribution, or a ConfigError naming the key path."""
    at = f"{where} {path}"
    if not isinstance(spec, Mapping) or len(spec) != 1:
        hint = ""
        if isinstance(spec, Mapping) and spec:
            names = [str(k) for k in spec]
            hint = did_you_mean(names[0], DISTRIBUTIONS) if len(names) == 1 else ""
        raise ConfigError(at, spec, SYNTAX, hint)
    kind, args = next(iter(spec.items()))
    if kind not in DISTRIBUTIONS:
        raise ConfigError(at, kind, f"distributions: {', '.join(DISTRIBUTIONS)}",
                          did_you_mean(str(kind), DISTRIBUTIONS))
    if kind == CHOICE:
        if not isinstance(args, list) or not args:
            raise ConfigError(at, args, "choice takes a non-empty list of values, "
                              "e.g. {choice: [32, 64, 128]}")
        texts = [yaml_value(a) for a in args]
        if len(set(texts)) != len(texts):
            raise ConfigError(at, args, "the choices must differ from each other")
        return Distribution(CHOICE, choices=tuple(args))
    if (not isinstance(args, list) or len(args) != 2
            or not all(_is_number(a) for a in args)):
        raise ConfigError(at, args, f"{kind} takes two numbers [a, b], e.g. {{{kind}: "
                          + ("[1.0e-4, 1.0e-1]}" if kind == LOG_UNIFORM else
                             "[0.9, 0.999]}" if kind == ONE_MINUS_LOG_UNIFORM else
                             "[16, 128]}" if kind == INT_UNIFORM else "[0.5, 1.0]}"))
    a, b = args
    if not a < b:
        raise ConfigError(at, args, "the range must have a < b")
    if kind == INT_UNIFORM and not all(float(x).is_integer() for x in args):
        raise ConfigError(at, args, "int_uniform takes two integers")
    if kind == LOG_UNIFORM and a <= 0:
        raise ConfigError(at, args, "log_uniform needs 0 < a < b (it samples log10 of the "
                          "value); to include 0, use uniform")
    if kind == ONE_MINUS_LOG_UNIFORM and not (0 < a and b < 1):
        raise ConfigError(at, args, "one_minus_log_uniform is for betas: 0 < a < b < 1 "
                          "(1 - beta is sampled log-uniformly in [1 - b, 1 - a])")
    if kind == INT_UNIFORM:
        return Distribution(kind, int(a), int(b))
    return Distribution(kind, float(a), float(b))


def parse_space(data: Any, where: str = "search space") -> Space:
    """A Space from YAML data (a space file's mapping, or a config's ``search:`` section)."""
    if not isinstance(data, Mapping) or not data:
        raise ConfigError(where, message=f"{where}: expected a mapping of config key paths to "
                          "distributions, e.g. optimizer.learning_rate: "
                          "{log_uniform: [1.0e-4, 1.0e-1]}; " + SYNTAX)
    flat = _flatten(data, "", where)
    return Space({path: parse_distribution(path, spec, where) for path, spec in flat.items()})


def check_space(space: Space, base_raw: Mapping[str, Any], where: str = "search space") -> None:
    """Every key path names a config key and every value the space can give is valid there.

    Each path is applied as an override to the base config and the result validated, with both
    ends of a range, a point inside it, and every choice: an unknown key is a ConfigError with a
    did-you-mean; a range the config does not allow (a beta of 1, a float batch size) names the
    key and the value. Combinations of keys are not checked: a trial whose sampled values do not
    fit together is recorded as failed."""
    for path, dist in space.items():
        if path in ("name", "seed"):
            raise ConfigError(f"{where} {path}", message=f"{where} {path}: the search sets "
                              f"each trial's {path} itself; it cannot be searched")
        check_key_path(path, where)
        for value in dist.check_values():
            raw = apply_overrides(dict(base_raw), [f"{path}={yaml_value(value)}"])
            try:
                validate(raw)
            except ConfigError as exc:
                raise ConfigError(f"{where} {path}", message=f"{where} {path}: "
                                  f"{yaml_value(dist.to_data())} can give "
                                  f"{yaml_value(value)}, which the config does not allow: "
                                  f"{_reason(exc)}") from None


def _reason(exc: ConfigError) -> str:
    return str(exc).removeprefix("config error at ").removeprefix("config error: ")

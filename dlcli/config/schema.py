"""The config schema (SPEC section 0): one typed, validated object handed to every stage.

The names a component field accepts are listed once, as the tuples below, and every ``Literal``
type pydantic validates with is made from them; ``tests/test_registries.py`` checks that each
tuple holds exactly the names its registry accepts (aliases included) and that the schema takes
each of them. (The registries live in nn, optim and data, to the right of config in the package
flow, so config cannot read them when its types are built.)
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo,
                      field_serializer, field_validator, model_validator)
from pydantic_core import PydanticCustomError

from dlcli.numbers import counted
from dlcli.run_schema import MONITORS, Direction, direction

INITIALIZERS = ("zeros", "random", "lecun", "tanh", "he", "xavier")
ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid", "linear")
OUTPUTS = ("auto", "sigmoid", "softmax")
OPTIMIZERS = ("gd", "momentum", "rmsprop", "adam")
SCHEDULES = ("none", "inverse_time", "exponential", "inverse_sqrt")
DATASETS = ("moons", "circles", "flower", "spirals", "blobs", "digits", "iris", "wine",
            "breast_cancer")
NORMALIZERS = ("none", "standardize", "minmax")
DTYPES = ("float32", "float64")
NAME_PATTERN = r"^[A-Za-z0-9._-]+$"   # a run name is part of a directory name

Initializer = Literal[INITIALIZERS]  # type: ignore[valid-type]
Activation = Literal[ACTIVATIONS]  # type: ignore[valid-type]
Probability = Annotated[float, Field(gt=0.0, le=1.0)]
UnitInterval = Annotated[float, Field(ge=0.0, lt=1.0)]


def _whole_number(value: Any) -> Any:
    if isinstance(value, bool):
        raise PydanticCustomError("number_not_boolean", "a whole number")
    return value


# A list element that is a count: [true] is not [1].
Size = Annotated[int, Field(ge=1), BeforeValidator(_whole_number)]


class Section(BaseModel):
    """Every config section: unknown keys are errors, values are re-validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @field_validator("*", mode="before")
    @classmethod
    def _booleans_only_where_they_go(cls, value: Any, info: ValidationInfo) -> Any:
        # pydantic reads true as 1 where a number goes ("epochs: true" trained one epoch), and
        # 1, "yes" or "on" as true where a switch goes ("shuffle: 1"): both are refused.
        if info.field_name is None:
            return value
        annotation = cls.model_fields[info.field_name].annotation
        kinds = _scalar_kinds(annotation)
        names = [name for arg in get_args(annotation)
                 if get_origin(arg) is Literal for name in get_args(arg)]
        if isinstance(value, bool):
            if bool not in kinds and kinds & {int, float}:
                wanted = "a whole number" if int in kinds and float not in kinds else "a number"
                raise PydanticCustomError("number_not_boolean", ", or ".join(
                    [wanted, *(f"'{name}'" for name in names)]))
        elif bool in kinds and not kinds & {int, float, str} and value is not None \
                and value not in names:
            raise PydanticCustomError("boolean_not_number", ", or ".join(
                ["true or false", *(f"'{name}'" for name in names)]))
        return value


def _scalar_kinds(annotation: Any) -> set[type]:
    """The plain types a field takes at its top level (``int | Literal['full']`` -> {int})."""
    if isinstance(annotation, type):
        return {annotation}
    kinds: set[type] = set()
    for arg in get_args(annotation):
        if get_origin(arg) is not list and get_origin(annotation) is not list:
            kinds |= _scalar_kinds(arg)
    return kinds


class AugmentConfig(Section):
    flip: bool = False
    shift: int = Field(0, ge=0)
    rotate: float = Field(0.0, ge=0.0, le=180.0)

    @property
    def active(self) -> bool:
        return self.flip or self.shift > 0 or self.rotate > 0


class DataConfig(Section):
    # Data generation and the dev/test split; None: the top-level seed (SPEC section 0).
    seed: int | None = Field(None, ge=0)
    dataset: Literal[DATASETS] | None = None  # type: ignore[valid-type]
    options: dict[str, Any] = Field(default_factory=dict)
    train: str | None = None
    dev: str | None = None
    test: str | None = None
    target: str | int | None = None
    header: bool | Literal["auto"] = "auto"
    image_shape: list[Size] | None = Field(None, min_length=2,
                                                                  max_length=3)
    memory_map: bool | Literal["auto"] = "auto"
    dev_fraction: UnitInterval = 0.0
    test_fraction: UnitInterval = 0.0
    normalize: Literal[NORMALIZERS] = "standardize"  # type: ignore[valid-type]
    augment: AugmentConfig = Field(default_factory=AugmentConfig)

    @model_validator(mode="after")
    def _one_source(self) -> DataConfig:
        if (self.dataset is None) == (self.train is None):
            raise ValueError("give exactly one of data.dataset (a built-in data set) and "
                             "data.train (a CSV or NPZ file)")
        if self.dataset is not None and (self.dev or self.test):
            raise ValueError("data.dev and data.test files go with data.train, not with a "
                             "built-in data set; use dev_fraction / test_fraction")
        if self.dev and self.dev_fraction:
            raise ValueError("give data.dev or data.dev_fraction, not both")
        if self.test and self.test_fraction:
            raise ValueError("give data.test or data.test_fraction, not both")
        if self.dev_fraction + self.test_fraction >= 0.9:
            raise ValueError("data.dev_fraction + data.test_fraction must leave at least 10% "
                             "of the data for training")
        if self.header != "auto" and self.train is None:
            raise ValueError("data.header describes a CSV file; give it with data.train")
        if self.memory_map is True and self.train is None:
            raise ValueError("data.memory_map: true maps a data file; give it with data.train "
                             "(an uncompressed .npz or .npy)")
        if self.options and self.dataset is None:
            raise ValueError("data.options are options of a built-in data set; "
                             "give data.dataset too")
        return self


class BatchNormConfig(Section):
    momentum: UnitInterval = 0.9
    epsilon: float = Field(1e-5, gt=0.0)


class ModelConfig(Section):
    hidden: list[Size]
    activation: Activation | list[Activation] = "relu"
    output: Literal[OUTPUTS] = "auto"  # type: ignore[valid-type]
    init: Initializer = "he"
    init_scale: float = Field(0.01, ge=0.0)
    init_from: str | None = None
    batch_norm: BatchNormConfig | None = None
    keep_prob: Probability | list[Probability] = 1.0

    @field_validator("batch_norm", mode="before")
    @classmethod
    def _bool_batch_norm(cls, value: Any) -> Any:
        if value is True:
            return {}
        if value is False:
            return None
        return value

    @field_serializer("batch_norm")
    def _write_batch_norm(self, value: BatchNormConfig | None) -> Any:
        # SPEC section 0 spells "off" as false, not null.
        return False if value is None else value.model_dump()

    @model_validator(mode="after")
    def _per_layer_lengths(self) -> ModelConfig:
        for key in ("activation", "keep_prob"):
            value = getattr(self, key)
            if isinstance(value, list) and len(value) != len(self.hidden):
                raise ValueError(f"model.{key} has {counted(len(value), 'value')} for "
                                 f"{counted(len(self.hidden), 'hidden layer')}; give one "
                                 "value, or one per hidden layer")
        return self

    def activations(self) -> list[str]:
        """One activation name per hidden layer."""
        value = self.activation
        return list(value) if isinstance(value, list) else [value] * len(self.hidden)

    def keep_probs(self) -> list[float]:
        """One keep probability per hidden layer."""
        value = self.keep_prob
        return list(value) if isinstance(value, list) else [value] * len(self.hidden)


class RegularizationConfig(Section):
    l2: float = Field(0.0, ge=0.0)
    l1: float = Field(0.0, ge=0.0)


class OptimizerConfig(Section):
    name: Literal[OPTIMIZERS] = "adam"  # type: ignore[valid-type]
    learning_rate: float = Field(0.001, gt=0.0)
    beta: UnitInterval = 0.9
    beta1: UnitInterval = 0.9
    beta2: UnitInterval = 0.999
    epsilon: float = Field(1e-8, gt=0.0)


class ScheduleConfig(Section):
    name: Literal[SCHEDULES] = "none"  # type: ignore[valid-type]
    decay_rate: float = Field(1.0, ge=0.0)
    base: float = Field(0.95, gt=0.0, le=1.0)
    k: float = Field(1.0, gt=0.0)
    interval: int = Field(1, ge=1)


class EarlyStoppingConfig(Section):
    monitor: Literal[MONITORS] = "dev_loss"  # type: ignore[valid-type]
    patience: int = Field(50, ge=1)
    min_delta: float = Field(0.0, ge=0.0)
    restore_best: bool = True

    @property
    def mode(self) -> Direction:
        """``max`` for accuracies, ``min`` for losses and the cost."""
        mode = direction(self.monitor)
        assert mode is not None
        return mode


class TrainingConfig(Section):
    epochs: int = Field(100, ge=1)
    batch_size: Annotated[int, Field(ge=1)] | Literal["full"] = 64
    shuffle: bool = True
    dtype: Literal[DTYPES] = "float32"  # type: ignore[valid-type]
    eval_every: int = Field(1, ge=1)
    checkpoint_every: int = Field(10, ge=1)
    early_stopping: EarlyStoppingConfig | None = None
    log_grad_norms: bool = False


class Config(Section):
    """A whole experiment."""

    name: str | None = Field(None, min_length=1, max_length=100, pattern=NAME_PATTERN)
    seed: int = Field(0, ge=0)
    data: DataConfig
    model: ModelConfig
    regularization: RegularizationConfig = Field(default_factory=RegularizationConfig)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)

    @model_validator(mode="after")
    def _early_stopping_needs_monitor(self) -> Config:
        stopping = self.training.early_stopping
        if stopping and stopping.monitor.startswith("dev_") and not self.has_dev_split:
            raise ValueError("training.early_stopping monitors "
                             f"{stopping.monitor}, which needs a dev split: give data.dev "
                             "or data.dev_fraction > 0")
        return self

    @property
    def data_seed(self) -> int:
        """The seed of the data stream: ``data.seed``, or the run's ``seed`` when not set."""
        return self.seed if self.data.seed is None else self.data.seed

    @property
    def has_dev_split(self) -> bool:
        return bool(self.data.dev) or self.data.dev_fraction > 0

    def to_dict(self) -> dict[str, Any]:
        """The resolved config as plain data (what ``config.yaml`` holds)."""
        return self.model_dump(mode="json")

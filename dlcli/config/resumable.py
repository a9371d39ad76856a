"""Which config keys ``dlcli resume --set`` may change.

Nothing that changes the network's shape, the data, the optimiser's state layout or the random
streams: those would make the checkpoint not fit, or the resumed run not the run it continues.
"""
from __future__ import annotations

from collections.abc import Iterable

from dlcli.config.load import parse_override
from dlcli.errors import ConfigError

# A key ending in "." stands for every key under it.
RESUMABLE_KEYS = ("name", "optimizer.learning_rate", "optimizer.beta", "optimizer.beta1",
                  "optimizer.beta2", "optimizer.epsilon", "schedule.", "regularization.",
                  "model.keep_prob", "data.augment.", "training.epochs", "training.batch_size",
                  "training.shuffle", "training.eval_every", "training.checkpoint_every",
                  "training.early_stopping.", "training.log_grad_norms")


def is_resumable(key: str) -> bool:
    return any(key == allowed or (allowed.endswith(".") and key.startswith(allowed))
               for allowed in RESUMABLE_KEYS)


def check_resumable(overrides: Iterable[str]) -> None:
    """A ConfigError for the first ``KEY=VALUE`` override whose key may not change on resume."""
    for text in overrides:
        key, value = parse_override(text)
        if not is_resumable(key):
            allowed = ", ".join(k + ("*" if k.endswith(".") else "") for k in RESUMABLE_KEYS)
            raise ConfigError("--set " + key, value,
                              "cannot change when resuming (it would change the network, the "
                              f"data or the optimiser state); keys that may change: {allowed}")

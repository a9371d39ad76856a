"""Gradient checking (SPEC section 9), in three parts: ``check`` compares backprop with finite
differences, ``result`` holds what it found (verdicts, per-array results, ``--json``), and
``cases`` builds the networks ``dlcli gradcheck`` checks (built-in or from a config)."""
from dlcli.gradcheck.cases import (BUILTIN_ACTIVATIONS, BUILTIN_CLASSES, BUILTIN_EXAMPLES,
                                   BUILTIN_L1, BUILTIN_L2, BUILTIN_SIZES, DEFAULT_BATCH, Case,
                                   builtin_case, builtin_cases, check_cases, config_case,
                                   move_offsets)
from dlcli.gradcheck.check import (DEFAULT_EPSILON, ROUNDING_UNITS, check_gradients,
                                   float64_copy, sample_components, share_budget)
from dlcli.gradcheck.result import (BAD, GREAT, GradCheckResult, ParamCheck,
                                    relative_difference, to_json, verdict_for)

__all__ = [
    "BAD", "BUILTIN_ACTIVATIONS", "BUILTIN_CLASSES", "BUILTIN_EXAMPLES", "BUILTIN_L1",
    "BUILTIN_L2", "BUILTIN_SIZES", "DEFAULT_BATCH", "DEFAULT_EPSILON", "GREAT", "ROUNDING_UNITS",
    "Case", "GradCheckResult", "ParamCheck", "builtin_case", "builtin_cases", "check_cases",
    "check_gradients", "config_case", "float64_copy", "move_offsets", "relative_difference",
    "sample_components", "share_budget", "to_json", "verdict_for",
]

"""``dlcli gradcheck [CONFIG]``: is backprop right? (SPEC sections 0 and 9).

Parses, calls ``dlcli.gradcheck``, renders. The report (tables, verdict, notes) goes to stdout;
with ``--json`` stdout holds only the JSON object and the notes go to stderr. Exit code 0 for
great or inspect, 1 for bad (``--strict``: inspect too), 2 for bad input (raised as the library's
``InputError`` and turned into the exit code by ``dlcli.cli.app``).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from dlcli import console
from dlcli.cli.options import SetOption
from dlcli.errors import InputError

if TYPE_CHECKING:   # the rest is imported where it is used: building the CLI loads no numpy
    from dlcli.gradcheck import Case, GradCheckResult

DEFAULT_MAX_PARAMS = 2000
# The library's defaults (dlcli.gradcheck's DEFAULT_EPSILON and DEFAULT_BATCH), written out here so
# that building the command line does not load numpy; tests/test_startup.py checks they agree.
DEFAULT_EPSILON = 1e-7
DEFAULT_BATCH = 16
STYLES = {"great": "green", "inspect": "yellow", "bad": "bold red"}


def gradcheck(
    config: Annotated[Optional[Path], typer.Argument(
        help="YAML config whose network to check (default: the built-in networks).",
        metavar="CONFIG", show_default=False)] = None,
    set_: SetOption = None,
    epsilon: Annotated[float, typer.Option(
        "--epsilon", help="Finite-difference step: J(theta +- epsilon e_i).")
    ] = DEFAULT_EPSILON,
    json_output: Annotated[bool, typer.Option(
        "--json", help="Print one JSON object on stdout (notes go to stderr).")] = False,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Exit 1 for an inspect verdict too, not only for bad.")] = False,
    max_params: Annotated[int, typer.Option(
        "--max-params", min=0, metavar="N",
        help="Check a seeded sample of N components when the network has more; 0 checks "
             "every component.")] = DEFAULT_MAX_PARAMS,
    seed: Annotated[int, typer.Option(
        "--seed", min=0,
        help="Seed of the built-in networks, of the fixed batch taken from the config's "
             "training data and of the component sample.")] = 0,
    batch: Annotated[Optional[int], typer.Option(
        "--batch", min=1, metavar="M",
        help=f"Examples in the fixed batch taken from the config's training data "
             f"(default {DEFAULT_BATCH}).")] = None,
) -> None:
    """Check backprop against two-sided finite differences, one row per parameter array.

    Without CONFIG, checks two built-in networks that between them use every activation, plain
    and batch-norm hidden layers, L1 and L2, and sigmoid and softmax outputs; their parameters
    are reported as sigmoid/W1, softmax/gamma2, ... and the overall difference is the worse of
    the two. With CONFIG, checks the network the config describes (its initial weights) on a
    fixed batch of its training data. Either way the check runs in float64 with dropout off,
    batch norm in training mode and J including the L1/L2 penalties.

    Verdict on difference = ||grad - approx|| / (||grad|| + ||approx||): below 1e-7 great,
    below 1e-3 inspect, otherwise bad. Exit code 0 for great or inspect, 1 for bad (with
    --strict also for inspect), 2 for bad input.
    """
    from dlcli.config import load_config
    from dlcli.gradcheck import builtin_cases, check_cases, config_case, to_json

    overrides = list(set_ or [])
    if config is None:
        if overrides:
            raise InputError("--set changes a config; give the CONFIG file to check")
        if batch is not None:
            raise InputError("--batch picks examples from a config's data; give a CONFIG")
        cases = builtin_cases(seed)
        title = f"built-in networks (seed {seed})"
    else:
        cfg = load_config(config, overrides)
        cases = [config_case(cfg, batch=batch or DEFAULT_BATCH, seed=seed)]
        title = f"{config}"
    results = check_cases(cases, epsilon=epsilon, max_params=max_params, seed=seed)
    summary = to_json(results)

    if json_output:
        typer.echo(json.dumps(summary))
        for line in _notes(cases, results, max_params):
            console.info(f"note: {line}")
    else:
        _render(title, cases, results, summary, max_params)

    verdict = summary["verdict"]
    if verdict == "bad" or (strict and verdict == "inspect"):
        raise typer.Exit(1)


# ---------------------------------------------------------------------- rendering


def _fmt(value: float) -> str:
    return f"{value:.2e}" if value == value else "nan"


def _table(result: GradCheckResult) -> Table:
    from dlcli.gradcheck import GREAT

    # No vertical rules: the table fits 80 columns with sampled counts and large shapes.
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    table.add_column("array")
    table.add_column("shape", justify="right")
    if result.sampled:
        table.add_column("checked", justify="right")
    table.add_column("difference", justify="right")
    table.add_column("")
    table.add_column("worst at", justify="right")
    table.add_column("backprop", justify="right")
    table.add_column("numerical", justify="right")
    for check in result.per_parameter.values():
        verdict = check.verdict
        mark = verdict + ("*" if check.within_rounding and check.difference >= GREAT else "")
        where = ",".join(str(v) for v in check.worst_index) if check.worst_index else "-"
        cells = [check.name, "x".join(str(n) for n in check.shape)]
        if result.sampled:
            cells.append(f"{check.checked}/{check.size}")
        if not check.checked:   # the sample had fewer components than there are arrays
            cells += ["-", "unchecked", "-", "-", "-"]
        else:
            cells += [_fmt(check.difference), f"[{STYLES[verdict]}]{mark}[/]", where,
                      f"{check.worst_grad:.3g}", f"{check.worst_approx:.3g}"]
        table.add_row(*cells)
    return table


def _explain(result: GradCheckResult) -> str:
    """One line saying what the verdict means and where to look."""
    verdict = result.verdict
    if verdict == "great":
        return "great: backprop agrees with the finite differences"
    if verdict == "inspect":
        # SPEC 9: name the arrays with the largest discrepancies.
        largest = result.suspects() or sorted(
            result.per_parameter, key=lambda name: -result.per_parameter[name].error_norm)
        return (f"inspect: probably right, but look at {', '.join(largest[:3])} "
                "(largest discrepancies)")
    first = result.first_discrepancy()
    if first is None:
        return "bad: backprop disagrees with the finite differences"
    layer = result.per_parameter[first].layer
    return (f"bad: backprop is wrong; first discrepancy from the output back is {first} "
            f"(layer {layer}) - a wrong gradient there also spoils every layer below it")


def _notes(cases: list[Case], results: dict[str, GradCheckResult], max_params: int
           ) -> list[str]:
    from dlcli.gradcheck import GREAT

    notes = []
    for case in cases:
        result = results[case.name]
        prefix = f"{case.name}: " if len(cases) > 1 else ""
        if result.dropout_disabled:
            keep = [layer.keep_prob for layer in case.network.layers[:-1]]
            notes.append(f"{prefix}dropout switched off for the check (keep_prob {keep} -> "
                         "1.0): a random mask would make J a different function each time")
        if result.source_dtype != "float64":
            notes.append(f"{prefix}the {result.source_dtype} network was checked on a float64 "
                         "copy")
        if result.sampled:
            notes.append(f"{prefix}checked a seeded sample of {result.checked} of "
                         f"{result.total} components (--max-params {max_params}; --seed picks "
                         "the sample; --max-params 0 checks all)")
        if result.verdict != "great" and result.within_rounding:
            notes.append(f"{prefix}the whole discrepancy is at the level of rounding in J "
                         f"(J = {result.cost:.4g}); try a larger --epsilon, e.g. 1e-5")
        noise = [p for p in result.per_parameter.values()
                 if p.checked and p.within_rounding and p.difference >= GREAT]
        if noise:
            per_component = max(p.rounding / p.checked ** 0.5 for p in noise)
            notes.append(f"{prefix}{', '.join(p.name for p in noise)} (marked *): the "
                         "discrepancy is within what rounding in J explains (about "
                         f"{per_component:.0e} per component at this epsilon); the gradient "
                         "is that small there, so the relative difference is noise, not a bug")
    return notes


def _render(title: str, cases: list[Case], results: dict[str, GradCheckResult],
            summary: dict, max_params: int) -> None:
    from dlcli.gradcheck import BAD, GREAT

    out = console.out
    first = next(iter(results.values()))
    out.print(f"gradient check of {title}: epsilon {first.epsilon:g}, float64, dropout off, "
              "batch norm in training mode, J with penalties", markup=False)
    for case in cases:
        result = results[case.name]
        out.print()
        out.print(f"[bold]{escape(case.name)}[/]: {escape(case.description)}")
        out.print(_table(result))
        out.print(f"difference {_fmt(result.difference)} over {result.checked} components, "
                  f"J = {result.cost:.6g}", markup=False)
        out.print(f"[{STYLES[result.verdict]}]{_explain(result)}[/]")
    out.print()
    for line in _notes(cases, results, max_params):
        out.print(f"note: {line}", markup=False)
    difference = summary["difference"]
    verdict = summary["verdict"]
    worst = " (the worse of the networks)" if len(results) > 1 else ""
    shown = _fmt(difference) if difference is not None else "nan"
    out.print(f"[{STYLES[verdict]}]difference = {shown}{worst}: {verdict}[/]  "
              f"(great < {GREAT:g} <= inspect < {BAD:g} <= bad)")

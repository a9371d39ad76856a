"""The command line: a thin client of the library.

Library errors become messages and exit codes here and only here: 2 for bad input, 1 for a
failed check or run, 130 for Ctrl-C.
"""
from __future__ import annotations

import inspect
import os
import re
import sys

import typer
from typer.core import TyperCommand, TyperGroup

from dlcli import __version__, console
from dlcli.cli.compare import compare
from dlcli.cli.evaluate import evaluate
from dlcli.cli.options import flag_values
from dlcli.cli.export import export
from dlcli.cli.gradcheck import gradcheck
from dlcli.cli.predict import predict
from dlcli.cli.ls import ls
from dlcli.cli.prune import prune
from dlcli.cli.resume import resume
from dlcli.cli.schema import schema
from dlcli.cli.show import show
from dlcli.cli.train import train
from dlcli.cli.sweep import sweep
from dlcli.cli.tune import tune
from dlcli.errors import DlcliError

def _flags_as_flags(params: list) -> list:  # type: ignore[type-arg]
    """Help lists a flag (--quiet, --help) without a value type: typer would print
    ``--quiet <bool>``, which reads as if it took a value (--quiet=true works too, see
    ``options.flag_values``)."""
    for param in params:
        if getattr(param, "is_flag", False) and not getattr(param, "count", False):
            param.display_type_rich = lambda ctx: None
    return params


# Typer 0.2x vendors click; the UsageError it raises is BadParameter's base either way.
_UsageError = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


def usage_message(exc: Exception) -> str:
    """A command-line mistake (unknown command or option, missing argument, bad option value)
    in the one-line form of every other error: plain words, no panel, no pydantic phrasing."""
    ctx = getattr(exc, "ctx", None)
    param = getattr(exc, "param", None)
    cause = exc.__cause__
    if param is not None and hasattr(cause, "errors"):   # typer checks values with pydantic
        message = _bad_value(param, cause.errors(include_url=False)[0])
    else:
        message = exc.format_message()   # type: ignore[attr-defined]
        message = re.sub(r"\.? Did you mean (.*)\?$", r" (did you mean \1?)", message)
        message = re.sub(r"\(Possible options: (.*)\)$",
                         lambda m: "(did you mean " + " or ".join(m[1].split(", ")) + "?)",
                         message)
        message = message[:1].lower() + message[1:].rstrip(".")
    if ctx is None:
        return message
    if type(exc).__name__ == "MissingParameter":
        usage = ctx.get_usage().removeprefix("Usage: ").replace("{", "").replace("}", "")
        return f"{message}; usage: {usage} ({ctx.command_path} -h for more)"
    return f"{message}; {ctx.command_path} -h for help"


def _bad_value(param: object, error: dict) -> str:  # type: ignore[type-arg]
    from dlcli.config.load import requirement

    opts = getattr(param, "opts", None) or [getattr(param, "name", None) or "a value"]
    given = str(error.get("input"))
    if error["type"] == "value_error":   # an enum: "'xml' is not one of 'table', 'csv'."
        text = str(error.get("ctx", {}).get("error", error["msg"]))
        choices = re.search(r"is not one of (.*?)\.?$", text)
        names = choices[1].replace("'", "") if choices else ""
        wanted = (("one of " if "," in names else "") + names) if choices else text
    else:
        wanted = requirement(error)
    return f"{opts[0]} {given} is not allowed; must be {wanted}"


class _Command(TyperCommand):
    def get_params(self, ctx):  # type: ignore[no-untyped-def]
        return _flags_as_flags(super().get_params(ctx))

    def parse_args(self, ctx, args):  # type: ignore[no-untyped-def]
        return super().parse_args(ctx, flag_values(self.get_params(ctx), args))


class _Commands(TyperGroup):
    """Runs a command and turns library errors into a message and an exit code."""

    def get_params(self, ctx):  # type: ignore[no-untyped-def]
        return _flags_as_flags(super().get_params(ctx))

    def make_context(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return super().make_context(*args, **kwargs)
        except _UsageError as exc:   # dlcli --versoin; "dlcli" alone still prints the help
            if type(exc).__name__ == "NoArgsIsHelpError":
                raise
            console.error(usage_message(exc))
            raise typer.Exit(2) from None

    def parse_args(self, ctx, args):  # type: ignore[no-untyped-def]
        return super().parse_args(ctx, flag_values(self.get_params(ctx), args,
                                                   options_first=True))

    def invoke(self, ctx):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except DlcliError as exc:
            console.error(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except _UsageError as exc:
            console.error(usage_message(exc))
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            # A run or study that had started says what it kept (cli/train.py, cli/study.py).
            console.error("interrupted")
            raise typer.Exit(130) from None


app = typer.Typer(
    cls=_Commands,
    name="dlcli",
    help="Train NumPy networks from YAML configs and see what initialisation, regularisation, "
         "optimisers, learning-rate decay, batch norm and batch size do.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dlcli {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Train NumPy networks from YAML configs; compare what the techniques of the course do."""


def _reflow(doc: str | None) -> str | None:
    """A docstring with every paragraph on one line. Rich help keeps a docstring's line breaks,
    so paragraphs wrapped to the source's width would come out ragged at the terminal's."""
    if not doc:
        return doc
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)


for command in (train, resume, gradcheck, compare, show, sweep, tune, predict, evaluate,
                export, ls, prune, schema):
    app.command(cls=_Command, help=_reflow(command.__doc__))(command)


def main() -> None:
    """Entry point of the ``dlcli`` script and ``python -m dlcli``."""
    args = sys.argv[1:]
    if (args[:1] == ["train"] and "--help" not in args
            and not any(key.startswith("_DLCLI_COMPLETE") for key in os.environ)):
        # A run will draw its figures: their helper process starts loading matplotlib now,
        # while the command line is built and parsed (train stops it again on a bad config).
        from dlcli.reports.background import start_early
        start_early()
    app(prog_name="dlcli")

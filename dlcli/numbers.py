"""How dlcli writes numbers for people, in one place, so a table, a progress bar, a summary and
a legend say the same number the same way (standard library only).

- ``count(n)``: an integer with thousands separators (``192,000``).
- ``measure(x)``: a measured value (a cost, an accuracy, a time) to 4 significant digits, fixed
  point where that is short and scientific where it would not fit (``0.05612``, ``1,438``,
  ``3.512e+07``, ``7.1e-06``); ``pad=True`` keeps trailing zeros so a column lines up
  (``0.5000``).
- ``setting(x)``: a value a person chose (a learning rate, a decay rate): the shortest text
  that reads back as it (``0.1``, not ``0.09999999999999999``; ``0.0007``, ``1e-05``),
  computed through 12 significant digits so float noise from arithmetic is not shown;
  ``short=True`` (tables, legends) writes a value no person typed, one drawn by a random
  search (``0.0012345678901234``), to 4 significant digits instead (``0.001235``).
- ``spread(mean, std)``: ``mean ± std``, both to the decimal place the std warrants.
- ``counted(n, noun)``: a count with its noun in the right number (``1 seed``, ``3 seeds``,
  ``192,000 steps``).
- ``clock(seconds)``: a duration as a clock shows it, ``0:07``, ``12:05``, ``1:02:05``.
"""
from __future__ import annotations

import math
from typing import Any

DIGITS = 4          # significant digits of a measured value
MISSING = "-"
LARGE = 1e6         # from here on a measured value is written in scientific notation


def is_number(text: str) -> bool:
    """Whether ``text`` reads as a number (``"16"``, ``"1e-4"``, ``"nan"``): a CSV header
    cell that is data, a value written where a list goes."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def count(n: Any) -> str:
    """``192,000``; ``-`` for None."""
    if n is None:
        return MISSING
    return f"{int(n):,}"


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``1 seed``, ``3 seeds``, ``1,000 epochs``; ``plural`` where adding an s is wrong
    (``counted(2, "search", "searches")``)."""
    return f"{count(n)} {noun if n == 1 else plural or noun + 's'}"


def _special(x: float) -> str | None:
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return None


def measure(x: Any, digits: int = DIGITS, *, pad: bool = False) -> str:
    """A measured value to ``digits`` significant digits; integers as counts; ``-`` for None."""
    if x is None:
        return MISSING
    if isinstance(x, bool):
        return str(x).lower()
    if isinstance(x, int):
        return count(x)
    x = float(x)
    special = _special(x)
    if special is not None:
        return special
    if x == 0:
        return "0" if not pad else f"{0:.{digits - 1}f}"
    if 10 ** digits <= abs(x) < LARGE:
        return f"{x:,.0f}"            # 12,345 reads better than 1.234e+04 and still fits
    text = format(x, f"{'#' if pad else ''},.{digits}g")
    mantissa, e, exponent = text.partition("e")
    mantissa = mantissa.rstrip(".")
    if e:
        return f"{mantissa}e{exponent[0]}{exponent[1:].lstrip('0').rjust(2, '0')}"
    return mantissa


SHORT_SETTING = 6   # significant digits a person types at most; more means the value was drawn


def setting(x: Any, *, short: bool = False) -> str:
    """A chosen value as a person writes it: ``0.1``, ``0.0007``, ``1e-05``, ``true``; with
    ``short``, a float that needs more than 6 significant digits to its 4."""
    if x is None:
        return "null"
    if isinstance(x, bool):
        return str(x).lower()
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        special = _special(x)
        if special is not None:
            return special
        shortest = float(f"{x:.12g}")
        text = repr(shortest)
        text = text[:-2] if text.endswith(".0") and abs(shortest) < 1e16 else text
        digits = len(text.partition("e")[0].replace("-", "").replace(".", "").strip("0"))
        return measure(x) if short and digits > SHORT_SETTING else text
    if isinstance(x, (list, tuple)):
        return "[" + ", ".join(setting(v, short=short) for v in x) + "]"
    return str(x)


def spread(mean: Any, std: Any, digits: int = DIGITS) -> str:
    """``mean ± std``: the std to 2 significant digits and the mean to the same decimal place
    (never fewer than the mean's own ``digits`` would need to show it at all); ``± 0`` where
    the values agree, and the mean alone without a std (one value)."""
    if mean is None:
        return MISSING
    if std is None or not math.isfinite(float(std)) or not math.isfinite(float(mean)):
        return measure(mean, digits)
    if float(std) == 0:
        return f"{measure(mean, digits)} ± 0"
    mean, std = float(mean), abs(float(std))
    if abs(mean) >= LARGE or 0 < abs(mean) < 1e-4 or std >= LARGE:
        return f"{measure(mean, digits)} ± {measure(std, 2)}"
    place = min(1 - math.floor(math.log10(std)), 12)   # the std's 2nd significant digit
    if place <= 0:                                      # round both to tens, hundreds, ...
        return f"{round(mean, place):,.0f} ± {round(std, place):,.0f}"
    return f"{mean:,.{place}f} ± {std:,.{place}f}"


def clock(seconds: Any) -> str:
    """A duration as ``M:SS`` under an hour and ``H:MM:SS`` from there (``0:07``, ``12:05``,
    ``1:02:05``), whole seconds rounded down; ``-:--`` for None (not known yet)."""
    if seconds is None or not math.isfinite(float(seconds)):
        return "-:--"
    minutes, secs = divmod(max(0, int(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def duration(seconds: Any) -> str:
    """A time taken, to 3 significant digits in the unit that suits it: ``512 µs``,
    ``1.20 ms``, ``119 ms``, ``5.30 s``, ``2 min 03 s``, ``1 h 02 min``; ``-`` for None."""
    if seconds is None or isinstance(seconds, bool):
        return MISSING
    seconds = float(seconds)
    if not math.isfinite(seconds):
        return MISSING
    seconds = max(0.0, seconds)
    if seconds == 0:
        return "0 s"
    for limit, scale, unit in ((1e-3, 1e6, "µs"), (1.0, 1e3, "ms"), (60.0, 1.0, "s")):
        if seconds < limit:
            text = f"{seconds * scale:#.3g}"
            if "e" in text or float(text) >= limit * scale:
                continue   # 999.7 ms rounds to 1.00e+03 ms: say 1.00 s instead
            return f"{text.rstrip('.')} {unit}"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


"""How much a fresh ``pip install -e .`` weighs, and what each dependency costs.

    python benchmarks/install_size.py                      # this checkout, no extras
    python benchmarks/install_size.py --out benchmarks/results/install-mine.json

Sizes are in MiB, the M of ``du -sh``. Makes a new venv in a temporary directory (``python -m venv``, so pip and setuptools come with it,
as they do for a user), runs ``pip install -e ROOT`` in it, and measures sizes: the
whole venv (``du -sk``), the bare venv before the install, and every installed distribution (the files its
RECORD lists, byte code included). Each direct dependency of dlcli is charged with the
distributions only it pulls in (its exclusive closure), so the rows add up to the install.
Writes a JSON file (default ``benchmarks/results/install-<date-time>.json``) and prints a table.
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Run inside the new venv: every distribution's size, its requirements and dlcli's own.
_PROBE = r"""
import json, re, sys
from importlib import metadata
from pathlib import Path

def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()

def size(dist):
    total = 0
    for f in dist.files or []:
        p = Path(dist.locate_file(f))
        try:
            if p.is_file():
                total += p.stat().st_size
        except OSError:
            pass
    return total

try:
    from packaging.requirements import Requirement
except ImportError:  # pip vendors it
    from pip._vendor.packaging.requirements import Requirement

def requires(dist):
    out = []
    for text in dist.requires or []:
        r = Requirement(text)
        if r.marker is None or r.marker.evaluate({"extra": ""}):
            out.append(norm(r.name))
    return out

dists = {}
for d in metadata.distributions():
    dists[norm(d.metadata["Name"])] = {"version": d.version, "bytes": size(d),
                                      "requires": requires(d)}
print(json.dumps(dists))
"""


def du(path: Path) -> int:
    """Bytes on disk under path, as ``du -sk`` counts them."""
    out = subprocess.run(["du", "-sk", str(path)], check=True, capture_output=True, text=True)
    return int(out.stdout.split()[0]) * 1024


def closure(name: str, dists: dict) -> set[str]:
    todo, seen = [name], set()
    while todo:
        n = todo.pop()
        if n in seen or n not in dists:
            continue
        seen.add(n)
        todo.extend(dists[n]["requires"])
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to install")
    parser.add_argument("--extras", default="", help="e.g. test (installs ROOT[test])")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="dlcli-install-") as tmp:
        venv = Path(tmp) / "v"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        bare = du(venv)
        target = str(args.root) + (f"[{args.extras}]" if args.extras else "")
        t0 = time.perf_counter()
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "-e", target], check=True)
        seconds = time.perf_counter() - t0
        total = du(venv)
        probe = subprocess.run([str(venv / "bin" / "python"), "-c", _PROBE], check=True,
                               capture_output=True, text=True)
    dists = json.loads(probe.stdout)

    direct = dists["dlcli"]["requires"]
    reach = {d: closure(d, dists) for d in direct}
    rows = []
    for d in direct:
        others = set().union(*(reach[o] for o in direct if o != d))
        own = sorted({d} | (reach[d] - others - set(direct)))
        rows.append({"dependency": d, "version": dists.get(d, {}).get("version"),
                     "pulls_in": [n for n in own if n != d],
                     "bytes": sum(dists[n]["bytes"] for n in own)})
    shared = set().union(*reach.values()) - set().union(
        *(set(r["pulls_in"]) | {r["dependency"]} for r in rows))
    result = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": platform.python_version(), "root": str(args.root), "extras": args.extras,
        "venv_bytes": total, "bare_venv_bytes": bare, "install_bytes": total - bare,
        "pip_install_seconds": round(seconds, 1),
        "dependencies": rows,
        "shared": {n: dists[n]["bytes"] for n in sorted(shared)},
        "distributions": {n: {"version": v["version"], "bytes": v["bytes"]}
                          for n, v in sorted(dists.items(), key=lambda kv: -kv[1]["bytes"])},
    }
    out = args.out or ROOT / "benchmarks" / "results" / time.strftime("install-%Y%m%d-%H%M%S.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")

    mb = lambda b: f"{b / 2**20:.1f} MiB"  # noqa: E731  (du -sh's M)
    print(f"venv after pip install -e {target}: {mb(total)} "
          f"(bare venv {mb(bare)}, installed {mb(total - bare)}, {seconds:.0f} s)")
    print("| dependency | with what only it pulls in | size |")
    print("|---|---|---|")
    for r in sorted(rows, key=lambda r: -r["bytes"]):
        print(f"| {r['dependency']} | {', '.join(r['pulls_in']) or '-'} | {mb(r['bytes'])} |")
    if shared:
        print(f"| (shared) | {', '.join(sorted(shared))} | "
              f"{mb(sum(result['shared'].values()))} |")
    print(f"written to {out}")


if __name__ == "__main__":
    main()

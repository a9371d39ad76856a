"""The command line (``dlcli``, ``python -m dlcli``): ``dlcli.cli.app`` and one module per command.

Importing this package sets the process's environment for numpy's OpenBLAS before numpy is loaded:
``dlcli`` and ``python -m dlcli`` import it first, and building the command line loads no numpy
(tests/test_startup.py). OpenBLAS reads ``OPENBLAS_THREAD_TIMEOUT`` once, when it is loaded; at 4
its idle worker threads sleep as soon as a matrix product ends instead of spinning on the other
core for ~2^28 cycles, which leaves that core to the optimiser's second thread
(``dlcli.optim.optimizers``). A value the user set wins. Python users set it themselves, before
importing numpy, if they want it.
"""
import os

PROCESS_ENV = {"OPENBLAS_THREAD_TIMEOUT": "4"}

for _name, _value in PROCESS_ENV.items():
    os.environ.setdefault(_name, _value)

"""Studies (SPEC section 12): ``dlcli tune`` (random search) and ``dlcli sweep`` (grid x seeds).

Two planners over one runner. ``runner`` owns the study directory, its table, running the tasks on
an executor, Ctrl-C and ``--resume``; ``tasks`` runs one task (an ordinary run directory) in a
worker; ``executors`` runs tasks in this process, in local worker processes or on a Dask cluster.
The planners: ``random_search`` (coarse to fine, over a ``space``; ``trials_plot`` draws its
trials.png) and ``grid`` (the Cartesian product of config values, each with N seeds).

Nothing is imported here on purpose: a new worker process imports ``dlcli.study.executors`` (and
so this package) to set its BLAS thread limits, and that must happen before numpy is loaded.
"""

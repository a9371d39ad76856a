"""Hyperparameter search (SPEC section 12): ``dlcli tune``.

``space`` parses, checks, samples and shrinks search spaces; ``search`` runs rounds of trials into
one search directory (trials.csv, summary.json, resume); ``executors`` runs the trials in this
process, in local worker processes or on a Dask cluster; ``plot`` draws trials.png.

Nothing is imported here on purpose: a new worker process imports ``dlcli.tune.executors`` (and so
this package) to set its BLAS thread limits, and that must happen before numpy is loaded.
"""

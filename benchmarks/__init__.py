"""Benchmarks of dlcli's training step against PyTorch, scikit-learn and the GEMM limit (issue 6).

Run on demand (``python benchmarks/run.py``), never in CI's test run.
"""

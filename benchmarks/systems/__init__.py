"""One module per system under test: each exposes ``train(workload) -> dict``."""

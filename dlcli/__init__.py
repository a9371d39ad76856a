"""dlcli: a command-line experiment runner for the practical side of deep learning."""
__version__ = "0.1.0"

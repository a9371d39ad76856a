"""Configuration: schema (``schema``) and loading with overrides (``load``)."""
from dlcli.config.load import apply_overrides, load_config, parse_override, read_yaml, validate
from dlcli.config.schema import Config

__all__ = ["Config", "apply_overrides", "load_config", "parse_override", "read_yaml", "validate"]

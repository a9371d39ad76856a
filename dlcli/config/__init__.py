"""Configuration: schema (``schema``) and loading with overrides (``load``)."""
from dlcli.config.load import (apply_overrides, check_key_path, load_config, parse_override,
                               read_yaml, unknown_key, validate)
from dlcli.config.schema import Config

__all__ = ["Config", "apply_overrides", "check_key_path", "load_config", "parse_override",
           "read_yaml", "unknown_key", "validate"]

"""Typed configuration: schema (the only home of defaults), loading and cascade."""

from posekit.config.loader import dump_config, load_config, merge, read_toml, validate_dict
from posekit.config.schema import Config

__all__ = ["Config", "dump_config", "load_config", "merge", "read_toml", "validate_dict"]

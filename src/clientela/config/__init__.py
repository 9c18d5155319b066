"""Instances and their configuration (`clientela.toml`)."""

from clientela.config.instance import Instance, InstanceError, create_instance, open_instance
from clientela.config.settings import ConfigError, Settings

__all__ = ["ConfigError", "Instance", "InstanceError", "Settings", "create_instance",
           "open_instance"]

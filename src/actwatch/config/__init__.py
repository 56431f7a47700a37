"""Validated configuration: `load_config()` reads the YAML file, `Config` is what it becomes."""

from actwatch.config.load import CONFIG_ENV, ConfigError, config_path, load_config, parse_config
from actwatch.config.models import (
    EVENT_TYPE_SLUGS,
    BulletinConfig,
    Config,
    FeedConfig,
    FetchConfig,
    MailConfig,
)
from actwatch.config.rules import ActConfig, EventTypeConfig, MatchingConfig, StrandConfig

__all__ = [
    "CONFIG_ENV",
    "EVENT_TYPE_SLUGS",
    "ActConfig",
    "BulletinConfig",
    "Config",
    "ConfigError",
    "EventTypeConfig",
    "FeedConfig",
    "FetchConfig",
    "MailConfig",
    "MatchingConfig",
    "StrandConfig",
    "config_path",
    "load_config",
    "parse_config",
]

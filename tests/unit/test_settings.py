"""Configuration is read once, validated, and never silently empty."""

from __future__ import annotations

import pytest

from binvault.models.settings import Settings, SettingsError


def test_defaults() -> None:
    settings = Settings.from_env({"TABLE_NAME": "bins"})
    assert settings.max_bin_bytes == 1_048_576
    assert settings.max_versions == 1000
    assert settings.idempotency_table_name == "bins-idempotency"
    assert settings.endpoint_url is None


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"TABLE_NAME": "  "},
        {"TABLE_NAME": "t", "MAX_BIN_BYTES": "6225921"},
        {"TABLE_NAME": "t", "MAX_BIN_BYTES": "lots"},
        {"TABLE_NAME": "t", "MAX_VERSIONS": "0"},
        {"TABLE_NAME": "t", "KEY_CACHE_SECONDS": "-1"},
        {"TABLE_NAME": "t", "KEY_CACHE_SECONDS": "soon"},
    ],
)
def test_invalid_configuration_is_refused(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        Settings.from_env(env)


def test_overrides() -> None:
    settings = Settings.from_env(
        {"TABLE_NAME": "t", "MAX_BIN_BYTES": "2048", "KEY_CACHE_SECONDS": "0", "AWS_ENDPOINT_URL_DYNAMODB": "http://x"}
    )
    assert (settings.max_bin_bytes, settings.key_cache_seconds, settings.endpoint_url) == (2048, 0.0, "http://x")

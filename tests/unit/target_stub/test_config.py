"""StubConfig layering (preset, TOML, overrides) and errors that name the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from target_stub.config import (
    ConfigError,
    StubConfig,
    check_host,
    load_config,
    resolve_api_keys,
)


def test_preset_gives_engine_and_defaults() -> None:
    config = load_config("tiny")
    assert config.engine.model == "tiny-llm" and config.preset == "tiny"
    assert (config.host, config.port, config.replicas, config.stream_interval_tokens) == (
        "127.0.0.1",
        8000,
        1,
        1,
    )
    assert config.overload.max_waiting_requests is None and config.rate_limits is None


def test_toml_then_overrides_win(tmp_path: Path) -> None:
    path = tmp_path / "stub.toml"
    path.write_text(
        'preset = "h100-llama3-8b"\nport = 9000\n[engine]\nmax_num_seqs = 64\n'
        "[overload]\nmax_waiting_requests = 10\nreject_status = 429\n"
    )
    config = load_config(None, toml_path=path, overrides={"engine.max_num_seqs": 8, "port": 0})
    assert config.preset == "h100-llama3-8b"
    assert (config.port, config.engine.max_num_seqs) == (0, 8)
    assert config.overload.max_waiting_requests == 10 and config.overload.reject_status == 429
    assert load_config("tiny", toml_path=path).engine.model == "tiny-llm"  # CLI preset wins


def test_unknown_preset_lists_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"Unknown preset 'nope'; known: .*tiny"):
        load_config("nope")


def test_unknown_setting_lists_known_fields() -> None:
    with pytest.raises(ConfigError, match=r"Unknown setting 'engine.max_seqs'.*max_num_seqs"):
        load_config("tiny", overrides={"engine.max_seqs": 3})
    with pytest.raises(ConfigError, match=r"Unknown setting 'portt'.*port"):
        load_config("tiny", overrides={"portt": 3})


def test_bad_values_name_the_field_and_the_allowed_values() -> None:
    with pytest.raises(ConfigError, match=r"overload.reject_status.*429 or 503"):
        load_config("tiny", overrides={"overload.reject_status": 500})
    with pytest.raises(ConfigError, match=r"fixed_ttft_ms and fixed_itl_ms must be set together"):
        load_config("tiny", overrides={"engine.fixed_itl_ms": 5.0})


def test_bad_toml_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("port = = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config("tiny", toml_path=path)
    with pytest.raises(ConfigError, match="Cannot read"):
        load_config("tiny", toml_path=tmp_path / "missing.toml")


def test_api_keys_come_from_the_named_variable() -> None:
    config = load_config("tiny", overrides={"api_key_env": "STUB_KEYS"})
    assert resolve_api_keys(config, {"STUB_KEYS": "a, b,,"}) == frozenset({"a", "b"})
    assert resolve_api_keys(load_config("tiny"), {}) is None
    with pytest.raises(ConfigError, match="STUB_KEYS"):
        resolve_api_keys(config, {})


def test_non_loopback_host_needs_allow_remote() -> None:
    check_host(load_config("tiny", overrides={"host": "::1"}))
    with pytest.raises(ConfigError, match="allow-remote"):
        check_host(load_config("tiny", overrides={"host": "0.0.0.0"}))
    check_host(load_config("tiny", overrides={"host": "0.0.0.0", "allow_remote": True}))


def test_config_is_frozen() -> None:
    config = load_config("tiny")
    with pytest.raises(ValueError, match="frozen"):
        config.port = 1  # type: ignore[misc]
    assert isinstance(config, StubConfig)

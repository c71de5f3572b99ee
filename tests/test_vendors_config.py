"""Vendor profiles: builtin, project overrides, malformed and unknown profiles, `baton vendors list`."""

from __future__ import annotations

from pathlib import Path

import pytest

from baton.cli import main
from baton.errors import ConfigError
from baton.vendor_config import builtin_profiles, load_profiles, resolve


def test_builtin_profiles_cover_sim_and_local() -> None:
    profiles = builtin_profiles()
    assert {"sim-frontier", "sim-small", "sim-flaky", "local-smollm2"} <= set(profiles)
    assert profiles["sim-frontier"].simulated and not profiles["local-smollm2"].simulated
    assert profiles["sim-small"].sim["wrong_label"] > 5 * profiles["sim-frontier"].sim["wrong_label"]
    assert profiles["sim-flaky"].sim["rate_429"] > 0
    assert profiles["sim-frontier"].price_output_per_mtok != profiles["sim-small"].price_output_per_mtok
    assert profiles["local-smollm2"].structured_output == "json_object_schema"


def test_project_files_override_by_name_in_order(tmp_path: Path) -> None:
    (tmp_path / "runners").mkdir()
    (tmp_path / "runners" / "vendors.toml").write_text(
        '[sim-small]\nkind = "sim"\nmodel = "sim-small"\nmax_concurrency = 3\n'
        '[my-vllm]\nbase_url = "http://gpu:8000/v1"\nmodel = "qwen"\n')
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[tool.baton.vendors.my-vllm]\nbase_url = "http://gpu:9000/v1"\nmodel = "qwen2"\n'
        'api_key_env = "VLLM_KEY"\n')
    extra = tmp_path / "extra.toml"
    extra.write_text('[my-vllm]\nbase_url = "http://gpu:9999/v1"\nmodel = "qwen3"\n')
    profiles = load_profiles(tmp_path)
    assert profiles["sim-small"].max_concurrency == 3
    assert profiles["my-vllm"].model == "qwen2" and profiles["my-vllm"].api_key_env == "VLLM_KEY"
    assert load_profiles(tmp_path, extra)["my-vllm"].base_url == "http://gpu:9999/v1"
    assert "sim-frontier" in profiles


def test_malformed_profile_names_file_profile_and_field(tmp_path: Path) -> None:
    path = tmp_path / "vendors.toml"
    path.write_text('[broken]\nmodel = "m"\nmax_concurrency = 0\n')
    with pytest.raises(ConfigError) as err:
        load_profiles(extra_file=path)
    message = str(err.value)
    assert str(path) in message and "'broken'" in message and "max_concurrency" in message
    assert "greater than or equal to 1" in message


def test_unknown_field_and_bad_dialect_are_named(tmp_path: Path) -> None:
    path = tmp_path / "vendors.toml"
    path.write_text('[x]\nmodel = "m"\nmax_concurency = 4\nstructured_output = "xml"\n')
    with pytest.raises(ConfigError) as err:
        load_profiles(extra_file=path)
    assert "max_concurency: Extra inputs are not permitted" in str(err.value)
    assert "structured_output" in str(err.value) and "json_schema" in str(err.value)


def test_bad_sim_knob_is_named(tmp_path: Path) -> None:
    path = tmp_path / "vendors.toml"
    path.write_text('[s]\nkind = "sim"\nmodel = "s"\n[s.sim]\nwrong_label = 1.5\nwrong_lable = 0.1\n')
    with pytest.raises(ConfigError) as err:
        load_profiles(extra_file=path)
    assert "sim.wrong_label" in str(err.value) and "sim.wrong_lable" in str(err.value)


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "vendors.toml"
    path.write_text("[x\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_profiles(extra_file=path)
    with pytest.raises(ConfigError, match="not found"):
        load_profiles(extra_file=tmp_path / "nope.toml")


def test_unknown_profile_lists_known_ones() -> None:
    with pytest.raises(ConfigError) as err:
        resolve(builtin_profiles(), "gpt-9")
    assert "gpt-9" in str(err.value) and "sim-frontier" in str(err.value)


def test_vendors_list_shows_key_variable_name_never_value(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "runners").mkdir()
    (tmp_path / "runners" / "vendors.toml").write_text(
        '[hosted]\nbase_url = "https://api.example.com/v1"\nmodel = "m"\napi_key_env = "BATON_T_KEY"\n'
        '[hosted2]\nbase_url = "https://api.example.com/v1"\nmodel = "m"\napi_key_env = "BATON_T_UNSET"\n')
    monkeypatch.setenv("BATON_T_KEY", "sk-do-not-print-123456")
    monkeypatch.delenv("BATON_T_UNSET", raising=False)
    assert main(["vendors", "list", "--project", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "BATON_T_KEY (set)" in out and "BATON_T_UNSET (not set)" in out
    assert "sk-do-not-print" not in out
    assert "sim-frontier" in out and "simulated" in out


def test_cli_reports_config_errors_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "v.toml"
    bad.write_text('[x]\nmodel = 3\n')
    assert main(["vendors", "list", "--vendors-file", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "'x'" in err and "model" in err and "Traceback" not in err

"""``[tool.baton]`` read once into one model: unknown tables and settings, values of the wrong
kind, and errors that name the file, the table, the key and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

import baton.project
from baton.config_model import load_config
from baton.errors import ConfigError
from baton.run_settings import load_compare_table, load_settings


def _project(tmp_path: Path, body: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(body, encoding="utf-8")
    return tmp_path


def test_defaults_without_a_pyproject(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    assert settings.systems == ("naive", "rag", "multi_agent") and settings.trials == 1
    execution = settings.execution(concurrency=None, no_cache=False)
    assert (execution.concurrency, execution.use_cache, execution.cache_dir) == (32, True, tmp_path / ".baton-cache")
    assert settings.execution(concurrency=4, no_cache=True, cache_dir=Path("/c")).concurrency == 4


def test_settings_and_flags_resolve_the_same_way_everywhere(tmp_path: Path) -> None:
    project = _project(tmp_path, '[tool.baton.run]\nconcurrency = 3\ncache = false\ncache_dir = "cc"\n'
                                 'systems = "naive, rag"\nmodes = ["system", "isolated:act"]\n')
    settings = load_settings(project)
    assert settings.systems == ("naive", "rag") and settings.modes == ("system", "isolated:act")
    execution = settings.execution()
    assert (execution.concurrency, execution.use_cache, execution.cache_dir) == (3, False, project / "cc")


@pytest.mark.parametrize(("body", "message"), [
    ('[tool.baton.rnu]\ntrials = 2\n', "[tool.baton]: unknown table(s) rnu; expected some of compare, gates, otel, "
                                       "plugins, run, systems, vendors"),
    ('[tool.baton]\nrun = 3\n', "pyproject.toml: tool.baton.run: expected a table"),
    ('[tool.baton]\ngates = 3\n', "tool.baton.gates: expected an array of tables"),
    ('[tool.baton.run]\ncache = "yes"\n', "[tool.baton.run]: cache: expected true or false, got 'yes'"),
    ('[tool.baton.run]\nsystems = []\n', "[tool.baton.run]: systems: expected at least one name"),
    ('[tool.baton.run]\nseed = 1.5\n', "[tool.baton.run]: seed: expected an integer, got 1.5"),
    ('[tool.baton.run]\nout = ""\n', "[tool.baton.run]: out: expected a path string, got ''"),
    ('[tool.baton.compare]\nlocal_trials = 0\n', "[tool.baton.compare]: local_trials: expected an integer >= 1, got 0"),
    ('[tool.baton.compare]\nmodes = ["isolated:nope"]\n', "[tool.baton.compare]: modes: unknown mode 'isolated:nope'"),
    ('[tool.baton.compare]\ntrails = 2\n', "[tool.baton.compare]: unknown setting(s) trails"),
])
def test_a_bad_table_or_value_names_the_file_the_table_and_the_key(tmp_path: Path, body: str, message: str) -> None:
    project = _project(tmp_path, body)
    with pytest.raises(ConfigError) as err:
        load_config(project)
    assert message in str(err.value)
    assert str(project / "pyproject.toml") in str(err.value)


def test_every_error_of_a_table_is_reported_at_once(tmp_path: Path) -> None:
    project = _project(tmp_path, '[tool.baton.run]\ntrials = 0\nconcurrency = "many"\n')
    with pytest.raises(ConfigError) as err:
        load_settings(project)
    assert "trials: expected an integer >= 1, got 0" in str(err.value)
    assert "concurrency: expected an integer >= 1, got 'many'" in str(err.value)


def test_the_compare_table_is_checked_with_the_rest(tmp_path: Path) -> None:
    project = _project(tmp_path, '[tool.baton.compare]\nvendors = ["sim-frontier"]\ntrials = 2\n'
                                 '[tool.baton.vendors.mine]\nbase_url = "http://127.0.0.1:1/v1"\nmodel = "m"\n')
    raw, source = load_compare_table(project)
    assert raw == {"vendors": ["sim-frontier"], "trials": 2} and source.endswith("[tool.baton.compare]")
    assert load_config(project).model.vendors == {"mine": {"base_url": "http://127.0.0.1:1/v1", "model": "m"}}


def test_a_pyproject_is_parsed_once_however_many_readers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = _project(tmp_path, '[tool.baton.run]\ntrials = 2\n')
    parses = []
    real = baton.project.tomllib.loads
    monkeypatch.setattr(baton.project.tomllib, "loads", lambda text: parses.append(1) or real(text))
    for _ in range(3):
        load_settings(project)
        load_compare_table(project)
    assert len(parses) == 1
    (project / "pyproject.toml").write_text('[tool.baton.run]\ntrials = 3\n', encoding="utf-8")
    assert load_settings(project).trials == 3  # a changed file is read again, even within a timestamp tick

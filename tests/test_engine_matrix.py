"""The run matrix and its configuration: systems, [tool.baton.run] settings, modes, ordering."""

from __future__ import annotations

from pathlib import Path

import pytest

from baton.errors import ConfigError
from baton.fixtures import load_tasks
from baton.matrix import (
    Matrix,
    load_settings,
    load_systems,
    parse_modes,
    plan_run,
    select_tasks,
)
from baton.systems import BUILTIN_SYSTEMS

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "billing"


@pytest.fixture(scope="module")
def tasks():
    return load_tasks(FIXTURES)


def test_systems_from_runners_file_and_pyproject(tmp_path):
    (tmp_path / "runners").mkdir()
    (tmp_path / "runners" / "systems.toml").write_text(
        '[small_router]\narchitecture = "multi_agent"\nroles = { router = "sim-small" }\n'
        '[rag_k9]\narchitecture = "rag"\nparams = { top_k = 9 }\n')
    (tmp_path / "pyproject.toml").write_text(
        '[tool.baton.systems.rag_k9]\narchitecture = "rag"\nparams = { top_k = 3 }\n')
    systems = load_systems(tmp_path)
    assert set(BUILTIN_SYSTEMS) < set(systems)
    assert systems["small_router"].roles == {"router": "sim-small"}
    assert systems["rag_k9"].params == {"top_k": 3}  # pyproject overrides runners/systems.toml


def test_a_bad_system_names_file_system_and_field(tmp_path):
    (tmp_path / "runners").mkdir()
    (tmp_path / "runners" / "systems.toml").write_text('[broken]\narchitecture = "rag"\nrolez = {}\n')
    with pytest.raises(ConfigError, match=r"systems.toml: system 'broken': rolez: Extra inputs"):
        load_systems(tmp_path)


def test_settings_defaults_and_errors(tmp_path):
    settings = load_settings(tmp_path)
    assert settings.vendors == ("sim-frontier",) and settings.systems == ("naive", "rag", "multi_agent")
    assert settings.trials == 1 and settings.modes == ("system",) and settings.cache
    (tmp_path / "pyproject.toml").write_text('[tool.baton.run]\nvendors = "a, b"\ntrials = 3\n')
    assert load_settings(tmp_path).vendors == ("a", "b")
    (tmp_path / "pyproject.toml").write_text('[tool.baton.run]\ntrials = "three"\n')
    with pytest.raises(ConfigError, match=r"\[tool.baton.run\]: trials: expected an integer >= 1, got 'three'"):
        load_settings(tmp_path)


def test_modes_are_validated_and_isolated_modes_only_where_supported(tasks):
    assert parse_modes("system, isolated:route") == ("system", "isolated:route")
    with pytest.raises(ConfigError, match="unknown mode 'isolated:plan'"):
        parse_modes("isolated:plan")
    systems = [BUILTIN_SYSTEMS["naive"], BUILTIN_SYSTEMS["multi_agent"]]
    m = Matrix(tasks=tasks, systems=systems, vendors=["v"], trials=2, modes=("system", "isolated:act"))
    assert [(mode, s.name) for mode, s in m.cells] == [("system", "naive"), ("system", "multi_agent"),
                                                       ("isolated:act", "multi_agent")]
    assert len(m) == len(tasks) * 3 * 2 == len(list(m.items()))


def test_items_are_lazy_interleaved_and_trial_major(tasks):
    m = Matrix(tasks=tasks, systems=[BUILTIN_SYSTEMS["naive"]], vendors=["a", "b"], trials=3)
    items = list(m.items())
    assert [i.vendor for i in items[:4]] == ["a", "b", "a", "b"]
    first_trial = [i.trial for i in items[: 2 * len(tasks)]]
    assert set(first_trial) == {0}
    assert len({i.key().as_str() for i in items}) == len(m)


def test_task_filter_and_plan(tasks, tmp_path):
    assert [t.id for t in select_tasks(tasks, "billing/refund-*")] == [t.id for t in tasks if "/refund-" in t.id]
    plan = plan_run(tmp_path, tasks=FIXTURES, task_filter="*4471*", systems="naive", trials=2, seed=5)
    assert [t.id for t in plan.matrix.tasks] == ["billing/refund-unauthorized-4471"]
    assert plan.matrix.vendors == ["sim-frontier"] and plan.matrix.seed == 5
    assert plan.invocation["task_filter"] == "*4471*" and plan.invocation["trials"] == 2
    with pytest.raises(ConfigError, match="duplicate entries: naive"):
        Matrix(tasks=tasks, systems=[BUILTIN_SYSTEMS["naive"]] * 2, vendors=["v"])

"""Gate declarations: command-line specs and [[tool.baton.gates]] tables, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from baton.errors import ConfigError
from baton.gates import check_gate_names, load_config_gates, parse_gate_spec


def test_spec_with_vendor_thresholds_and_bare_flag() -> None:
    declared = parse_gate_spec("multi_agent@sim-frontier:min_success=0.8, max_p95_latency_s=3,no_regression",
                               "--baton-gate")
    gate = declared.gate
    assert (gate.system, gate.vendor) == ("multi_agent", "sim-frontier")
    assert (gate.min_success, gate.max_p95_latency_s, gate.no_regression) == (0.8, 3.0, True)
    assert declared.source.startswith("--baton-gate 'multi_agent@sim-frontier:")


def test_spec_without_vendor_applies_to_every_vendor_and_zero_is_a_threshold() -> None:
    gate = parse_gate_spec("naive:max_cost_per_task=0", "--baton-gate").gate
    assert gate.vendor is None and gate.max_cost_per_task == 0.0 and gate.target == "naive@*"


@pytest.mark.parametrize(("spec", "message"), [
    ("naive", "expected SYSTEM[@VENDOR]:KEY=VALUE"),
    ("naive:", "expected SYSTEM[@VENDOR]:KEY=VALUE"),
    ("naive:no_regression=false", "a gate needs at least one of"),
    ("naive:min_success=1.5", "min_success: Input should be less than or equal to 1"),
    ("naive:min_success=high", "min_success: Input should be a valid number"),
    ("naive:min_success=0.5,min_success=0.6", "min_success given twice"),
    ("naive:p95=3", "p95: Extra inputs are not permitted"),
])
def test_bad_specs_name_the_problem(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match="^--baton-gate") as info:
        parse_gate_spec(spec, "--baton-gate")
    assert message in str(info.value)


def test_config_gates_name_file_and_index(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[[tool.baton.gates]]\nsystem = "rag"\nmin_success = 0.5\n\n'
        '[[tool.baton.gates]]\nsystem = "naive"\nmax_p95_latency_s = 0\n')
    with pytest.raises(ConfigError, match=r"pyproject.toml \[\[tool.baton.gates\]\] #2: max_p95_latency_s: "
                                          r"Input should be greater than 0"):
        load_config_gates(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.baton]\ngates = "rag"\n')
    with pytest.raises(ConfigError, match="expected an array of tables"):
        load_config_gates(tmp_path)
    assert load_config_gates(tmp_path / "nowhere") == []


def test_unknown_system_or_vendor_in_a_gate() -> None:
    gates = [parse_gate_spec("rag@sim-frontier:min_success=0.5", "--baton-gate")]
    check_gate_names(gates, ["rag"], ["sim-frontier"])
    with pytest.raises(ConfigError, match="system: unknown system 'rag'; known systems: naive"):
        check_gate_names(gates, ["naive"], ["sim-frontier"])
    with pytest.raises(ConfigError, match="vendor: unknown vendor profile 'sim-frontier'"):
        check_gate_names(gates, ["rag"], ["sim-small"])

"""Messages of the console script that must survive printing: a mapping error printed by `sync` keeps
its table path (`[rank].hot`, as `mappings validate` prints it; rich would take `[rank]` for markup),
and "not found" (`runs show 999`, `mappings explain nobody@...`) is bad input: exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from mappings import MappingError
from sync.inputs import load_mapping_file
from sync.state.store import StateStore
from tests.reliability.badinput_cli import run_cli

DEFAULT = Path(__file__).resolve().parents[3] / "mappings" / "default.toml"


def _settings(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(f"{extra}[state]\nurl = 'sqlite:///{tmp_path}/state.db'\n", encoding="utf-8")
    path.chmod(0o600)
    return path


@pytest.mark.parametrize("command", [["sync"], ["backfill", "--since", "2020-01-01"], ["setup", "--check"]])
def test_mapping_errors_printed_by_sync_keep_the_table_path(tmp_path: Path, command: list[str]) -> None:
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(DEFAULT.read_text(encoding="utf-8").replace("\nhot = 60", '\nhot = "sixty"'),
                       encoding="utf-8")
    with pytest.raises(MappingError) as info:
        load_mapping_file(mapping)
    expected = str(info.value)  # what `mappings validate` prints for this file
    assert "[rank].hot" in expected
    outcome = run_cli(*command, "--config", str(_settings(tmp_path, f"[sync]\nmapping_file = '{mapping}'\n")))
    assert outcome.crash is None, outcome.crash
    assert outcome.exit_code == 2, outcome.output
    assert expected in outcome.stderr  # on one line, with [rank]


def test_runs_show_of_a_run_that_does_not_exist_exits_2(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    StateStore.open(f"sqlite:///{tmp_path}/state.db").close()
    outcome = run_cli("runs", "show", "999", "--config", str(settings))
    assert outcome.crash is None, outcome.crash
    assert outcome.exit_code == 2 and "no run with id 999" in outcome.stderr and outcome.stdout == ""


@pytest.mark.parametrize("email", ["nobody@example.com", "not-an-email"])
def test_explain_of_a_person_not_in_the_store_exits_2(tmp_path: Path, email: str) -> None:
    settings = _settings(tmp_path)
    StateStore.open(f"sqlite:///{tmp_path}/state.db").close()
    outcome = run_cli("mappings", "explain", email, "--config", str(settings))
    assert outcome.crash is None, outcome.crash
    assert outcome.exit_code == 2 and "not found in the state store" in outcome.stderr
    assert outcome.stdout == ""

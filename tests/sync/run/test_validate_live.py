"""`leadsync mappings validate --live`: the mapping checked against both (sandbox) systems."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from sandbox.launcher import Sandbox
from sync.cli.main import app


def test_live_validation_reports_what_is_missing_then_passes_after_setup(empty_sandbox: Sandbox,
                                                                         tmp_path: Path) -> None:
    settings = empty_sandbox.write_settings(tmp_path / "settings.toml",
                                            state_url=f"sqlite:///{tmp_path}/state.db")
    runner = CliRunner()
    before = runner.invoke(app, ["mappings", "validate", "--live", "--config", str(settings)])
    assert before.exit_code == 2, before.output
    assert "hubspot: " in before.output and "leadsync_stage" in before.output
    assert "Nurture - Events" in before.output  # the lists do not exist yet either
    assert empty_sandbox.hubspot.store.contacts() == []  # nothing was created or written

    setup = runner.invoke(app, ["setup", "--config", str(settings)])
    assert setup.exit_code == 0, setup.output
    after = runner.invoke(app, ["mappings", "validate", "--live", "--config", str(settings)])
    assert after.exit_code == 0, after.output
    assert "live: both systems have every field" in after.output

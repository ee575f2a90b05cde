"""A mapped field missing in Salesforce (issue 11, `Lead_Scroe__c`): `sync` stops with exit 2 naming the
mapping file, line, key and field, before any read that names the field (today: exit 1 with HTTP 400
INVALID_FIELD naming nothing). The `leadsync` command as a user runs it, against the sandbox."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from mappings import DEFAULT_MAPPING_RESOURCE
from sandbox.launcher import Sandbox
from tests.sync.cli.test_cli import leadsync


def typo_mapping(tmp_path: Path) -> tuple[Path, int]:
    """The bundled mapping with `Lead_Score__c` misspelt; the line it is on."""
    text = resources.files("mappings").joinpath(DEFAULT_MAPPING_RESOURCE).read_text(encoding="utf-8")
    lines = text.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("Lead_Score__c = "))
    lines[index] = lines[index].replace("Lead_Score__c", "Lead_Scroe__c")
    path = tmp_path / "custom.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, index + 1


@pytest.mark.slow
@pytest.mark.parametrize("dry_run", [False, True], ids=["sync", "dry-run"])
def test_a_misspelt_salesforce_field_stops_sync_with_exit_2_naming_file_line_key_and_field(
        sandbox: Sandbox, tmp_path: Path, dry_run: bool) -> None:
    mapping, line = typo_mapping(tmp_path)
    settings = sandbox.write_settings(tmp_path / "settings.toml", state_url=f"sqlite:///{tmp_path}/state.db")
    with settings.open("a", encoding="utf-8") as fh:
        fh.write(f'\n[sync]\nmapping_file = "{mapping}"\n')
    offline = leadsync("mappings", "validate", "--config", str(settings), str(mapping))
    assert offline.returncode == 0, offline.stderr  # the file itself is fine
    done = leadsync("sync", "--config", str(settings), *(["--dry-run"] if dry_run else []))
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    assert "Traceback" not in out and "INVALID_FIELD" not in out
    flat = " ".join(out.split())
    assert f"{mapping}:{line} [fields.salesforce.Contact].Lead_Scroe__c" in flat
    assert "Contact.Lead_Scroe__c: field missing" in flat
    assert sandbox.salesforce.calls.snapshot().get("salesforce.collections", 0) == 0  # nothing written

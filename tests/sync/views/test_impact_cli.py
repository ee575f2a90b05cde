"""`leadsync mappings preview FILE` as a user runs it, over a seeded sandbox world synced once: one person
lost at a purchase-phase stage 20 days ago (within the default 30 days' wait: group waiting), one lost
at the same stage 60 days ago (group high, call task made by the sync)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from mappings import DEFAULT_MAPPING_RESOURCE
from tests.sync.cli.test_cli import leadsync

from .worlds import SeededWorld

DEFAULT = resources.files("mappings").joinpath(DEFAULT_MAPPING_RESOURCE).read_text(encoding="utf-8")


def seed(world: SeededWorld) -> None:
    world.person("waiting@example.com", lost_stage="Proposal/Price Quote", lost_days_ago=20, reason="Price")
    world.person("high@example.com", lost_stage="Proposal/Price Quote", lost_days_ago=60, reason="Price")
    world.sync()


def draft(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "draft.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_preview_counts_the_group_move_and_the_call_task(seeded_world: SeededWorld, tmp_path: Path) -> None:
    seed(seeded_world)
    file = draft(tmp_path, DEFAULT.replace("wait_days = 30 ", "wait_days = 10 ", 1))
    done = leadsync("mappings", "preview", str(file), "--config", str(seeded_world.settings_path), "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["people"] == 2 and out["changed"] == 1
    assert out["group"] == [{"from": "waiting", "to": "high", "people": 1}]
    assert out["stage"] == [] and out["rank"] == []
    assert out["call_tasks"] == 1  # the high person gets the same task under both: not counted
    assert out["lists"] == [{"list": "recycle_high", "adds": 1, "removes": 0}]
    assert out["writes"]["salesforce"]["tasks"] == 1
    [moved] = out["sample"]
    assert moved["key"] == "waiting@example.com"
    assert (moved["before"]["group"], moved["after"]["group"]) == ("waiting", "high")
    tables = leadsync("mappings", "preview", str(file), "--config", str(seeded_world.settings_path))
    assert tables.returncode == 0, tables.stderr
    assert "waiting@example.com" in tables.stdout and "Recycle group changes" in tables.stdout


def test_a_bad_draft_exits_2_with_file_and_line(seeded_world: SeededWorld, tmp_path: Path) -> None:
    lines = DEFAULT.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("hot = 60"))
    lines[index] = 'hot = "sixty"'
    file = draft(tmp_path, "\n".join(lines) + "\n")
    done = leadsync("mappings", "preview", str(file), "--config", str(seeded_world.settings_path))
    assert done.returncode == 2
    assert f"{file}:{index + 1}" in done.stderr
    same = leadsync("mappings", "validate", str(file))
    assert same.returncode == 2 and same.stderr == done.stderr  # the same errors as validate

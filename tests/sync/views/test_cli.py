"""The `report` command (via `cli_report.register`) and `explain_email_command` on a small Typer app, as
the lead wires them into `leadsync` and `leadsync mappings explain EMAIL`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from sync.cli import report as cli_report
from sync.cli.explain import explain_email_command
from sync.run.identity import resolve
from sync.views.kpis import stage_kpis
from sync.views.report import assignments, build_report

from .worlds import Synced


def make_app() -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    cli_report.register(app)

    @app.command("explain")
    def explain(email: str, config: Annotated[Path | None, typer.Option("--config")] = None,
                as_json: Annotated[bool, typer.Option("--json")] = False,
                now: Annotated[str | None, typer.Option("--now")] = None) -> None:
        raise typer.Exit(explain_email_command(email, config, as_json, now))

    return app


def invoke(*args: str) -> tuple[int, str, str]:
    # a fixed width: rich measures the real terminal (or $COLUMNS), which differs between runners
    result = CliRunner(env={"COLUMNS": "160"}).invoke(make_app(), list(args))
    return result.exit_code, result.stdout, result.stderr


def test_report_help() -> None:
    code, out, _ = invoke("report", "--help")
    assert code == 0
    assert "--json" in out and "--config" in out and "--now" in out


def test_report_json_is_the_report(synced: Synced) -> None:
    code, out, err = invoke("report", "--config", str(synced.settings_path), "--json",
                            "--now", synced.now.isoformat())
    assert code == 0, err
    data = json.loads(out)
    over_time = data.pop("over_time")
    assert data == build_report(synced.ctx.store, synced.ctx.mapping, synced.now).to_dict()
    assert over_time == stage_kpis(synced.ctx.store, synced.ctx.mapping).to_dict()
    assert set(data) == {"now", "mapping", "last_run", "people", "lost_deals", "loss_reasons",
                         "recycle_groups", "not_recycled", "nurture_lists", "open_failures"}
    # the synced book's first run recorded where everyone starts: no entries yet, the losses are there
    assert over_time["conversion"] == [] and over_time["losses_by_quarter"]
    assert sum(r["recycled"] for r in over_time["second_pipeline"] if r["by"] == "group") == sum(
        g["people"] for g in data["recycle_groups"] if g["group"] in ("high", "low", "waiting"))
    assert data["last_run"]["id"] == synced.result.run_id
    assert sum(data["people"]["by_stage"].values()) == data["people"]["total"]


def test_report_json_without_now_is_what_the_last_run_decided(synced: Synced) -> None:
    """Without --now the snapshot is the stored one (aggregated in the database); right after a run it
    equals the what-if at the run's `now`."""
    code, out, err = invoke("report", "--config", str(synced.settings_path), "--json")
    assert code == 0, err
    data = json.loads(out)
    data.pop("over_time")
    assert data.pop("now") != synced.now.isoformat()  # the time of the report, not of the run
    what_if = build_report(synced.ctx.store, synced.ctx.mapping, synced.now).to_dict()
    what_if.pop("now")
    assert data == what_if and data["people"]["total"] > 0


def test_report_tables(synced: Synced) -> None:
    code, out, err = invoke("report", "--config", str(synced.settings_path), "--now", synced.now.isoformat())
    assert code == 0, err
    report = build_report(synced.ctx.store, synced.ctx.mapping, synced.now)
    for title in ("People per shared stage", "Lost deals by loss reason × phase at loss",
                  "Loss reasons ranked", "Recycle groups", "Nurture lists", "Waterfall conversion per cohort",
                  "Velocity", "Second pipeline", "Loss analysis over time"):
        assert title in out
    assert report.loss_reasons[0].reason in out
    assert f"{report.people} people" in out


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("case", "message"), [
    ("missing settings", "settings file not found"),
    ("invalid toml", "invalid TOML"),
    ("unknown key", "invalid settings"),
    ("no state store yet", "no state store at"),
    ("missing mapping file", "file not found"),
    ("bad --now", "--now"),
])
@pytest.mark.parametrize("command", ["report", "explain"])
def test_bad_configuration_exits_2(tmp_path: Path, case: str, message: str, command: str) -> None:
    settings = tmp_path / "settings.toml"
    state = f'[state]\nurl = "sqlite:///{tmp_path}/state.db"\n'
    now: list[str] = []
    if case == "invalid toml":
        _write(settings, "[state\n")
    elif case == "unknown key":
        _write(settings, state + "[nonsense]\nx = 1\n")
    elif case in ("no state store yet", "bad --now"):
        _write(settings, state)
        now = ["--now", "yesterday"] if case == "bad --now" else []
    elif case == "missing mapping file":
        _write(settings, state + f'[sync]\nmapping_file = "{tmp_path}/nope.toml"\n')
    args = ["report"] if command == "report" else ["explain", "someone@example.com"]
    code, out, err = invoke(*args, "--config", str(settings), *now)
    assert code == 2
    assert message in err
    assert out == ""
    assert not (tmp_path / "state.db").exists()  # nothing was created


def test_explain_found_text_and_json(synced: Synced) -> None:
    res = resolve(synced.ctx.store.iter_deals(), synced.ctx.store.iter_contacts("hubspot"),
                  optout_property=synced.ctx.mapping.hubspot_optout_property)
    key = min(a.key for _, _, a in assignments(res, synced.ctx.mapping, synced.now)
              if a.recycle_group == "high")
    args = ("explain", key.upper(), "--config", str(synced.settings_path), "--now", synced.now.isoformat())
    code, out, err = invoke(*args)
    assert code == 0, err
    assert key in out and "Assignment and every rule that fired" in out and "Written to salesforce" in out
    code, out, err = invoke(*args, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["email"] == key and data["assignment"]["recycle_group"] == "high"
    assert {"salesforce", "hubspot", "assignment", "written", "lists", "tasks"} <= set(data)
    assert all(w["status"] == "in sync" for w in data["written"])


@pytest.mark.parametrize("email", ["nobody@example.com", "no-at-sign"])
def test_explain_unknown_email_exits_2(synced: Synced, email: str) -> None:
    code, out, err = invoke("explain", email, "--config", str(synced.settings_path))
    assert code == 2  # bad input, as documented
    assert out == ""
    assert "not found in the state store" in err and email in err


def test_report_csv_writes_each_section(synced: Synced, tmp_path: Path) -> None:
    folder = tmp_path / "kpis"
    code, _, err = invoke("report", "--config", str(synced.settings_path), "--csv", str(folder))
    assert code == 0, err
    kpis = stage_kpis(synced.ctx.store, synced.ctx.mapping)
    for name, rows in (("conversion", kpis.conversion), ("velocity", kpis.velocity),
                       ("second_pipeline", kpis.pipeline), ("losses_by_quarter", kpis.losses)):
        lines = (folder / f"{name}.csv").read_text(encoding="utf-8-sig").splitlines()
        assert len(lines) == 1 + len(rows), name
        assert f"wrote {folder / name}.csv" in err
    header = (folder / "losses_by_quarter.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    assert header == "quarter,phase,reason,deals,amount"


@pytest.mark.parametrize(("args", "message"), [
    (("--since", "2026-05-01", "--until", "2026-04-01"), "must be before --until"),
    (("--since", "last tuesday"), "--since"),
])
def test_report_bad_period_exits_2(synced: Synced, args: tuple[str, ...], message: str) -> None:
    code, out, err = invoke("report", "--config", str(synced.settings_path), *args)
    assert code == 2 and out == "" and message in err

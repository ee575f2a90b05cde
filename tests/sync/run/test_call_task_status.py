"""Call tasks read back from Salesforce (the `salesforce.call_tasks` stream): real clients over HTTP to
both emulators, a real SQLite state file. People lost 40 days ago in Negotiation/Review are in the high
recycle group, so the first run creates one call task each (bundled mapping)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
import sqlalchemy as sa
from typer.testing import CliRunner

from sync.cli.main import app
from sync.state import schema as s
from sync.views.kpis import stage_kpis
from tests.sync.run.conftest import World

STREAM = "salesforce.call_tasks"


def task_stream_queries(world: World) -> list[str]:
    """Fills with the SOQL of every task-status read (and "more" for each further page) the run's
    Salesforce connector sends from now on."""
    seen: list[str] = []
    pages: set[str] = set()  # the nextRecordsUrl of the stream's pages

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        url = urlsplit(response.request.url or "")
        q = parse_qs(url.query).get("q")
        if q and "FROM Task" in q[0] and "ORDER BY SystemModstamp" in q[0]:
            seen.append(q[0])
        elif url.path in pages:
            seen.append("more")
        else:
            return
        following = response.json().get("nextRecordsUrl") if response.ok else None
        if following:
            pages.add(following)

    world.ctx.salesforce.client.session.hooks.setdefault("response", []).append(hook)  # type: ignore[attr-defined]
    return seen


def task_id(world: World, email: str) -> str:
    (task,) = world.tasks_for(email)
    return str(task["Id"])


def recorded(world: World) -> dict[str, tuple[str | None, bool]]:
    """Task id -> (status, closed_at is set) as the state holds them."""
    with world.ctx.store.engine.connect() as conn:
        t = s.call_tasks.c
        rows = conn.execute(sa.select(t.task_id, t.status, t.closed_at))
        return {r.task_id: (r.status, r.closed_at is not None) for r in rows}


def pipeline(world: World) -> tuple[int, int]:
    """(called, completed) of the high group in the report."""
    (high,) = [p for p in stage_kpis(world.ctx.store, world.ctx.mapping).pipeline
               if (p.by, p.value) == ("group", "high")]
    return high.called, high.completed


def test_a_task_completed_in_salesforce_shows_as_completed_after_the_next_run(world: World,
                                                                               tmp_path: Path) -> None:
    for email in ("done@example.com", "open@example.com"):
        world.person(email, lost_stage="Negotiation/Review", lost_days_ago=40)
    first = world.sync()
    assert first.counts.get("call_tasks_read", 0) == 0  # read before this run created them
    done, still = task_id(world, "done@example.com"), task_id(world, "open@example.com")
    assert recorded(world) == {done: (None, False), still: (None, False)}
    assert pipeline(world) == (2, 0)

    sf = world.box.salesforce.store
    sf.update("Task", done, {"Status": "Completed", "Description": "called: interested again"})  # by hand
    completed_at = sf.get("Task", done)["CompletedDateTime"]

    dry = world.sync(dry_run=True)  # reads and stores the status (a fact), moves no watermark
    assert dry.counts["call_tasks_read"] == 2
    assert world.ctx.store.get_watermark(STREAM) is None
    assert recorded(world) == {done: ("Completed", True), still: ("Not Started", False)}

    second = world.sync()  # no watermark yet: every keyed task, once
    assert second.counts["call_tasks_read"] == 2
    assert world.ctx.store.get_watermark(STREAM) == sf.get("Task", done)["SystemModstamp"]
    assert pipeline(world) == (2, 1)
    with world.ctx.store.engine.connect() as conn:
        closed_at = conn.execute(sa.select(s.call_tasks.c.closed_at)
                                 .where(s.call_tasks.c.task_id == done)).scalar_one()
    assert closed_at == completed_at

    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        app, ["report", "--config", str(tmp_path / "settings.toml"), "--json"])
    assert result.exit_code == 0, result.stderr
    (high,) = [r for r in json.loads(result.stdout)["over_time"]["second_pipeline"]
               if (r["by"], r["value"]) == ("group", "high")]
    assert (high["called"], high["completed"]) == (2, 1)
    table = CliRunner(env={"COLUMNS": "220"}).invoke(
        app, ["report", "--config", str(tmp_path / "settings.toml")])
    assert table.exit_code == 0 and "Completed" in table.stdout


def test_a_quiet_run_reads_only_the_lookback_window_in_one_query(world: World) -> None:
    for email in ("a@example.com", "b@example.com", "c@example.com"):
        world.person(email, lost_stage="Negotiation/Review", lost_days_ago=40)
    world.sync()
    sf, now = world.box.salesforce.store, world.now
    ids = [task_id(world, e) for e in ("a@example.com", "b@example.com", "c@example.com")]
    for hours, tid in enumerate(ids, start=1):  # changed by hand an hour apart (beyond the 10-min lookback)
        sf.update("Task", tid, {"Priority": "High"}, at=now + timedelta(hours=hours))
    queries = task_stream_queries(world)
    assert world.sync(now=now + timedelta(hours=4)).counts["call_tasks_read"] == 3
    assert len(queries) == 1 and "SystemModstamp >=" not in queries[0]  # no watermark: everything

    queries.clear()
    quiet = world.sync(now=now + timedelta(hours=5))  # no task changed
    # one query call; it reads again only what changed within the lookback before the watermark: the
    # newest task (c, at +3 h), never a and b
    assert len(queries) == 1 and "SystemModstamp >=" in queries[0]
    assert quiet.counts["call_tasks_read"] == 1
    mark = world.ctx.store.get_watermark(STREAM)
    assert mark == sf.get("Task", ids[2])["SystemModstamp"]

    # as migration 7 leaves an existing state (statuses unread, no watermark): all of them, once
    with world.ctx.store.engine.begin() as conn:
        conn.execute(s.watermarks.delete().where(s.watermarks.c.stream == STREAM))
        conn.execute(s.call_tasks.update().values(status=None, closed_at=None))
    queries.clear()
    assert world.sync(now=now + timedelta(hours=6)).counts["call_tasks_read"] == 3
    assert len(queries) == 1 and all(v == ("Not Started", False) for v in recorded(world).values())


def test_a_task_deleted_in_salesforce_is_neither_open_nor_completed(world: World) -> None:
    for email in ("gone@example.com", "kept@example.com"):
        world.person(email, lost_stage="Negotiation/Review", lost_days_ago=40)
    world.sync()
    sf = world.box.salesforce.store
    gone, kept = task_id(world, "gone@example.com"), task_id(world, "kept@example.com")
    sf.update("Task", gone, {"Status": "Completed"})
    sf.update("Task", kept, {"Status": "Completed"})
    sf.delete("Task", gone)  # in the recycle bin: queryAll still sees it
    world.sync()
    assert recorded(world) == {gone: ("(deleted)", False), kept: ("Completed", True)}
    assert pipeline(world) == (2, 1)
    assert world.tasks_for("gone@example.com") == []  # no second task for the same cycle either
    assert len([t for t in sf.all("Task", include_deleted=True) if t["WhoId"] ==
                world.people["gone@example.com"].contact_id]) == 1

"""The "Runs and failures" pages over the real state store: the history and failures keyset-paged over
hand-built runs and failures, codes, escaping of CRM and error text, roles and CSRF on "retry now" and
"stop", a REAL run started from the page against the sandbox world (then seen in /runs), a held run lock
said in words, and the audit log."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import uvicorn
from starlette.testclient import TestClient

from sync.cli.console import serve_command
from sync.cli.console_run import run_starter
from sync.console.app import create_app
from sync.console.jobs import Job
from sync.run.lock import RunLock
from sync.state.records import NewFailure
from sync.state.store import StateStore
from tests.sync.state.state_samples import T0

from .conftest import ADMIN_PASSWORD, VIEWER_PASSWORD, Site, csrf_of

SCRIPT = "<script>alert(1)</script>"
TERMINAL = "\x1b[31mred"
BREAKER = '"><img src=x onerror=alert(2)>'


def signed_in(site: Site, user: str, password: str, start_run: Callable[[Job], Any] | None = None,
              lang: str | None = None) -> TestClient:
    client = TestClient(create_app(site.local.store, site.local.mapping, start_run=start_run),
                        follow_redirects=False)
    if lang:
        client.cookies.set("leadsync_lang", lang)
    token = csrf_of(client.get("/login").text)
    assert client.post("/login", data={"user": user, "password": password, "csrf": token}).status_code == 303
    return client


def _run_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-run="(\d+)">', page)]


def _failure_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-failure="(\d+)">', page)]


def _runs(store: StateStore, n: int) -> list[int]:
    """`n` finished runs, each with known counts and calls."""
    ids = []
    for i in range(n):
        run = store.start_run(mapping_version=3, at=T0 + timedelta(minutes=i))
        store.finish_run(run, status="partial", at=T0 + timedelta(minutes=i, seconds=90),
                         counts={"people": 7, "hubspot.records_updated": 2, "salesforce.records_updated": 3,
                                 "hubspot.write_failures": 1, "quarantined": 4},
                         api_calls={"hubspot": {"batch/update": 2, "search": 3}, "salesforce": {"query": 4}})
        ids.append(run)
    return ids


def test_the_history_pages_50_at_a_time_newest_first(site: Site) -> None:
    ids = _runs(site.local.store, 120)
    client = signed_in(site, "reader", VIEWER_PASSWORD)
    pages, url = [], "/runs"
    while True:
        page = client.get(url)
        assert page.status_code == 200
        pages.append(_run_ids(page.text))
        older = re.search(r'id="older" href="([^"]+)"', page.text)
        if older is None:
            break
        url = older.group(1)
    assert [len(p) for p in pages] == [50, 50, 20]
    assert [i for p in pages for i in p] == sorted(ids, reverse=True)  # no overlap, none left out
    row = re.search(rf'<tr data-run="{ids[-1]}">(.*?)</tr>', client.get("/runs").text, re.S)
    assert row
    cells = [re.sub(r"<[^>]+>", "", c).strip()
             for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)]
    # id, kind, status, started, duration, mapping version, people, updated (2+3), write failures,
    # quarantined, calls per system (2+3 and 4), error
    assert cells[:3] == [str(ids[-1]), "sync", "partial"]
    assert cells[4:] == ["90.0 s", "3", "7", "5", "1", "4", "hubspot 5, salesforce 4", ""]


def test_a_run_page_shows_counts_calls_escaped_error_and_its_failures_paged(site: Site) -> None:
    store = site.local.store
    run = store.start_run(mapping_version=2, at=T0)
    other = store.start_run(mapping_version=2, at=T0)
    store.add_failures(run, [NewFailure("hubspot", f"h{i:02}", "write", f"update: INVALID_EMAIL: {SCRIPT}")
                             for i in range(55)], at=T0)
    store.add_failures(other, [NewFailure("salesforce", "003X", "identity", "no email")], at=T0)
    store.resolve_failures("hubspot", ["h00"])  # a run's page lists its resolved failures too
    store.finish_run(run, status="failed", at=T0 + timedelta(seconds=12), counts={"people": 3},
                     api_calls={"salesforce": {"query": 6}},
                     error=f"{SCRIPT} {TERMINAL} {BREAKER} Authorization: Bearer sekrit.token.value")
    client = signed_in(site, "reader", VIEWER_PASSWORD, lang="ja")
    page = client.get(f"/runs/{run}")
    assert page.status_code == 200
    text = page.text
    assert re.search(r'id="run-status" class="status-failed">failed<', text)
    assert re.search(r'id="run-calls">salesforce 6<', text)
    assert "この実行の失敗" in text and "試行回数" in text  # Japanese words
    assert SCRIPT not in text and "<img" not in text and "\x1b" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and r"\x1b[31mred" in text
    assert "sekrit" not in text
    first = _failure_ids(text)
    assert len(first) == 50 and text.count('class="code">INVALID_EMAIL<') == 50
    more = re.search(r'id="next-page" href="([^"]+)"', text)
    assert more
    second = _failure_ids(client.get(more.group(1)).text)
    assert len(second) == 5 and not set(first) & set(second)
    assert client.get("/runs/99999").status_code == 404


def test_the_failures_page_lists_open_failures_with_codes_by_run_and_paged(site: Site) -> None:
    store = site.local.store
    first, second = store.start_run(mapping_version=1), store.start_run(mapping_version=1)
    store.add_failures(first, [NewFailure("hubspot", f"{BREAKER}{i}", "write",
                                          f"update: PROPERTY_DOESNT_EXIST: {TERMINAL}") for i in range(45)],
                       at=T0)
    store.add_failures(second, [NewFailure("salesforce", f"003{i:02}", "identity", f"no email {SCRIPT}")
                                for i in range(10)], at=T0)
    store.resolve_failures("salesforce", ["00300", "00301"])  # 8 of the second run stay open
    client = signed_in(site, "reader", VIEWER_PASSWORD)
    page = client.get("/failures")
    assert page.status_code == 200
    first_page = _failure_ids(page.text)
    assert len(first_page) == 50
    more = re.search(r'id="next-page" href="([^"]+)"', page.text)
    assert more
    rest = client.get(more.group(1).replace("&amp;", "&")).text
    assert len(_failure_ids(rest)) == 3 and 'id="next-page"' not in rest  # 45 + 8 open
    assert page.text.count('class="code">PROPERTY_DOESNT_EXIST<') == 45
    assert rest.count('class="code">identity<') == 3  # no code in the reason: the stage
    for text in (page.text, rest):
        assert SCRIPT not in text and "<img" not in text and "\x1b" not in text
    assert r"\x1b[31mred" in page.text and "&#34;&gt;&lt;img src=x" in page.text
    only = client.get(f"/failures?run={second}").text
    assert len(_failure_ids(only)) == 8 and "PROPERTY_DOESNT_EXIST" not in only


def test_retry_and_stop_need_an_admin_and_the_csrf_token(site: Site) -> None:
    started: list[Job] = []
    viewer = signed_in(site, "reader", VIEWER_PASSWORD, start_run=started.append)
    token = csrf_of(viewer.get("/runs").text)
    assert 'id="retry-form"' not in viewer.get("/runs").text
    assert viewer.post("/runs/retry", data={"csrf": token}).status_code == 403
    assert viewer.post("/runs/stop", data={"csrf": token}).status_code == 403
    admin = signed_in(site, "ops", ADMIN_PASSWORD, start_run=started.append)
    assert admin.post("/runs/retry", data={}).status_code == 403
    assert admin.post("/runs/retry", data={"csrf": "forged"}).status_code == 403
    assert admin.post("/runs/stop", data={}).status_code == 403
    assert started == []
    assert not [a for a in site.local.store.audit_log() if a.action.startswith("run-")]


def _wait_finished(client: TestClient, url: str, seconds: float = 120) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        page = client.get(url)
        assert page.status_code == 200
        if "Refresh" not in page.headers:
            return page.text
        time.sleep(0.2)
    raise AssertionError(f"{url} still running after {seconds} s")


def test_a_page_run_shows_progress_a_second_click_the_same_job_and_stop_is_audited(site: Site) -> None:
    release = threading.Event()

    def start(job: Job) -> Any:
        job.advance("hubspot contacts", 1234)
        release.wait(30)
        return type("Result", (), {"run_id": 41, "status": "interrupted" if job.stop.is_set() else "ok",
                                   "error": None})()

    admin = signed_in(site, "ops", ADMIN_PASSWORD, start_run=start)
    token = csrf_of(admin.get("/runs").text)
    response = admin.post("/runs/retry", data={"csrf": token})
    assert response.status_code == 303
    url = response.headers["location"]
    job_id = url.rsplit("/", 1)[1]
    for _ in range(200):
        page = admin.get(url)
        if "1,234" in page.text:
            break
        time.sleep(0.02)
    assert '<meta http-equiv="refresh" content="2">' in page.text and page.headers["Refresh"] == "2"
    assert re.search(r'id="job-phase">reading HubSpot contacts<', page.text)
    assert re.search(r'id="job-done">1,234<', page.text)
    again = admin.post("/runs/retry", data={"csrf": token})  # a second click: the running job
    assert (again.status_code, again.headers["location"]) == (303, url)
    assert 'id="running-job"' in admin.get("/runs").text
    stopped = admin.post("/runs/stop", data={"csrf": token})
    assert (stopped.status_code, stopped.headers["location"]) == (303, url)
    assert 'id="stop-requested"' in admin.get(url).text
    release.set()
    done = _wait_finished(admin, url)
    assert '<meta http-equiv="refresh"' not in done
    assert re.search(r'id="job-status">interrupted<', done) and 'href="/runs/41"' in done
    actions = [(a.user_name, a.action, a.detail) for a in site.local.store.audit_log()][:2]
    assert actions == [("ops", "run-stop", f"job {job_id}"), ("ops", "run-retry", f"job {job_id}")]
    assert admin.post("/runs/stop", data={"csrf": token}).status_code == 409  # nothing going now


def test_a_failing_start_shows_its_error_escaped_without_secrets(site: Site) -> None:
    def start(job: Job) -> Any:
        raise RuntimeError(f"{SCRIPT} {TERMINAL} password=hunter2")

    admin = signed_in(site, "ops", ADMIN_PASSWORD, start_run=start)
    response = admin.post("/runs/retry", data={"csrf": csrf_of(admin.get("/runs").text)})
    text = _wait_finished(admin, response.headers["location"])
    assert 'id="job-error"' in text and "&lt;script&gt;" in text and r"\x1b[31mred" in text
    assert SCRIPT not in text and "\x1b" not in text and "hunter2" not in text
    assert admin.get("/runs/job/unknown").status_code == 404


def test_without_a_run_starter_retry_says_so(site: Site) -> None:
    admin = signed_in(site, "ops", ADMIN_PASSWORD)
    page = admin.get("/runs")
    assert 'id="retry-form"' not in page.text
    refused = admin.post("/runs/retry", data={"csrf": csrf_of(page.text)})
    assert refused.status_code == 503 and "without a way to start runs" in refused.text


@pytest.fixture
def one_person(site: Site) -> Iterator[Site]:
    site.world.person("a@example.com", lost_stage="Prospecting", lost_days_ago=40, reason=SCRIPT)
    yield site


def test_retry_now_from_leadsync_console_starts_a_real_run_that_appears_in_the_history(
        one_person: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """The app `leadsync console` serves (its uvicorn.run replaced by this test's requests) starts a
    real sync run from the settings file it was opened with."""
    site = one_person
    assert site.local.store.list_runs() == []
    served: dict[str, Any] = {}

    def serve(app: Any, **options: Any) -> None:  # what the browser would do while the console runs
        client = TestClient(app, follow_redirects=False)
        token = csrf_of(client.get("/login").text)
        client.post("/login", data={"user": "ops", "password": ADMIN_PASSWORD, "csrf": token})
        response = client.post("/runs/retry", data={"csrf": csrf_of(client.get("/runs").text)})
        assert response.status_code == 303
        served["done"] = _wait_finished(client, response.headers["location"])
        served["history"] = client.get("/runs").text
        served["job"] = response.headers["location"].rsplit("/", 1)[1]

    monkeypatch.setattr(uvicorn, "run", serve)
    assert serve_command("127.0.0.1", 8765, site.world.settings_path, False) == 0
    (run,) = site.local.store.list_runs()
    assert (run.kind, run.status, run.counts["people"]) == ("sync", "ok", 1)
    assert re.search(r'id="job-status">ok<', served["done"]) and f'href="/runs/{run.id}"' in served["done"]
    assert _run_ids(served["history"]) == [run.id]
    row = re.search(rf'<tr data-run="{run.id}">(.*?)</tr>', served["history"], re.S)
    assert row and re.search(r"hubspot [1-9]", row.group(1)) and re.search(r"salesforce [1-9]", row.group(1))
    entry = site.local.store.audit_log()[0]
    assert (entry.user_name, entry.action, entry.detail) == ("ops", "run-retry", f"job {served['job']}")


def test_stop_ends_a_real_run_after_its_batch(one_person: Site) -> None:
    """POST /runs/stop sets the run's own stop event: the run ends `interrupted` (as on Ctrl-C)."""
    site = one_person
    asked = threading.Event()
    real = run_starter(site.world.settings_path)

    def start(job: Job) -> Any:
        asked.wait(30)  # the run begins once the stop was asked for: it stops at its first chunk
        return real(job)

    admin = signed_in(site, "ops", ADMIN_PASSWORD, start_run=start)
    token = csrf_of(admin.get("/runs").text)
    url = admin.post("/runs/retry", data={"csrf": token}).headers["location"]
    assert admin.post("/runs/stop", data={"csrf": token}).status_code == 303
    asked.set()
    done = _wait_finished(admin, url)
    (run,) = site.local.store.list_runs()
    assert run.status == "interrupted" and "stop requested" in (run.error or "")
    assert re.search(r'id="job-status">interrupted<', done)


def test_a_held_run_lock_is_said_in_words(one_person: Site) -> None:
    site = one_person
    lock = RunLock(site.local.store.engine)  # another run (as `leadsync sync` would hold it)
    lock.acquire()
    try:
        admin = signed_in(site, "ops", ADMIN_PASSWORD, start_run=run_starter(site.world.settings_path))
        response = admin.post("/runs/retry", data={"csrf": csrf_of(admin.get("/runs").text)})
        done = _wait_finished(admin, response.headers["location"])
    finally:
        lock.release()
    assert 'id="job-locked"' in done and "Another run holds the run lock" in done
    assert re.search(r'id="job-status">locked<', done) and "holds the lock" in done
    assert site.local.store.list_runs() == []  # nothing ran

"""The impact preview pages (POST /mapping/preview, GET /mapping/preview/{job}) over the hostile world of
test_console_overview, synced under the default mapping.

Scores there, worked out by hand (company size 500 on every account: fit 10 points; the opens and
clicks fade with a 90-day half-life): a clicked once 5 days ago, 20 × 0.5^(5/90) ≈ 19 + 10 = 29;
c opened twice 10 days ago, 20 × 0.5^(10/90) ≈ 19 + 10 = 29; d opened twice 90 days ago, 10 + 10 = 20;
everyone else 10. All cold (warm = 30). A draft with warm = 25 makes exactly a and c warm; both are in
recycle group high, whose list replaces the rank's, so no list changes and no stage changes.
"""

from __future__ import annotations

import re
import threading
import time
from importlib import resources
from pathlib import Path

from starlette.testclient import TestClient

from mappings import DEFAULT_MAPPING_RESOURCE
from sync.console.jobs import Job

from .conftest import ADMIN_PASSWORD, VIEWER_PASSWORD, Site, csrf_of
from .test_console_editor import _editor, form_of
from .test_console_overview import NAME, hostile  # noqa: F401  (the fixture)

DEFAULT = resources.files("mappings").joinpath(DEFAULT_MAPPING_RESOURCE).read_text(encoding="utf-8")
WARM_25 = DEFAULT.replace("warm = 30\n", "warm = 25\n", 1)


def _post(client: TestClient, text: str, *, csrf: bool = True) -> object:
    data = {"text": text}
    if csrf:
        data["csrf"] = csrf_of(client.get("/people").text)
    return client.post("/mapping/preview", data=data)


def _finished(client: TestClient, location: str) -> str:
    for _ in range(600):
        page = client.get(location)
        assert page.status_code == 200
        if 'http-equiv="refresh"' not in page.text:
            assert "Refresh" not in page.headers
            return page.text
        time.sleep(0.05)
    raise AssertionError("the preview did not finish")


def _table(page: str, table_id: str) -> list[list[str]]:
    table = re.search(rf'<table id="{table_id}">(.*?)</table>', page, re.S)
    assert table, table_id
    rows = re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S)
    return [[re.sub(r"<[^>]+>", " ", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)]
            for r in rows][1:]


def test_an_admin_previews_a_lower_warm_threshold(hostile: Site) -> None:  # noqa: F811
    client = hostile.signed_in("ops", ADMIN_PASSWORD, lang="en")
    started = _post(client, WARM_25)
    assert started.status_code == 303
    location = started.headers["location"]
    assert re.fullmatch(r"/mapping/preview/[A-Za-z0-9_-]+", location)
    assert "warm" not in location  # the draft stays in the job, not in the URL
    page = _finished(client, location)
    assert re.search(r'<dd id="preview-changed">2</dd>', page)
    assert re.search(r'<dd id="preview-tasks">0</dd>', page)
    assert _table(page, "preview-rank") == [["cold", "warm", "2"]]
    assert "preview-stage" not in page and "preview-group" not in page and "preview-lists" not in page
    sample = _table(page, "preview-sample")
    assert [row[0].split()[0] for row in sample] == ["a@example.com", "c@example.com"]
    for row in sample:  # the draft's words, and the current mapping's
        assert "rank warm (rank.warm = 25)" in row[3] and "rank cold (rank.cold = 0)" in row[3]
    # c's hostile name (a Salesforce contact's LastName) as text, its control characters made visible
    assert NAME not in page and "&lt;script&gt;alert(3)&lt;/script&gt;" in page
    assert "\x1b" not in page and r"\x1b[2Jx\x07" in page
    writes = {row[0]: row for row in _table(page, "preview-writes")}
    # saving bumps the version, which the written explanation names: each of the 7 people's records
    assert writes["salesforce"][1] == "7" and writes["hubspot"][1] == "7"


def test_the_preview_page_in_japanese(hostile: Site) -> None:  # noqa: F811
    client = hostile.signed_in("ops", ADMIN_PASSWORD, lang="ja")
    page = _finished(client, _post(client, WARM_25).headers["location"])
    assert "ランクの変化（育成）" in page
    assert _table(page, "preview-rank") == [["コールド", "ウォーム", "2"]]


def test_a_running_preview_shows_its_progress_and_refreshes(hostile: Site) -> None:  # noqa: F811
    client = hostile.signed_in("ops", ADMIN_PASSWORD, lang="en")
    console = client.app.state.console  # type: ignore[attr-defined]
    release = threading.Event()

    def work(job: Job) -> None:
        job.advance("people", 1500, 4000)
        release.wait(10)

    job = console.jobs.start("preview", "ops", work)
    try:
        for _ in range(200):
            if job.done:
                break
            time.sleep(0.01)
        page = client.get(f"/mapping/preview/{job.id}")
        assert page.status_code == 200 and page.headers["Refresh"] == "1"
        assert '<meta http-equiv="refresh" content="1">' in page.text
        assert '<progress id="preview-progress" value="1500" max="4000">' in page.text
        assert "1,500 / 4,000 people (37%)" in page.text
        busy = _post(client, WARM_25)  # one preview at a time
        assert busy.status_code == 409 and f"/mapping/preview/{job.id}" in busy.text
    finally:
        release.set()


def test_a_viewer_cannot_preview(hostile: Site) -> None:  # noqa: F811
    admin = hostile.signed_in("ops", ADMIN_PASSWORD)
    location = _post(admin, WARM_25).headers["location"]
    _finished(admin, location)
    viewer = hostile.signed_in("reader", VIEWER_PASSWORD)
    assert _post(viewer, WARM_25).status_code == 403
    assert viewer.get(location).status_code == 403


def test_no_csrf_token_is_403(hostile: Site) -> None:  # noqa: F811
    client = hostile.signed_in("ops", ADMIN_PASSWORD)
    refused = _post(client, WARM_25, csrf=False)
    assert refused.status_code == 403
    assert client.app.state.console.jobs.latest("preview") is None  # type: ignore[attr-defined]


def test_an_invalid_draft_shows_the_validate_errors_escaped(hostile: Site) -> None:  # noqa: F811
    lines = DEFAULT.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("hot = 60"))
    lines[index] = 'hot = "sixty"  # </textarea><script>alert(9)</script>'
    client = hostile.signed_in("ops", ADMIN_PASSWORD, lang="en")
    page = _post(client, "\n".join(lines) + "\n")
    assert page.status_code == 400
    errors = re.search(r'<ul id="preview-errors">(.*?)</ul>', page.text, re.S)
    assert errors and f"draft.toml:{index + 1}" in errors.group(1)
    assert "<script>alert(9)" not in page.text and "&lt;/textarea&gt;&lt;script&gt;alert(9)" in page.text
    assert client.app.state.console.jobs.latest("preview") is None  # type: ignore[attr-defined]


def test_an_unknown_job_is_404(hostile: Site) -> None:  # noqa: F811
    client = hostile.signed_in("ops", ADMIN_PASSWORD, lang="en")
    page = client.get("/mapping/preview/nope")
    assert page.status_code == 404 and "No such preview" in page.text


# --- the editor's drafts: its form of fields (no script: the hidden `text` is the file as loaded), its text


def _editor_page(hostile: Site, tmp_path: Path) -> tuple[TestClient, str]:  # noqa: F811
    client = _editor(hostile, tmp_path).client()
    client.cookies.set("leadsync_lang", "en")
    return client, client.get("/mapping").text


def test_a_form_edit_previews_without_script(hostile: Site, tmp_path: Path) -> None:  # noqa: F811
    client, page = _editor_page(hostile, tmp_path)
    fields = form_of(page)
    assert fields["mode"] == "form" and fields["k:rank.warm"] == "30"
    assert "\nwarm = 30\n" in fields["text"]  # what a browser without the script sends as `text`
    fields["k:rank.warm"] = "25"  # the admin's edit in the form, as a browser posts it
    started = client.post("/mapping/preview", data={**fields, "preview": "1"})
    assert started.status_code == 303, started.text
    page = _finished(client, started.headers["location"])
    assert re.search(r'<dd id="preview-changed">2</dd>', page)  # a and c (29 points ≥ 25), see the top
    assert _table(page, "preview-rank") == [["cold", "warm", "2"]]
    assert "preview-stage" not in page and "preview-group" not in page and "preview-stale" not in page
    assert [row[0].split()[0] for row in _table(page, "preview-sample")] == ["a@example.com", "c@example.com"]
    assert '<a href="/person?email=a%40example.com">a@example.com</a>' in page  # each sampled person's page


def test_the_text_form_previews_its_text(hostile: Site, tmp_path: Path) -> None:  # noqa: F811
    client, page = _editor_page(hostile, tmp_path)
    fields = form_of(page, "mapping-text")
    assert fields["mode"] == "text"
    fields["text"] = fields["text"].replace("\nwarm = 30\n", "\nwarm = 25\n", 1).replace("\n", "\r\n")
    page = _finished(client, client.post("/mapping/preview", data=fields).headers["location"])
    assert _table(page, "preview-rank") == [["cold", "warm", "2"]]


def test_an_invalid_form_value_shows_the_editors_errors_escaped(hostile: Site,  # noqa: F811
                                                                 tmp_path: Path) -> None:
    client, page = _editor_page(hostile, tmp_path)
    fields = form_of(page)
    fields["k:rank.warm"] = '"<script>alert(7)</script>'
    page = client.post("/mapping/preview", data=fields)
    assert page.status_code == 400
    errors = re.search(r'<ul id="preview-errors">(.*?)</ul>', page.text, re.S)
    line = DEFAULT.splitlines().index("warm = 30") + 1  # the line the form's field is written to
    expected = f"{tmp_path / 'mapping.toml'}:{line} [rank].warm: expected an integer"
    assert errors and expected in errors.group(1)
    assert "<script>alert(7)" not in page.text and "&lt;script&gt;alert(7)" in page.text
    assert client.app.state.console.jobs.latest("preview") is None  # type: ignore[attr-defined]
    fields["k:rank.warm"] = "25"
    del fields["csrf"]
    assert client.post("/mapping/preview", data=fields).status_code == 403


def test_a_form_over_a_file_changed_since_says_so(hostile: Site, tmp_path: Path) -> None:  # noqa: F811
    client, page = _editor_page(hostile, tmp_path)
    fields = form_of(page)
    path = tmp_path / "mapping.toml"
    path.write_text(path.read_text().replace("# ", "#  ", 1))  # edited in a text editor meanwhile
    fields["k:rank.warm"] = "25"
    page = _finished(client, client.post("/mapping/preview", data=fields).headers["location"])
    assert 'id="preview-stale"' in page and "reload before saving" in page
    assert _table(page, "preview-rank") == [["cold", "warm", "2"]]

"""The mapping editor (/mapping): the form and the TOML text, checked as `leadsync mappings validate`
checks, saved with the version bumped into the file, every version kept with its diff, rolled back;
roles, CSRF, stale writes and hostile text. Starlette TestClient over the real app, a real state store
(the seeded sandbox world) and a real mapping file (a copy of the bundled default) in tmp_path."""

from __future__ import annotations

import json
import os
import re
import stat
import tomllib
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient
from typer.testing import CliRunner

import mappings
from sync.cli.main import app as cli
from sync.console.app import create_app
from sync.console.editor import changed_lines, version_of
from sync.console.mapping_disk import digest
from sync.console.mapping_form import apply

from .conftest import ADMIN_PASSWORD, VIEWER_PASSWORD, Site, csrf_of
from .test_console_overview import hostile  # noqa: F401  (the fixture)

DEFAULT = Path(mappings.__file__).parent / "default.toml"
HOT = "k:rank.hot"
REASONS = "k:recycle.exclude_loss_reasons"
SCRIPT = '<script>alert("x")</script>'


@dataclass
class Editor:
    site: Site
    path: Path
    app: Starlette

    def client(self, user: str = "ops", password: str = ADMIN_PASSWORD) -> TestClient:
        client = TestClient(self.app, follow_redirects=False)
        token = csrf_of(client.get("/login").text)
        response = client.post("/login", data={"user": user, "password": password, "csrf": token})
        assert response.status_code == 303, response.text
        return client

    @property
    def store(self):  # noqa: ANN201
        return self.site.local.store

    @property
    def mapping(self) -> mappings.Mapping:
        return self.app.state.console.mapping


def _editor(site: Site, folder: Path) -> Editor:
    path = folder / "mapping.toml"
    path.write_bytes(DEFAULT.read_bytes())
    os.chmod(path, 0o640)
    return Editor(site, path, create_app(site.local.store, site.local.mapping, mapping_path=path))


@pytest.fixture
def editor(site: Site, tmp_path: Path) -> Editor:
    return _editor(site, tmp_path)


class _Form(HTMLParser):
    """The fields a browser would send for the form with `form_id` (enabled ones only)."""

    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id, self.inside, self.fields = form_id, False, {}
        self._select: str | None = None
        self._area: str | None = None
        self.disabled: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside:
            return
        name = a.get("name")
        if name and "disabled" in a:
            self.disabled.append(name)
            return
        if tag == "input" and name:
            self.fields[name] = a.get("value") or ""
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in a:
            self.fields[self._select] = a.get("value") or ""
        elif tag == "textarea" and name:
            self._area = name
            self.fields[name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea" and self._area:
            value = self.fields[self._area]  # as browsers do: a newline right after <textarea> is not text
            self.fields[self._area] = value[1:] if value.startswith("\n") else value
            self._area = None

    def handle_data(self, data: str) -> None:
        if self._area:
            self.fields[self._area] += data


def form_of(page: str, form_id: str = "mapping-form") -> dict[str, str]:
    parser = _Form(form_id)
    parser.feed(page)
    assert parser.fields, page
    return parser.fields


def validate(path: Path) -> tuple[int, list[str]]:
    result = CliRunner().invoke(cli, ["mappings", "validate", str(path)])
    return result.exit_code, result.output.splitlines()


# ---------------------------------------------------------------------------------------------- form


def test_the_form_shows_what_admins_change_most_from_the_file(editor: Editor) -> None:
    page = editor.client().get("/mapping")
    assert page.status_code == 200
    fields = form_of(page.text)
    assert fields["mode"] == "form" and fields["base"] == digest(editor.path.read_text())
    assert fields[HOT] == "60" and fields["k:rank.warm"] == "30"
    assert fields["k:rank.cold"] == "0"
    assert fields["k:score.behaviour.email_click.points"] == "20"
    assert fields["k:score.behaviour.download.cap"] == "3"
    assert fields["k:phases.salesforce.opportunity_stage.Proposal%2FPrice%20Quote"] == "purchase"
    assert fields["phase:comparison"] == "high" and fields["phase:awareness"] == "low"
    assert fields["k:recycle.wait_days"] == "30"
    assert fields[REASONS].split("\n") == ["Duplicate", "Spam", "Invalid Contact"]
    assert fields["k:nurture.lists.cold.email"] == "true"
    assert fields["k:nurture.groups.waiting"] == ""
    assert fields["k:fields.hubspot.contacts.leadsync_recycle_group.policy"] == "keep_manual"
    text = form_of(page.text, "mapping-text")
    assert text["text"] == editor.path.read_text()  # the whole file, exactly
    assert '<script src="/static/editor.js" defer></script>' in page.text
    # the impact preview (another page's route) gets the draft as `text`, from either form
    assert page.text.count('<button formaction="/mapping/preview"') == 2
    assert "text" in form_of(page.text) and form_of(page.text)["text"] == text["text"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert 'href="/mapping"' in page.text  # the nav link
    assert editor.client().get("/static/editor.js").status_code == 200
    ja = editor.client()
    ja.cookies.set("leadsync_lang", "ja")
    page = ja.get("/mapping").text
    assert "ランクのしきい値（育成）" in page and '<th scope="row">ホット</th>' in page
    assert "影響をプレビュー" in page and "高・低フェーズ（再育成）" in page


def test_every_field_sent_back_unchanged_changes_nothing(editor: Editor) -> None:
    original = editor.path.read_text()
    fields = form_of(editor.client().get("/mapping").text)
    assert apply(original, fields) == original


def test_a_form_edit_of_a_rank_threshold_saves_a_valid_file_with_the_new_value(editor: Editor) -> None:
    original = editor.path.read_text()
    client = editor.client()
    fields = form_of(client.get("/mapping").text)
    fields[HOT] = "70"
    response = client.post("/mapping/save", data=fields)
    assert response.status_code == 303 and response.headers["location"] == "/mapping?saved=1"
    saved = editor.path.read_text()
    data = tomllib.loads(saved)
    assert data["rank"]["hot"] == 70 and data["version"] == 2
    # comments and order kept: only the threshold and the version line changed
    assert saved.replace("hot = 70", "hot = 60").replace("version = 2 ", "version = 1 ") == original
    assert "# the highest threshold the score reaches decides the rank" in saved
    assert changed_lines(original, saved) == 2
    assert stat.S_IMODE(editor.path.stat().st_mode) == 0o640
    assert not [p for p in editor.path.parent.iterdir() if p.name.endswith(".tmp")]
    code, out = validate(editor.path)
    assert code == 0 and "valid (version 2;" in out[0]
    # the console uses it at once
    assert editor.mapping.version == 2
    assert "Saved as a new version" in client.get(response.headers["location"]).text
    # the history: the file as found, then the save
    versions = editor.store.mapping_versions()
    assert [(v.version, v.action, v.saved_by) for v in versions] == [(2, "save", "ops"), (1, "found", None)]
    found = editor.store.mapping_version(versions[1].id)
    assert found is not None and found.text == original and found.diff == ""
    save = editor.store.mapping_version(versions[0].id)
    assert save is not None and save.text == saved
    assert "-hot = 60\n" in save.diff and "+hot = 70\n" in save.diff
    audit = editor.store.audit_log()[0]
    assert (audit.user_name, audit.action, audit.detail) == ("ops", "mapping-save",
                                                             "version 1 → 2, 2 lines changed")


def test_a_form_change_of_phases_lists_and_policies(editor: Editor) -> None:
    client = editor.client()
    fields = form_of(client.get("/mapping").text)
    fields["phase:comparison"] = "low"
    fields["k:nurture.lists.hot.email"] = "true"
    fields["k:fields.salesforce.Contact.Lead_Stage__c.policy"] = "if_blank"
    fields[REASONS] = "Duplicate\r\nSpam\r\n\r\nCompetitor won\r\n"
    assert client.post("/mapping/save", data=fields).status_code == 303
    data = tomllib.loads(editor.path.read_text())
    assert data["recycle"]["high"] == ["purchase"]
    assert data["recycle"]["low"] == ["awareness", "interest", "information_gathering", "comparison"]
    assert data["recycle"]["exclude_loss_reasons"] == ["Duplicate", "Spam", "Competitor won"]
    assert data["nurture"]["lists"]["hot"]["email"] is True
    assert data["fields"]["salesforce"]["Contact"]["Lead_Stage__c"] == {"from": "stage", "policy": "if_blank"}
    assert editor.mapping.recycle.exclude_display == ("Duplicate", "Spam", "Competitor won")


def test_a_text_edit_is_saved_with_the_version_bumped(editor: Editor) -> None:
    client = editor.client()
    fields = form_of(client.get("/mapping").text, "mapping-text")
    draft = fields["text"].replace("wait_days = 30 ", "wait_days = 45 ")
    draft = draft.replace("# Shared stage (Demand Waterfall).", "# Shared stage (edited as text).")
    fields["text"] = draft.replace("\n", "\r\n")  # as a browser sends a textarea
    assert client.post("/mapping/save", data=fields).status_code == 303
    saved = editor.path.read_bytes().decode()
    assert "\r" not in saved
    assert saved == draft.replace("version = 1 ", "version = 2 ")
    assert editor.mapping.recycle.wait_days == 45 and editor.mapping.version == 2
    assert validate(editor.path)[0] == 0


# ---------------------------------------------------------------------------------------------- errors


def test_an_invalid_draft_is_refused_with_the_errors_of_mappings_validate(editor: Editor,
                                                                          tmp_path: Path) -> None:
    original = editor.path.read_bytes()
    client = editor.client()
    fields = form_of(client.get("/mapping").text, "mapping-text")
    draft = fields["text"].replace("hot = 60", 'hot = "sixty"').replace('"Prospecting" = "awareness"',
                                                                        '"Prospecting" = "unknown"')
    response = client.post("/mapping/save", data={**fields, "text": draft})
    assert response.status_code == 422
    assert editor.path.read_bytes() == original  # nothing written
    assert [v.action for v in editor.store.mapping_versions()] == ["found"]
    assert editor.mapping.version == 1
    assert all(a.action != "mapping-save" for a in editor.store.audit_log())
    # the same lines `leadsync mappings validate` prints for the same text
    copy = tmp_path / "draft.toml"
    copy.write_text(draft)
    code, lines = validate(copy)
    assert code == 2 and lines[-1] == "2 errors"
    want = [line.replace(str(copy), str(editor.path)) for line in lines[:-1]]
    assert want[0].startswith(f"{editor.path}:10 [phases.salesforce.opportunity_stage].Prospecting: ")
    assert want[1] == f'{editor.path}:99 [rank].hot: expected an integer, got string "sixty"'
    shown = re.findall(r"<li><code>(.*?)</code></li>", response.text)
    assert [s.replace("&#34;", '"') for s in shown] == want
    assert "nothing was saved" in response.text
    assert form_of(response.text, "mapping-text")["text"] == draft  # the draft kept to fix it


def test_a_bad_form_value_is_named_next_to_its_field_and_nothing_is_written(editor: Editor) -> None:
    original = editor.path.read_bytes()
    client = editor.client()
    fields = form_of(client.get("/mapping").text)
    fields[HOT] = "a lot"
    response = client.post("/mapping/save", data=fields)
    assert response.status_code == 422 and editor.path.read_bytes() == original
    assert re.search(r'name="k:rank.hot" value="a lot".*?<small class="field-error">'
                     r'expected an integer, got string &#34;a lot&#34;</small>', response.text, re.S)
    assert f"{editor.path}:99 [rank].hot: expected an integer" in response.text


def test_check_returns_the_errors_as_json_for_the_script(editor: Editor) -> None:
    client = editor.client()
    page = client.get("/mapping").text
    fields = form_of(page)
    fields["phase:purchase"] = "low"
    fields[HOT] = "10"  # below warm (30): the thresholds must fall from hot to cold, warm is named
    response = client.post("/mapping/check", data={k: v for k, v in fields.items() if k != "csrf"},
                           headers={"X-CSRF-Token": csrf_of(page), "Accept": "application/json"})
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is False and body["stale"] is False
    assert [(e["line"], e["key"]) for e in body["errors"]] == [(100, "[rank].warm")]
    assert all(e["text"].startswith(f"{editor.path}:{e['line']} {e['key']}: ") for e in body["errors"])
    assert list(body["fields"]) == ["k:rank.warm"]
    assert tomllib.loads(body["text"])["recycle"]["low"][-1] == "purchase"  # the draft, as TOML
    assert version_of(editor.path.read_text()) == 1  # a check writes nothing
    fields[HOT] = "65"
    good = client.post("/mapping/check", data=fields, headers={"Accept": "application/json"}).json()
    assert good["ok"] is True and good["errors"] == [] and good["fields"] == {}
    # without the script: the page again, with the verdict
    page = client.post("/mapping/check", data=fields)
    assert page.status_code == 200 and "No errors." in page.text and 'value="65"' in page.text


def test_an_excluded_loss_reason_with_script_is_escaped_in_the_form(editor: Editor) -> None:
    reasons = [SCRIPT, '"><img src=x onerror=alert(1)>', "\x1b[31mred"]
    text = editor.path.read_text().replace('exclude_loss_reasons = ["Duplicate", "Spam", "Invalid Contact"]',
                                           f"exclude_loss_reasons = {json.dumps(reasons)}")
    editor.path.write_text(text)
    client = editor.client()
    page = client.get("/mapping").text
    assert SCRIPT not in page and "<img" not in page and "\x1b" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert r"\x1b[31mred" in page  # the control character made visible
    fields = form_of(page)
    assert fields[REASONS].split("\n") == [SCRIPT, '"><img src=x onerror=alert(1)>', r"\x1b[31mred"]
    # sent back unchanged, the reasons stay as they are (the escape is not written into the file)
    fields[HOT] = "61"
    assert client.post("/mapping/save", data=fields).status_code == 303
    assert tomllib.loads(editor.path.read_text())["recycle"]["exclude_loss_reasons"] == reasons
    assert editor.mapping.recycle.exclude_display == tuple(reasons)


# ---------------------------------------------------------------------------------------------- rights


def test_a_viewer_reads_the_mapping_but_cannot_check_save_or_roll_back(editor: Editor) -> None:
    original = editor.path.read_bytes()
    viewer = editor.client("reader", VIEWER_PASSWORD)
    page = viewer.get("/mapping")
    assert page.status_code == 200 and "Read-only" in page.text
    parser = _Form("mapping-form")
    parser.feed(page.text)
    assert HOT in parser.disabled and "/mapping/save" in page.text and ">Save<" not in page.text
    assert re.search(r'<textarea id="toml" name="text"[^>]*readonly', page.text)
    fields = form_of(page.text)
    token = fields["csrf"]
    assert viewer.post("/mapping/save", data={**fields, HOT: "1"}).status_code == 403
    assert viewer.post("/mapping/check", data={**fields, HOT: "1"}).status_code == 403
    found = editor.store.mapping_versions()[0]
    assert viewer.post("/mapping/rollback", data={"csrf": token, "version_id": found.id}).status_code == 403
    assert viewer.get("/mapping/versions").status_code == 200
    assert "Roll back" not in viewer.get("/mapping/versions").text
    assert editor.path.read_bytes() == original
    assert [v.action for v in editor.store.mapping_versions()] == ["found"]


def test_no_csrf_token_is_403_and_nothing_changes(editor: Editor) -> None:
    original = editor.path.read_bytes()
    client = editor.client()
    fields = form_of(client.get("/mapping").text)
    del fields["csrf"]
    found = editor.store.mapping_versions()[0]
    for forged in (None, "forged"):
        extra = {} if forged is None else {"csrf": forged}
        assert client.post("/mapping/save", data={**fields, HOT: "1", **extra}).status_code == 403
        assert client.post("/mapping/check", data={**fields, **extra},
                           headers={"Accept": "application/json"}).status_code == 403
        assert client.post("/mapping/rollback", data={"version_id": found.id, **extra}).status_code == 403
    assert editor.path.read_bytes() == original
    assert client.post("/mapping/save", data={**fields, HOT: "1"},
                       headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert editor.path.read_bytes() == original


def test_a_save_over_a_file_changed_since_is_refused_with_409(editor: Editor) -> None:
    client = editor.client()
    fields = form_of(client.get("/mapping").text)
    text_fields = form_of(client.get("/mapping").text, "mapping-text")
    # someone edits the file in a text editor meanwhile
    edited = editor.path.read_text().replace("warm = 30", "warm = 35")
    editor.path.write_text(edited)
    fields[HOT] = "70"
    response = client.post("/mapping/save", data=fields)
    assert response.status_code == 409 and "changed since this page was loaded" in response.text
    assert editor.path.read_text() == edited  # nothing written
    draft = text_fields["text"].replace("cold = 0", "cold = 5")
    response = client.post("/mapping/save", data={**text_fields, "text": draft})
    assert response.status_code == 409 and editor.path.read_text() == edited
    assert form_of(response.text, "mapping-text")["text"] == draft  # the admin's draft is not lost
    # the outside edit is in the history as "found"; no save
    assert [(v.version, v.action, v.saved_by) for v in editor.store.mapping_versions()] == [
        (1, "found", None), (1, "found", None)]
    # reloaded, the same change saves
    fields = form_of(client.get("/mapping").text)
    assert fields["k:rank.warm"] == "35"
    fields[HOT] = "70"
    assert client.post("/mapping/save", data=fields).status_code == 303
    assert tomllib.loads(editor.path.read_text())["rank"] == {"hot": 70, "warm": 35, "cold": 0}


def test_an_outside_edit_is_recorded_as_found_before_the_next_save(editor: Editor) -> None:
    client = editor.client()
    fields = form_of(client.get("/mapping").text)
    fields[HOT] = "70"
    assert client.post("/mapping/save", data=fields).status_code == 303
    by_hand = editor.path.read_text().replace("cap = 20", "cap = 25")
    editor.path.write_text(by_hand)
    fields = form_of(client.get("/mapping").text)  # the console sees the file again
    fields["k:rank.warm"] = "40"
    assert client.post("/mapping/save", data=fields).status_code == 303
    versions = editor.store.mapping_versions()
    assert [(v.version, v.action, v.saved_by) for v in versions] == [
        (3, "save", "ops"), (2, "found", None), (2, "save", "ops"), (1, "found", None)]
    found = editor.store.mapping_version(versions[1].id)
    assert found is not None and found.text == by_hand
    assert found.diff.count("\n-") == 1 and "-cap = 20\n+cap = 25\n" in found.diff
    assert tomllib.loads(editor.path.read_text())["score"]["behaviour"]["page_view"]["cap"] == 25


def test_a_file_broken_outside_the_console_shows_its_errors_and_is_fixed_as_text(editor: Editor) -> None:
    good = editor.path.read_text()
    editor.path.write_text(good.replace("[rank]", "[rank", 1))
    client = editor.client()
    page = client.get("/mapping")
    assert page.status_code == 200
    assert f"{editor.path}:98" in page.text  # the syntax error, with its line
    fields = form_of(page.text, "mapping-text")
    form = form_of(page.text)
    assert HOT not in form  # no form without TOML
    refused = client.post("/mapping/save", data={**form, HOT: "70"})  # the form cannot apply
    assert refused.status_code == 422 and "edit it as text" in refused.text
    assert fields["text"] == good.replace("[rank]", "[rank", 1)
    fixed = client.post("/mapping/save", data={**fields, "text": good})
    assert fixed.status_code == 303
    assert editor.path.read_text() == good.replace("version = 1 ", "version = 2 ")
    assert [(v.version, v.action) for v in editor.store.mapping_versions()] == [(2, "save"), (1, "found")]


def test_a_failed_write_leaves_the_file_and_the_history_alone(editor: Editor,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from sync.console import mapping_disk

    original = editor.path.read_bytes()
    client = editor.client()
    fields = form_of(client.get("/mapping").text)

    def refuse(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(mapping_disk.os, "replace", refuse)
    response = client.post("/mapping/save", data={**fields, HOT: "70"})
    assert response.status_code == 500 and "No space left on device" in response.text
    assert editor.path.read_bytes() == original
    assert not [p for p in editor.path.parent.iterdir() if p.name.endswith(".tmp")]  # none left behind
    assert [v.action for v in editor.store.mapping_versions()] == ["found"]
    assert editor.mapping.version == 1


def test_a_missing_file_is_said_and_nothing_is_recorded(editor: Editor) -> None:
    client = editor.client()
    fields = form_of(client.get("/mapping").text)
    editor.path.unlink()
    page = client.get("/mapping")
    assert page.status_code == 500 and f"{editor.path}: file not found" in page.text
    response = client.post("/mapping/save", data={**fields, HOT: "70"})
    assert response.status_code == 500 and "file not found" in response.text
    assert not editor.path.exists()
    assert client.get("/mapping/versions").status_code == 200
    assert [v.action for v in editor.store.mapping_versions()] == ["found"]


# ---------------------------------------------------------------------------------------------- history


def test_the_versions_list_and_a_version_diff_escaped(editor: Editor) -> None:
    client = editor.client()
    fields = form_of(client.get("/mapping").text)
    fields[REASONS] = f"Spam\n{SCRIPT}"
    assert client.post("/mapping/save", data=fields).status_code == 303
    listing = client.get("/mapping/versions")
    assert listing.status_code == 200
    rows = re.findall(r"<tr><td class=\"num\">(\d+)</td><td class=\"num\">(\d+)</td>\s*<td>([^<(]+)",
                      listing.text)
    assert [(v, a.strip()) for _, v, a in rows] == [("2", "saved"), ("1", "found on disk")]
    assert "ops" in listing.text and " UTC" in listing.text
    save_id = editor.store.mapping_versions()[0].id
    page = client.get(f"/mapping/versions/{save_id}")
    assert page.status_code == 200
    assert SCRIPT not in page.text
    diff = re.search(r'<pre class="diff" id="diff">(.*?)</pre>', page.text, re.S)
    assert diff
    escaped = "&lt;script&gt;alert(\\&#34;x\\&#34;)&lt;/script&gt;"
    assert f"+exclude_loss_reasons = [&#34;Spam&#34;, &#34;{escaped}&#34;]" in diff.group(1)
    assert "-version = 1 " in diff.group(1) and "\n" in diff.group(1)  # lines kept, not written as \n
    assert client.get("/mapping/versions/99999").status_code == 404
    assert client.get("/mapping/versions/x").status_code == 404
    ja = editor.client()
    ja.cookies.set("leadsync_lang", "ja")
    assert "バージョン履歴" in ja.get("/mapping/versions").text and "保存" in ja.get("/mapping/versions").text


def test_a_rollback_restores_the_old_text_with_a_new_version(editor: Editor) -> None:
    original = editor.path.read_text()
    client = editor.client()
    for hot in ("70", "80"):
        fields = form_of(client.get("/mapping").text)
        fields[HOT] = hot
        assert client.post("/mapping/save", data=fields).status_code == 303
    assert editor.mapping.version == 3
    found = editor.store.mapping_versions()[-1]
    page = client.get(f"/mapping/versions/{found.id}").text
    token, base = csrf_of(page), re.search(r'name="base" value="([0-9a-f]+)"', page)
    assert base
    response = client.post("/mapping/rollback", data={"csrf": token, "base": base.group(1),
                                                       "version_id": found.id})
    assert response.status_code == 303
    restored = editor.path.read_text()
    assert restored == original.replace("version = 1 ", "version = 4 ")
    assert editor.mapping.version == 4 and tomllib.loads(restored)["rank"]["hot"] == 60
    newest = editor.store.mapping_versions()[0]
    assert (newest.version, newest.action, newest.saved_by, newest.restored_from) == (4, "rollback", "ops",
                                                                                    found.id)
    audit = editor.store.audit_log()[0]
    assert audit.action == "mapping-rollback"
    assert audit.detail == f"version 3 → 4, 2 lines changed, restored version 1 (#{found.id})"
    listing = client.get(response.headers["location"]).text
    assert "Rolled back" in listing and f"restored <a href=\"/mapping/versions/{found.id}\">" in listing
    assert form_of(client.get("/mapping").text)[HOT] == "60"
    # a stale rollback (the file changed since the page) and an unknown version write nothing
    assert client.post("/mapping/rollback", data={"csrf": token, "base": base.group(1),
                                                  "version_id": found.id}).status_code == 409
    assert client.post("/mapping/rollback", data={"csrf": token, "version_id": 99999}).status_code == 404
    assert editor.path.read_text() == restored


def test_the_console_pages_use_the_saved_and_the_rolled_back_mapping(
        hostile: Site, tmp_path: Path) -> None:  # noqa: F811
    """f@example.com lost a deal for "Spam", an excluded reason: excluded. Saved without "Spam" in the
    excluded reasons, the person page shows them high (a purchase-phase loss 50 days ago); rolled back,
    excluded again."""
    editor = _editor(hostile, tmp_path)
    client = editor.client()

    def group() -> str:
        found = re.search(r'<dd id="group">([^<]*)</dd>', client.get("/person?email=f@example.com").text)
        assert found
        return found.group(1)

    assert group() == "excluded"
    fields = form_of(client.get("/mapping").text)
    fields[REASONS] = "Duplicate\nInvalid Contact"
    assert client.post("/mapping/save", data=fields).status_code == 303
    assert group() == "high"
    found = editor.store.mapping_versions()[-1]
    page = client.get("/mapping/versions").text
    back = client.post("/mapping/rollback", data={"csrf": csrf_of(page), "version_id": found.id})
    assert back.status_code == 303
    assert group() == "excluded"


# ---------------------------------------------------------------------------------------------- no file


def test_without_a_mapping_file_the_editor_is_read_only(site: Site) -> None:
    app = create_app(site.local.store, site.local.mapping)  # mapping_path None: the bundled default
    editor = Editor(site, DEFAULT, app)
    client = editor.client()
    page = client.get("/mapping")
    assert page.status_code == 200 and "No mapping file to edit" in page.text
    assert ">Save<" not in page.text
    fields = form_of(page.text)
    response = client.post("/mapping/save", data={**fields, "csrf": csrf_of(page.text), HOT: "1"})
    assert response.status_code == 409
    assert editor.store.mapping_versions() == []  # nothing recorded for a file that is not there


def test_the_console_command_passes_the_mapping_file_of_the_settings(site: Site, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    mapping = tmp_path / "custom.toml"
    mapping.write_bytes(DEFAULT.read_bytes())
    settings = site.world.settings_path
    assert "[sync]" not in settings.read_text()
    settings.write_text(settings.read_text() + '\n[sync]\nmapping_file = "custom.toml"\n')
    apps: list[Starlette] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **_: apps.append(app))
    result = CliRunner().invoke(cli, ["console", "--config", str(settings)])
    assert result.exit_code == 0, result.output
    assert apps and apps[0].state.console.editor.path == settings.parent / "custom.toml"


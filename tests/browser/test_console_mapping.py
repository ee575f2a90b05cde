"""The mapping editor in headless Chromium over the world of world.py: the admin types a rank
threshold in the form (editor.js checks the draft as they type, with `leadsync mappings validate`'s
errors), saves, sees the new version, and rolls back to the first; the file on disk follows. A viewer
sees the mapping but no control that changes it. A module of its own: it changes the mapping its
console serves (and puts it back)."""

from __future__ import annotations

import tomllib

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from .conftest import ADMIN, ADMIN_PASSWORD, VIEWER, VIEWER_PASSWORD, Site
from .pages import PHONE, WIDE, Console, Mapping, Preview, Versions

pytestmark = pytest.mark.browser


def _signed_in(browser: WebDriver, site: Site, user: str, password: str) -> Console:
    console = Console(browser, site.url).sign_in(user, password)
    assert console.path() == "/", console.text()
    return console


def test_edit_a_rank_threshold_save_and_roll_back(browser: WebDriver, site: Site) -> None:
    original = site.mapping_file.read_text()
    assert tomllib.loads(original)["rank"]["warm"] == 30  # the bundled mapping
    console = _signed_in(browser, site, ADMIN, ADMIN_PASSWORD).open("/mapping")
    editor = Mapping(console)
    assert editor.version() == "1" and editor.field("rank.warm").get_attribute("value") == "30"
    # checked as the admin types: a threshold that is no number is refused next to the field
    editor.type("rank.warm", "abc")
    assert editor.wait_checked("Errors").startswith("Errors")
    assert editor.field("rank.warm").get_attribute("aria-invalid") == "true"
    assert editor.field_error("rank.warm")
    editor.type("rank.warm", "25")
    assert editor.wait_checked("No errors.") == "No errors."
    assert editor.field("rank.warm").get_attribute("aria-invalid") is None
    # the impact preview of the draft, before saving: everyone scores 10 for the company size (500 >=
    # 100) plus their faded engagement; a (a click 5 days ago: 20 -> 19) and c (two opens 10 days ago:
    # 20 -> 19) score 29, warm from 25 on; d's opens are 90 days old (20 -> 10: 20), the rest 10.
    editor.preview()
    preview = Preview(console).wait()
    assert console.path().startswith("/mapping/preview/")
    assert preview.number("changed") == "2" and preview.number("tasks") == "0"
    assert preview.moves("rank") == [["cold", "warm", "2"]]
    assert preview.moves("stage") == [] and preview.moves("group") == []  # the groups go by phase
    assert sorted(preview.sample()) == ["a@example.com", "c@example.com"]
    assert site.mapping_file.read_text() == original  # nothing saved by a preview
    for width, height in (PHONE, WIDE):  # its tables scroll inside their wrappers, not the page
        console.viewport(width, height)
        scroll, inner = console.widths()
        assert inner == width and scroll <= inner, (width, scroll)
    # back in the editor, the same edit, saved
    console.open("/mapping")
    editor.type("rank.warm", "25")
    assert editor.wait_checked("No errors.") == "No errors."
    editor.save()
    assert console.path() == "/mapping?saved=1"
    assert editor.message().startswith("Saved as a new version")
    assert editor.version() == "2" and editor.field("rank.warm").get_attribute("value") == "25"
    saved = tomllib.loads(site.mapping_file.read_text())
    assert saved["rank"]["warm"] == 25 and saved["version"] == 2
    # the versions: the save on top of the file as it was found
    console.open("/mapping/versions")
    versions = Versions(console)
    rows = versions.rows()
    assert [r[1:4] for r in rows] == [["2", "saved", ADMIN], ["1", "found on disk", "–"]]
    versions.roll_back(rows[1][0])
    assert console.path() == "/mapping/versions?done=ed_rolled_back"
    assert versions.message().startswith("Rolled back")
    top = versions.rows()[0]
    assert top[1] == "3" and top[2] == f"rolled back (restored #{rows[1][0]})" and top[3] == ADMIN
    back = tomllib.loads(site.mapping_file.read_text())
    assert back["rank"]["warm"] == 30 and back["version"] == 3  # the first version, as a new one
    console.open("/mapping")
    assert editor.version() == "3" and editor.field("rank.warm").get_attribute("value") == "30"


def test_a_viewer_sees_the_mapping_but_cannot_change_it(browser: WebDriver, site: Site) -> None:
    console = _signed_in(browser, site, VIEWER, VIEWER_PASSWORD).open("/mapping")
    editor = Mapping(console)
    assert editor.field("rank.warm").get_attribute("disabled") == "true"
    assert editor.buttons() == []  # no check, save or preview
    console.open("/mapping/versions")
    assert Versions(console).rollback_buttons() == 0

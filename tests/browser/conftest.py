"""Fixtures of the browser tests: the hand-seeded sandbox world (world.py), synced once per module and
served by a real `create_app` console under uvicorn in a thread on a free port, with an admin and a
viewer; and headless Chromium driven by Selenium (chromedriver), one per test session (per xdist
worker), in a fresh temporary profile.

Without Chromium, its driver or Selenium the tests skip, unless LEADSYNC_REQUIRE_BROWSER=1 (CI sets it,
`.ci/run`): then they fail, so CI can never pass by skipping them."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import mappings
from sandbox.launcher import Sandbox
from sandbox.server import ServerThread
from sync.console import auth
from sync.console.app import create_app
from sync.views.local_state import LocalState, open_local_state
from tests.sync.views.worlds import SeededWorld

from . import world

try:
    from selenium import webdriver
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.chrome.service import Service
except ImportError:  # the dev extra installs it; without it the tests skip (or fail, see REQUIRE)
    webdriver = None  # type: ignore[assignment]

DEFAULT_MAPPING = Path(mappings.__file__).parent / "default.toml"
REQUIRE = "LEADSYNC_REQUIRE_BROWSER"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ADMIN, ADMIN_PASSWORD = "ops", "correct horse battery staple"
VIEWER, VIEWER_PASSWORD = "reader", "viewer password 1234"
# What a headless Chromium needs here: no sandbox (containers), no GPU, /tmp instead of a small
# /dev/shm, and none of the background connections (updates, sync, QUIC) a closed network refuses.
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--no-first-run", "--disable-quic")


if webdriver is None and os.environ.get(REQUIRE) != "1":
    collect_ignore_glob = ["test_*.py"]  # their modules import selenium: left out, not failed


def _missing() -> str | None:
    if webdriver is None:
        return "selenium is not installed (the dev extra)"
    for name, path in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER)):
        if not os.access(path, os.X_OK):
            return f"{name} not found (apt-get install chromium chromium-driver)"
    return None


@pytest.fixture(scope="session")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    missing = _missing()
    if missing:
        if os.environ.get(REQUIRE) == "1":
            pytest.fail(f"{REQUIRE}=1 and {missing}")
        pytest.skip(missing)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.add_argument("--window-size=1280,900")
    options.add_argument("--lang=en-US")
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    browser.set_page_load_timeout(30)
    yield browser
    browser.quit()


@dataclass
class Site:
    """A running console over the synced world."""
    world: SeededWorld
    local: LocalState
    url: str
    mapping_file: Path


def serve(box: Sandbox, folder: Path) -> Iterator[Site]:
    """The world built in `folder`, opened as `leadsync console` opens it, with its two users, served;
    the mapping editor edits a copy of the bundled mapping (the one the world was synced with)."""
    seeded = world.build(box, folder)
    mapping_file = folder / "mapping.toml"
    mapping_file.write_bytes(DEFAULT_MAPPING.read_bytes())
    try:
        with open_local_state(seeded.settings_path) as local:
            auth.set_password(local.store, ADMIN, "admin", ADMIN_PASSWORD, by=None)
            auth.set_password(local.store, VIEWER, "viewer", VIEWER_PASSWORD, by=None)
            app = create_app(local.store, local.mapping, mapping_path=mapping_file, start_run=_no_run)
            server = ServerThread(app, name="console").start()
            try:
                yield Site(seeded, local, server.url, mapping_file)
            finally:
                server.stop()
    finally:
        seeded.ctx.close()


def _no_run(job: object) -> None:
    """'Retry now' is offered (the console has a way to start runs) but the browser tests never press
    it: a run would use the emulators other tests reset (the handler tests start real runs)."""
    raise RuntimeError("the browser tests start no run")


@pytest.fixture(scope="module")
def site(_empty_sandbox_servers: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The synced world and its console, once for the module (the tests only read it, or put back
    what they change); the emulators are used only while it is built."""
    yield from serve(_empty_sandbox_servers, tmp_path_factory.mktemp("browser-world"))


@pytest.fixture
def browser(driver: webdriver.Chrome) -> Iterator[webdriver.Chrome]:
    """The session's browser, signed out, in English, at 1280 × 900, with no alert left open."""
    driver.delete_all_cookies()
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    yield driver
    with contextlib.suppress(NoAlertPresentException):  # no alert: the usual case
        driver.switch_to.alert.dismiss()
    driver.delete_all_cookies()

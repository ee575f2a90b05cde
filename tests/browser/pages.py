"""Page objects of the console for the browser tests: every selector lives here, so a changed
template is fixed in one place. Each page object wraps one Selenium driver on one running console."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from selenium.common.exceptions import NoAlertPresentException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

SHOTS = "LEADSYNC_SCREENSHOTS"  # a folder: the tests save each page there, <page>-<lang>.png
WIDE = (1280, 900)
PHONE = (390, 844)
TALLEST_SHOT = 1800  # px: a longer page is cut there (the PNGs stay small)


def follow(driver: WebDriver, element: WebElement) -> None:
    """Click `element` (a link or a submit button) and wait until the next page has loaded: a click
    returns as soon as the event is sent, not when the page it asked for is there. The old page is
    marked by a window property the new one doesn't have (WebDriver's script runs whatever the CSP);
    errors while the old document is torn down are waited out."""
    driver.execute_script("window.__leadsyncOldPage = true")
    element.click()
    WebDriverWait(driver, 15, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script("return !window.__leadsyncOldPage && document.readyState === 'complete'"))


class Console:
    """The console in one browser: navigation, language, the checks every page shares."""

    def __init__(self, driver: WebDriver, url: str) -> None:
        self.driver = driver
        self.url = url.rstrip("/")

    # ------------------------------------------------------------------ navigation

    def open(self, path: str) -> Console:
        self.driver.get(self.url + path)
        return self

    def path(self) -> str:
        return self.driver.execute_script("return location.pathname + location.search")

    def heading(self) -> str:
        return self.driver.find_element(By.CSS_SELECTOR, "main h1").text

    def nav_links(self) -> dict[str, str]:
        """href -> text of the header's navigation."""
        return {a.get_attribute("href").removeprefix(self.url): a.text
                for a in self.driver.find_elements(By.CSS_SELECTOR, "header nav a")}

    def sign_in(self, user: str, password: str) -> Console:
        self.open("/login")
        self.driver.find_element(By.CSS_SELECTOR, "input[name=user]").send_keys(user)
        self.driver.find_element(By.CSS_SELECTOR, "input[name=password]").send_keys(password)
        follow(self.driver, self.driver.find_element(By.CSS_SELECTOR, "form[action='/login'] button"))
        return self

    def refused(self) -> str | None:
        found = self.driver.find_elements(By.CSS_SELECTOR, "p.error[role=alert]")
        return found[0].text if found else None

    def sign_out(self) -> None:
        follow(self.driver, self.driver.find_element(By.CSS_SELECTOR, "form[action='/logout'] button"))

    def switch_language(self, code: str) -> Console:
        follow(self.driver, self.driver.find_element(By.CSS_SELECTOR,
                                                     f"form[action='/lang'] button[value='{code}']"))
        return self

    def lang(self) -> str:
        return self.driver.find_element(By.TAG_NAME, "html").get_attribute("lang")

    def text(self) -> str:
        return self.driver.find_element(By.TAG_NAME, "body").text

    # ------------------------------------------------------------------ checks of every page

    def alert_open(self) -> bool:
        try:
            self.driver.switch_to.alert  # noqa: B018  (raises when no alert is open)
        except NoAlertPresentException:
            return False
        return True

    def injected(self) -> list[str]:
        """Elements CRM text could have made: scripts, images (the pages have none of either)."""
        found = self.driver.find_elements(By.CSS_SELECTOR, "script, img")
        return [e.get_attribute("outerHTML") for e in found]

    def widths(self) -> tuple[int, int]:
        """(the document's scroll width, the window's inner width): the first above the second means
        the page scrolls sideways."""
        return tuple(self.driver.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth]"))

    def viewport(self, width: int, height: int) -> None:
        """The page's viewport exactly `width` × `height` CSS px (a window can't be narrower than
        Chromium's minimum; the emulated metrics can)."""
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def screenshot(self, name: str, width: int = WIDE[0]) -> Path | None:
        """The whole page (up to TALLEST_SHOT px) as `<folder>/<name>-<lang>.png`, when the
        LEADSYNC_SCREENSHOTS folder is set; the viewport is put back as it was."""
        folder = os.environ.get(SHOTS)
        if not folder:
            return None
        before = self.driver.execute_script("return [window.innerWidth, window.innerHeight]")
        self.viewport(width, WIDE[1])
        height = min(TALLEST_SHOT, max(WIDE[1], self.driver.execute_script(
            "return document.documentElement.scrollHeight")))
        self.viewport(width, height)
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
        self.viewport(*before)
        path = Path(folder) / f"{name}-{self.lang()}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


def rows(table: WebElement, selector: str = "tbody tr") -> list[list[str]]:
    """The cells' text of each row (th and td, in order)."""
    return [[c.text.strip() for c in tr.find_elements(By.CSS_SELECTOR, "th, td")]
            for tr in table.find_elements(By.CSS_SELECTOR, selector)]


class Overview:
    def __init__(self, console: Console) -> None:
        self.c = console
        self.d = console.driver

    def funnel(self) -> dict[str, str]:
        """stage -> the number shown on its bar."""
        return {e.get_attribute("data-stage"): e.text
                for e in self.d.find_elements(By.CSS_SELECTOR, "ol.funnel .value[data-stage]")}

    def funnel_labels(self) -> list[str]:
        return [e.text for e in self.d.find_elements(By.CSS_SELECTOR, "ol.funnel .label")]

    def group(self, group: str) -> list[str]:
        row = self.d.find_element(By.CSS_SELECTOR, f"#group-table tr[data-group='{group}']")
        return [c.text for c in row.find_elements(By.CSS_SELECTOR, "th, td")]

    def reasons(self) -> list[str]:
        return [e.text for e in self.d.find_elements(By.CSS_SELECTOR, "#reason-table tbody th")]

    def open_failures(self) -> str:
        return self.d.find_element(By.ID, "open-failures").text


class Losses:
    def __init__(self, console: Console) -> None:
        self.c = console
        self.d = console.driver

    def reasons(self) -> list[str]:
        return [e.text for e in self.d.find_elements(By.CSS_SELECTOR, "#heat-map thead th[scope=col]")]

    def cells(self, phase: str) -> list[str]:
        row = self.d.find_element(By.CSS_SELECTOR, f"#heat-map tr[data-phase='{phase}']")
        return [" ".join(c.text.split()) for c in row.find_elements(By.CSS_SELECTOR, "td")]

    def cell_link(self, phase: str, column: int) -> WebElement:
        """The link of the cell in row `phase`, column `column` (0-based among the reasons)."""
        row = self.d.find_element(By.CSS_SELECTOR, f"#heat-map tr[data-phase='{phase}']")
        return row.find_elements(By.CSS_SELECTOR, "td")[column].find_element(By.TAG_NAME, "a")

    def total(self) -> str:
        return self.d.find_element(By.ID, "heat-total").text


class People:
    def __init__(self, console: Console) -> None:
        self.c = console
        self.d = console.driver

    def search(self, query: str) -> People:
        box = self.d.find_element(By.CSS_SELECTOR, "form[action='/people'] input[name=q]")
        box.clear()
        box.send_keys(query)
        follow(self.d, self.d.find_element(By.CSS_SELECTOR, "form[action='/people'] button"))
        return self

    def emails(self) -> list[str]:
        return [a.text for a in self.d.find_elements(By.CSS_SELECTOR, "#people-table tbody a")]

    def open_person(self, email: str) -> None:
        link = next(a for a in self.d.find_elements(By.CSS_SELECTOR, "#people-table tbody a")
                    if a.text == email)
        follow(self.d, link)


class Person:
    def __init__(self, console: Console) -> None:
        self.c = console
        self.d = console.driver

    def field(self, name: str) -> str:
        """stage, rank or group of the decision."""
        return self.d.find_element(By.ID, name).text

    def explanation(self) -> str:
        return self.d.find_element(By.ID, "explanation").text

    def contact_names(self) -> list[str]:
        table = self.d.find_element(By.CSS_SELECTOR, "section[aria-labelledby=sf] table")
        return [r[1] for r in rows(table)]

    def deals(self) -> list[list[str]]:
        return rows(self.d.find_element(By.ID, "deal-table"))



class LossCell:
    """/losses/cell: the deals behind one heat-map cell."""

    def __init__(self, console: Console) -> None:
        self.c = console
        self.d = console.driver

    def field(self, name: str) -> str:
        """phase, reason or count."""
        return self.d.find_element(By.ID, f"cell-{name}").text

    def deals(self) -> list[str]:
        """The opportunity ids listed."""
        found = self.d.find_elements(By.CSS_SELECTOR, "#cell-deals tbody tr")
        return [tr.get_attribute("data-deal") for tr in found]

    def open_person(self, email: str) -> None:
        href = "/person?email=" + email.replace("@", "%40")
        link = self.d.find_element(By.CSS_SELECTOR, f"#cell-deals a[href='{href}']")
        follow(self.d, link)


class Mapping:
    """/mapping: the form of what admins change most (fields named by key path, `k:rank.warm`) and
    the TOML text; editor.js checks the draft as the admin types."""

    FORM = "#mapping-form"

    def __init__(self, console: Console) -> None:
        self.c = console
        self.d = console.driver

    def version(self) -> str:
        return self.d.find_element(By.ID, "mapping-version").text

    def field(self, key: str) -> WebElement:
        return self.d.find_element(By.CSS_SELECTOR, f"{self.FORM} [name='k:{key}']")

    def type(self, key: str, value: str) -> None:
        """Replace the field's value keystroke by keystroke, as an admin would."""
        field = self.field(key)
        field.clear()
        field.send_keys(value)

    def checked(self, timeout: float = 10) -> str:
        """The live check's verdict under the form, once editor.js has shown one ('' before)."""
        area = self.d.find_element(By.CSS_SELECTOR, f"{self.FORM} [data-errors]")
        WebDriverWait(self.d, timeout).until(lambda _: area.text.strip())
        return area.text

    def wait_checked(self, wanted: str, timeout: float = 10) -> str:
        area = self.d.find_element(By.CSS_SELECTOR, f"{self.FORM} [data-errors]")
        WebDriverWait(self.d, timeout).until(lambda _: area.text.startswith(wanted))
        return area.text

    def field_error(self, key: str) -> str:
        cell = self.field(key).find_element(By.XPATH, "./ancestor::td[1]")
        return cell.find_element(By.CSS_SELECTOR, ".field-error").text

    def save(self) -> None:
        follow(self.d, self.d.find_element(By.CSS_SELECTOR, f"{self.FORM} button.primary"))

    def preview(self) -> None:
        button = f"{self.FORM} button[formaction='/mapping/preview']"
        follow(self.d, self.d.find_element(By.CSS_SELECTOR, button))

    def message(self) -> str:
        return self.d.find_element(By.ID, "editor-message").text

    def buttons(self) -> list[str]:
        return [b.text for b in self.d.find_elements(By.CSS_SELECTOR, f"{self.FORM} button")]


class Versions:
    """/mapping/versions: every saved version, newest first, each (but the newest) with a roll-back button."""

    def __init__(self, console: Console) -> None:
        self.c = console
        self.d = console.driver

    def rows(self) -> list[list[str]]:
        """[#, version, action, by] of each row."""
        return [r[:4] for r in rows(self.d.find_element(By.ID, "versions-table"))]

    def roll_back(self, version_id: str) -> None:
        form = f"form[action='/mapping/rollback']:has(input[name=version_id][value='{version_id}'])"
        button = self.d.find_element(By.CSS_SELECTOR, f"{form} button")
        follow(self.d, button)

    def rollback_buttons(self) -> int:
        return len(self.d.find_elements(By.CSS_SELECTOR, "form[action='/mapping/rollback'] button"))

    def message(self) -> str:
        return self.d.find_element(By.ID, "versions-message").text


class Preview:
    """/mapping/preview/{job}: a progress bar that reloads itself (no script), then the counts."""

    def __init__(self, console: Console) -> None:
        self.c = console
        self.d = console.driver

    def wait(self, timeout: float = 60) -> Preview:
        """Until the results are there (the running page refreshes itself every second)."""
        done = "#preview-summary, main p.error"
        WebDriverWait(self.d, timeout, ignored_exceptions=(WebDriverException,)).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, done))
        return self

    def number(self, name: str) -> str:
        """changed or tasks."""
        return self.d.find_element(By.ID, f"preview-{name}").text

    def moves(self, dimension: str) -> list[list[str]]:
        """[from, to, people] of the stage, rank or group table ([] when it says none)."""
        found = self.d.find_elements(By.ID, f"preview-{dimension}")
        return rows(found[0]) if found else []

    def sample(self) -> list[str]:
        links = self.d.find_elements(By.CSS_SELECTOR, "#preview-sample tbody td:first-child a")
        return [a.text for a in links]


class Runs:
    """/runs (the history), /runs/{id} (one run) and /failures (the open ones)."""

    def __init__(self, console: Console) -> None:
        self.c = console
        self.d = console.driver

    def history(self) -> list[list[str]]:
        """[run, kind, status] of each row, newest first."""
        return [r[:3] for r in rows(self.d.find_element(By.ID, "runs-table"))]

    def open_run(self, run_id: str) -> None:
        follow(self.d, self.d.find_element(By.CSS_SELECTOR, f"#runs-table tr[data-run='{run_id}'] a"))

    def status(self) -> str:
        return self.d.find_element(By.ID, "run-status").text

    def retry_button(self) -> bool:
        return bool(self.d.find_elements(By.CSS_SELECTOR, "#retry-form button"))

    def failures(self) -> list[tuple[str, str]]:
        """(code, message) of each failure listed."""
        table = "table.failure-table tbody tr"
        return [(tr.find_element(By.CSS_SELECTOR, "td.code").text,
                 tr.find_element(By.CSS_SELECTOR, "td.message").text)
                for tr in self.d.find_elements(By.CSS_SELECTOR, table)]

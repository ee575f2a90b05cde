"""The mapping editor: the mapping as a form and as TOML text, checked as `leadsync mappings validate`
checks it, saved with its version bumped, every version kept, and any of them restored.

    GET  /mapping                 the form and the text (read-only for viewers, or with no file)
    POST /mapping/check           a draft's errors (JSON when asked for, else the page again)   admin
    POST /mapping/save            validate, bump `version`, write the file atomically, record   admin
    GET  /mapping/versions        every version: number, who, when, action
    GET  /mapping/versions/{id}   one version and its diff
    POST /mapping/rollback        write an earlier version back as a new version                admin

A draft comes from the form (`mode=form`: the fields applied to the file with tomlkit) or the text
(`mode=text`). Errors are the loader's own `Issue`s (`mappings.load_mapping_text`, the code path of
`leadsync mappings validate`), naming the file, line and key. Every form carries `base`, the digest of
the file it was built from: a save or rollback over a file changed since is refused (409), nothing
written. Before a write, a file the history does not hold (no row yet, or edited in a text editor) is
recorded as "found", so the history is complete. Saves and rollbacks hold one lock (one writer).
"""

from __future__ import annotations

import difflib
import re
import threading
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from mappings import DEFAULT_MAPPING_RESOURCE, Mapping, MappingError, load_mapping_text
from mappings.errors import Issue, display_path
from mappings.locate import locate_keys
from sync.console import mapping_disk, mapping_form
from sync.console.mapping_form import TextBlock
from sync.inputs import DEFAULT_MAPPING_LABEL, InputProblem
from sync.state.console_users import ConsoleUser
from sync.state.mapping_versions import MappingVersion
from sync.state.store import StateStore


class Console(Protocol):
    """What the editor uses of `sync.console.app.Console` (which builds the editor)."""

    store: StateStore
    mapping: Mapping

    def user(self, request: Request) -> ConsoleUser | None: ...
    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> Response: ...
    def forbidden(self, request: Request) -> Response: ...


@dataclass
class Draft:
    """A checked draft: its text, the errors found (none: valid) and, valid, the compiled mapping."""

    text: str
    errors: list[Issue]
    mapping: Mapping | None = None
    stale: bool = False  # the file changed since the form was built


@dataclass
class Outcome:
    """What a save or rollback did: `status` 200 (done), 404 (no such version), 409 (stale, no file),
    422 (invalid), 500 (the file could not be written)."""

    status: int
    message: str  # i18n key
    draft: Draft | None = None
    detail: str = ""
    saved: MappingVersion | None = None


_VERSION_LINE = re.compile(r"^version\s*=\s*(\d+)\s*(?:#.*)?$", re.M)


def version_of(text: str) -> int:
    """The file's `version`: the TOML value, else (a file broken elsewhere) its `version = N` line;
    0 when it has none."""
    try:
        value = tomllib.loads(text).get("version")
    except tomllib.TOMLDecodeError:
        line = _VERSION_LINE.search(text)
        return int(line.group(1)) if line else 0
    return value if type(value) is int else 0


def unified_diff(old: str, new: str, old_version: int, new_version: int) -> str:
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        f"version {old_version}", f"version {new_version}"))


def changed_lines(old: str, new: str) -> int:
    """Lines changed, added or removed (a line edited in place counts once)."""
    ops = difflib.SequenceMatcher(None, old.splitlines(), new.splitlines(), autojunk=False).get_opcodes()
    return sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in ops if tag != "equal")


def normalized(text: str) -> str:
    """A textarea's text as files hold it: browsers send CRLF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


class MappingEditor:
    """The editor's routes over one console and its mapping file (None: nothing to edit)."""

    def __init__(self, console: Console, path: Path | None) -> None:
        self.console = console
        self.path = path
        self._lock = threading.RLock()  # one writer; note_found is also called holding it

    # ------------------------------------------------------------------ file, history, checks

    @property
    def label(self) -> str:
        """The file name errors carry (as `leadsync mappings validate FILE` prints it)."""
        return str(self.path) if self.path is not None else DEFAULT_MAPPING_LABEL

    def current(self) -> str:
        """The mapping file's text (the bundled default when there is no file). Raises InputProblem."""
        if self.path is None:
            return resources.files("mappings").joinpath(DEFAULT_MAPPING_RESOURCE).read_text(encoding="utf-8")
        return mapping_disk.read(self.path)

    def note_found(self, text: str) -> None:
        """Record the file as "found" when the history does not end with this very text."""
        if self.path is None:
            return
        store = self.console.store
        with self._lock:
            latest = store.latest_mapping_version()
            if latest is not None and latest.text == text:
                return
            before = latest.text or "" if latest else ""
            diff = unified_diff(before, text, latest.version, version_of(text)) if latest else ""
            store.record_mapping_version(version_of(text), text, diff, action="found", saved_by=None)

    def check(self, text: str) -> Draft:
        """The draft's errors, exactly as `leadsync mappings validate` finds them."""
        try:
            return Draft(text, [], load_mapping_text(text, self.label))
        except MappingError as exc:
            return Draft(text, list(exc.errors))

    def draft(self, form: dict[str, str], base_text: str) -> Draft:
        """The draft a form sends: its fields applied to `base_text`, or its text."""
        if form.get("mode") == "form":
            try:
                text = mapping_form.apply(base_text, form)
            except mapping_form.FormError as exc:
                return Draft(base_text, [Issue(self.label, 1, "", str(exc))])
        else:
            text = normalized(form.get("text", ""))
        return self.check(text)

    def check_form(self, form: dict[str, str]) -> Draft:
        base_text = self.current()
        draft = self.draft(form, base_text)
        draft.stale = form.get("base", "") != mapping_disk.digest(base_text)
        return draft

    # ------------------------------------------------------------------ writes

    def _write(self, user: str, text: str, before: str, *, action: str,
               restored: MappingVersion | None = None) -> Outcome:
        """Bump the version, check, write, record, use. Called holding the lock."""
        assert self.path is not None
        store = self.console.store
        old_version = version_of(before)
        new_version = max(old_version, store.highest_mapping_version()) + 1
        try:
            text = mapping_form.with_version(text, new_version)
        except Exception as exc:  # noqa: BLE001  tomlkit refusing what tomllib took: say so, write nothing
            return Outcome(422, "ed_invalid", Draft(text, [Issue(self.label, 1, "version", str(exc))]))
        final = self.check(text)
        if final.errors or final.mapping is None:
            return Outcome(422, "ed_invalid", final)
        try:
            mapping_disk.write_atomic(self.path, text)
        except OSError as exc:  # a read-only folder, a full disk: nothing recorded, the old file stays
            issue = Issue(self.label, 1, "", f"cannot write the file: {exc.strerror or exc}")
            return Outcome(500, "ed_write_failed", Draft(text, [issue]))
        saved = store.record_mapping_version(new_version, text, unified_diff(before, text, old_version,
                                                                             new_version),
                                             action=action, saved_by=user,
                                             restored_from=restored.id if restored else None)
        self.console.mapping = final.mapping  # every page from now on
        lines = changed_lines(before, text)
        detail = f"version {old_version} → {new_version}, {lines} line{'s' if lines != 1 else ''} changed"
        if restored is not None:
            detail += f", restored version {restored.version} (#{restored.id})"
        store.audit(user, f"mapping-{action}", detail)
        return Outcome(200, "ed_saved" if action == "save" else "ed_rolled_back", final, detail, saved)

    def save(self, user: str, form: dict[str, str]) -> Outcome:
        if self.path is None:
            return Outcome(409, "ed_no_file")
        with self._lock:
            try:
                before = self.current()
            except InputProblem as exc:  # the page says why (it reads the file again)
                return Outcome(500, "ed_write_failed", detail=str(exc))
            self.note_found(before)
            if form.get("base", "") != mapping_disk.digest(before):
                kept = self.draft(form, before) if form.get("mode") == "text" else None  # not lost
                return Outcome(409, "ed_stale", kept)
            draft = self.draft(form, before)
            if draft.errors:
                return Outcome(422, "ed_invalid", draft)
            return self._write(user, draft.text, before, action="save")

    def rollback(self, user: str, version_id: int, base: str | None) -> Outcome:
        if self.path is None:
            return Outcome(409, "ed_no_file")
        with self._lock:
            try:
                before = self.current()
            except InputProblem as exc:
                return Outcome(500, "ed_write_failed", detail=str(exc))
            self.note_found(before)
            if base is not None and base != mapping_disk.digest(before):
                return Outcome(409, "ed_stale")
            old = self.console.store.mapping_version(version_id)
            if old is None or old.text is None:
                return Outcome(404, "ed_no_version")
            return self._write(user, old.text, before, action="rollback", restored=old)

    # ------------------------------------------------------------------ pages

    def _context(self, text: str, draft: Draft | None = None) -> dict[str, Any]:
        """What mapping.html shows: the form of the draft (else the file), the text, the errors."""
        if draft is None:
            draft = self.check(text)  # a file broken outside the console shows its errors
        data: dict[str, Any] = {}
        lines = None
        for source in (draft.text, text):  # the draft's form; the file's when the draft is no TOML
            try:
                data, lines = tomllib.loads(source), locate_keys(source)
                break
            except tomllib.TOMLDecodeError:
                continue
        sections = mapping_form.sections(data)
        errors = draft.errors
        by_field: dict[str, list[str]] = {}
        if errors:
            keys = {display_path(f.path, lines): f.name for s in sections for r in s.rows for f in r.fields
                    if not f.name.startswith(mapping_form.PHASE_FIELD)}
            for issue in errors:
                if issue.key in keys:
                    by_field.setdefault(keys[issue.key], []).append(issue.message)
        return {"sections": sections, "text": TextBlock(draft.text), "base": mapping_disk.digest(text),
                "version": version_of(text), "errors": errors, "field_errors": by_field,
                "file": self.label, "has_file": self.path is not None}

    def _page(self, request: Request, status: int = 200, *, draft: Draft | None = None, message: str = "",
              mode: str = "", detail: str = "") -> Response:
        try:
            text = self.current()
        except InputProblem as exc:
            return self.console.render(request, "mapping.html", status=500, unreadable=str(exc),
                                       editable=False, file=self.label, sections=[], errors=[])
        self.note_found(text)
        me = self.console.user(request)
        editable = self.path is not None and me is not None and me.role == "admin"
        return self.console.render(request, "mapping.html", status=status, editable=editable,
                                   message=message, mode=mode, detail=detail, **self._context(text, draft))

    def _base(self) -> str:
        """The digest of the file now ("" with no file or an unreadable one)."""
        try:
            return mapping_disk.digest(self.current()) if self.path is not None else ""
        except InputProblem:
            return ""

    def _admin(self, request: Request) -> str | None:
        me = self.console.user(request)
        return me.name if me is not None and me.role == "admin" else None

    async def _form(self, request: Request) -> dict[str, str]:
        form = await request.form()  # the CSRF token was checked by the guard
        return {k: v for k, v in form.items() if isinstance(v, str)}

    async def page(self, request: Request) -> Response:
        saved = request.query_params.get("saved") == "1"
        return await run_in_threadpool(self._page, request, message="ed_saved" if saved else "")

    async def check_route(self, request: Request) -> Response:
        if self._admin(request) is None:
            return self.console.forbidden(request)
        form = await self._form(request)
        try:
            draft = await run_in_threadpool(self.check_form, form)
        except InputProblem as exc:
            return JSONResponse({"ok": False, "errors": [], "message": str(exc)}, status_code=500)
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse(await run_in_threadpool(self._json, draft))
        message = "ed_stale" if draft.stale else "ed_valid" if not draft.errors else "ed_invalid"
        return await run_in_threadpool(self._page, request, 200, draft=draft, message=message,
                                       mode=form.get("mode", ""))

    def _json(self, draft: Draft) -> dict[str, Any]:
        context = self._context(self.current(), draft)
        return {"ok": not draft.errors, "stale": draft.stale, "text": draft.text,
                "errors": [{"file": e.file, "line": e.line, "key": e.key, "message": e.message,
                            "text": str(e)} for e in draft.errors],
                "fields": context["field_errors"]}

    async def save_route(self, request: Request) -> Response:
        user = self._admin(request)
        if user is None:
            return self.console.forbidden(request)
        form = await self._form(request)
        outcome = await run_in_threadpool(self.save, user, form)
        if outcome.status == 200:
            return RedirectResponse("/mapping?saved=1", status_code=303)
        return await run_in_threadpool(self._page, request, outcome.status, draft=outcome.draft,
                                       message=outcome.message, mode=form.get("mode", ""))

    async def versions(self, request: Request) -> Response:
        def rows() -> tuple[list[MappingVersion], str]:
            base = ""
            if self.path is not None:
                try:
                    text = self.current()
                except InputProblem:
                    return self.console.store.mapping_versions(), base  # no roll-back over an unreadable file
                self.note_found(text)
                base = mapping_disk.digest(text)
            return self.console.store.mapping_versions(), base
        listed, base = await run_in_threadpool(rows)
        me = self.console.user(request)
        return self.console.render(request, "mapping_versions.html", versions=listed, base=base,
                                   editable=self.path is not None and me is not None and me.role == "admin",
                                   message=request.query_params.get("done", ""))

    async def version(self, request: Request) -> Response:
        try:
            version_id = int(request.path_params["id"])
        except ValueError:
            version_id = -1
        one = await run_in_threadpool(self.console.store.mapping_version, version_id)
        if one is None:
            return self.console.render(request, "mapping_version.html", status=404, v=None)
        me = self.console.user(request)
        base = await run_in_threadpool(self._base)
        return self.console.render(request, "mapping_version.html", v=one, diff=TextBlock(one.diff or ""),
                                   text=TextBlock(one.text or ""), base=base,
                                   editable=self.path is not None and me is not None and me.role == "admin")

    async def rollback_route(self, request: Request) -> Response:
        user = self._admin(request)
        if user is None:
            return self.console.forbidden(request)
        form = await self._form(request)
        try:
            version_id = int(form.get("version_id", ""))
        except ValueError:
            version_id = -1
        outcome = await run_in_threadpool(self.rollback, user, version_id, form.get("base"))
        if outcome.status == 200:
            return RedirectResponse("/mapping/versions?done=ed_rolled_back", status_code=303)
        if outcome.status in (422, 500):
            return await run_in_threadpool(self._page, request, outcome.status, draft=outcome.draft,
                                           message=outcome.message)
        listed = await run_in_threadpool(self.console.store.mapping_versions)
        return self.console.render(request, "mapping_versions.html", status=outcome.status, versions=listed,
                                   base="", editable=False, message=outcome.message)

    def routes(self) -> list[tuple[str, Any, list[str]]]:
        """(path, handler, methods) for `create_app` to guard and mount."""
        return [("/mapping", self.page, ["GET"]),
                ("/mapping/check", self.check_route, ["POST"]),
                ("/mapping/save", self.save_route, ["POST"]),
                ("/mapping/versions", self.versions, ["GET"]),
                ("/mapping/versions/{id}", self.version, ["GET"]),
                ("/mapping/rollback", self.rollback_route, ["POST"])]

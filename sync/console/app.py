"""The console's web application (Starlette): routes, sign-in, roles and CSRF checks.

Every page but the sign-in page needs a signed-in user (else a redirect to /login). A POST is
checked for its CSRF token before anything else (403 without it), then for the role (viewer: 403 on
admin actions). Templates are Jinja2 with autoescape on, and every value passes through
`mappings.printable.visible` first, so CRM text can neither break the HTML nor hide control characters.
The pages' queries run in Starlette's thread pool (the store is thread-safe), so a slow page does not
hold up the others.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from collections.abc import Mapping as MappingABC
from dataclasses import replace
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from connectors.base import BatchSizes
from mappings import Mapping
from mappings.printable import visible
from sync.console import auth, i18n, losses, pages, people, preview, runs_pages
from sync.console.editor import MappingEditor
from sync.console.jobs import Job, JobBoard
from sync.console.report_cache import ReportCache, computing_page
from sync.state.console_users import ROLES, ConsoleUser
from sync.state.store import StateStore
from sync.views.loss_drill import stored_pairs
from sync.views.loss_trend import loss_trend

SESSION_COOKIE = "leadsync_session"
HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'self'; style-src 'self'; script-src 'self'; "
                               "frame-ancestors 'none'; form-action 'self'",
    "Referrer-Policy": "no-referrer",
}
SESSION_MAX_AGE = 8 * 3600
Handler = Callable[[Request], Awaitable[Response]]


def _finalize(value: Any) -> Any:
    return visible(value) if type(value) is str else value


def _templates() -> Jinja2Templates:
    env = Environment(loader=PackageLoader("sync.console", "templates"), autoescape=True,
                      finalize=_finalize)
    return Jinja2Templates(env=env)


class Console:
    """The routes over one store and mapping (those of `open_local_state`)."""

    def __init__(self, store: StateStore, mapping: Mapping,
                 sign_in_token: auth.SignInToken | None = None) -> None:
        self.store = store
        self.mapping = mapping
        self.sign_in_token = sign_in_token  # `leadsync console --token`: single use, a hash in memory
        self.templates = _templates()
        self.jobs = JobBoard()  # previews and runs started from a page
        self.reports = ReportCache(store, lambda m: pages.overview(store, m))  # overview + loss analysis
        self.trends = ReportCache(store, lambda m: loss_trend(store, m))  # the loss analysis's trend
        self.loss_pairs = ReportCache(store, lambda _m: stored_pairs(store))  # a heat-map cell's deals

    # ------------------------------------------------------------------ helpers

    def user(self, request: Request) -> ConsoleUser | None:
        if request.session.get(auth.SESSION_TOKEN):
            return ConsoleUser(auth.TOKEN_USER, "admin", "")
        name = request.session.get(auth.SESSION_USER)
        return self.store.console_user(name) if name else None

    def lang(self, request: Request) -> i18n.Lang:
        return i18n.choose(request.cookies.get(i18n.COOKIE), request.headers.get("accept-language"))

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        lang = self.lang(request)
        ctx = {"t": lang.t, "lang": lang, "csrf": auth.csrf_token(request.session),
               "me": self.user(request), "path": request.url.path, **context}
        response = self.templates.TemplateResponse(request, name, ctx, status_code=status)
        response.headers["Content-Language"] = lang.code
        return response

    def forbidden(self, request: Request) -> Response:
        return self.render(request, "forbidden.html", status=403)

    async def checked_form(self, request: Request) -> dict[str, str] | None:
        """The POSTed form when its CSRF token is this session's; None otherwise."""
        form = await request.form()
        sent = form.get("csrf") or request.headers.get("x-csrf-token")
        if not auth.csrf_ok(request.session, sent if isinstance(sent, str) else None):
            return None
        return {k: v for k, v in form.items() if isinstance(v, str)}

    # ------------------------------------------------------------------ routes

    async def login(self, request: Request) -> Response:
        if request.method == "GET":
            if "token" in request.query_params:
                return self.token_login(request, request.query_params["token"])
            return self.render(request, "login.html")
        form = await self.checked_form(request)
        if form is None:
            return self.forbidden(request)
        # argon2id takes 64 MiB and a noticeable moment: off the event loop
        user = await run_in_threadpool(auth.verify, self.store, form.get("user", ""),
                                       form.get("password", ""))
        if user is None:
            return self.render(request, "login.html", status=401, refused=True)
        request.session.clear()  # a new session (and CSRF token) for the signed-in user
        request.session[auth.SESSION_USER] = user.name
        auth.csrf_token(request.session)
        return RedirectResponse("/", status_code=303)

    def token_login(self, request: Request, sent: str) -> Response:
        """`/login?token=...`: the printed sign-in token, once, gives an admin session."""
        if self.sign_in_token is None or not self.sign_in_token.redeem(sent):
            self.store.audit(None, "sign-in-token-refused")
            return self.render(request, "login.html", status=401, token_refused=True)
        request.session.clear()
        request.session[auth.SESSION_TOKEN] = True
        auth.csrf_token(request.session)
        self.store.audit(auth.TOKEN_USER, "sign-in-token")
        return RedirectResponse("/", status_code=303)  # the token leaves the address bar at once

    async def logout(self, request: Request) -> Response:
        if await self.checked_form(request) is None:
            return self.forbidden(request)
        me = self.user(request)
        name = me.name if me else None
        request.session.clear()
        if name:
            self.store.audit(name, "sign-out")
        return RedirectResponse("/login", status_code=303)

    async def set_language(self, request: Request) -> Response:
        form = await self.checked_form(request)
        if form is None:
            return self.forbidden(request)
        code = form.get("lang", "en")
        back = form.get("next", "/")
        local = back.startswith("/") and not back.startswith(("//", "/\\"))  # no redirect off the console
        response = RedirectResponse(back if local else "/", status_code=303)
        if code in i18n.LANGS:
            response.set_cookie(i18n.COOKIE, code, max_age=365 * 86400, httponly=True, samesite="strict")
        return response

    async def index(self, request: Request) -> Response:
        cache = await run_in_threadpool(self.reports.get, self.mapping)  # computed once per run
        if cache.computed is None:
            return computing_page(self, request, "overview", cache)
        runs = await run_in_threadpool(self.store.list_runs, pages.RUNS_SHOWN)  # the last runs: live
        view = replace(cache.computed.value, runs=runs)
        return self.render(request, "overview.html", o=view, r=view.report, api_calls=pages.api_calls,
                           cache=cache)

    async def people(self, request: Request) -> Response:
        query = request.query_params.get("q", "")
        found = await run_in_threadpool(people.search, self.store, query,
                                        request.query_params.get("after") or None)
        return self.render(request, "people.html", found=found, q=query)

    async def person(self, request: Request) -> Response:
        email = request.query_params.get("email", "")
        view = await run_in_threadpool(people.person, self.store, self.mapping, email)
        status = 200 if view.explanation or view.history else 404
        return self.render(request, "person.html", status=status, email=email, x=view.explanation,
                           h=view.history)

    async def users(self, request: Request) -> Response:
        me = self.user(request)
        if me is None or me.role != "admin":
            return self.forbidden(request)
        message = None
        if request.method == "POST":
            form = await self.checked_form(request)
            if form is None:
                return self.forbidden(request)
            role = form.get("role", "viewer")
            name = form.get("user", "").strip()
            if role not in ROLES or not name:
                return self.forbidden(request)
            try:
                auth.set_password(self.store, name, role, form.get("password", ""), by=me.name)
                message = "saved"
            except auth.PasswordTooShort:
                message = "too_short"
        return self.render(request, "users.html", users=pages.user_rows(self.store), message=message,
                           roles=ROLES)


def _guard(console: Console, handler: Handler) -> Handler:
    """Signed in, else to /login; a POST's CSRF token is checked before the handler reads anything."""
    async def guarded(request: Request) -> Response:
        if console.user(request) is None:
            if request.method != "GET":
                return console.forbidden(request)
            return RedirectResponse("/login", status_code=303)
        if request.method == "POST":
            form = await request.form()
            sent = form.get("csrf") or request.headers.get("x-csrf-token")
            if not auth.csrf_ok(request.session, sent if isinstance(sent, str) else None):
                return console.forbidden(request)
        return await handler(request)
    return guarded


def create_app(store: StateStore, mapping: Mapping, *, session_key: str | None = None,
               https_only: bool = False, mapping_path: Path | None = None,
               sign_in_token: auth.SignInToken | None = None,
               write_sizes: MappingABC[str, BatchSizes] | None = None,
               start_run: Callable[[Job], Any] | None = None) -> Starlette:
    console = Console(store, mapping, sign_in_token)
    console.editor = MappingEditor(console, mapping_path)  # None: nothing to edit (read-only)
    static = Path(__file__).parent / "static"
    routes = [
        Route("/login", console.login, methods=["GET", "POST"]),
        Route("/logout", _guard(console, console.logout), methods=["POST"]),
        Route("/lang", console.set_language, methods=["POST"]),
        Route("/", _guard(console, console.index)),
        *losses.routes(console, lambda handler: _guard(console, handler)),  # /losses, /losses/cell
        Route("/people", _guard(console, console.people)),
        Route("/person", _guard(console, console.person)),
        Route("/users", _guard(console, console.users), methods=["GET", "POST"]),
        *(Route(p, _guard(console, h), methods=m) for p, h, m in console.editor.routes()),
        *preview.routes(console, _guard, write_sizes),
        *runs_pages.routes(console, start_run, lambda handler: _guard(console, handler)),
        Mount("/static", StaticFiles(directory=static), name="static"),
    ]
    middleware = [Middleware(SessionMiddleware, secret_key=session_key or auth.new_session_key(),
                             session_cookie=SESSION_COOKIE, max_age=SESSION_MAX_AGE, same_site="strict",
                             https_only=https_only)]
    app = Starlette(routes=routes, middleware=[*middleware, Middleware(SecurityHeaders)])
    app.state.console = console
    return app


class SecurityHeaders(BaseHTTPMiddleware):
    """No framing, no sniffing, nothing from elsewhere: the console ships its own CSS and script files
    (no inline script or style)."""

    async def dispatch(self, request: Request, call_next: Handler) -> Response:
        response = await call_next(request)
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response

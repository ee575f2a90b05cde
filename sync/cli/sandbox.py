"""`leadsync sandbox`: run the Salesforce and HubSpot emulators in the foreground with demo data."""

from __future__ import annotations

import errno
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from sandbox.faults import KINDS, FaultInjector, FaultSpecError
from sync.cli import extras
from sync.exit_codes import EXIT_BAD_CONFIG
from sync.inputs import InputProblem, parse_instant

if TYPE_CHECKING:
    from sandbox.launcher import Sandbox

DEFAULT_PORT_SALESFORCE = 8443
DEFAULT_PORT_HUBSPOT = 8081
PROGRESS_FROM = 20_000  # show a progress bar when loading at least this many people

FAULT_HELP = (
    "Fault injection: --faults 'ENDPOINT_GLOB:KIND=PROBABILITY[xCOUNT][@ARG][,...][;RULE...]'\n"
    f"  kinds: {', '.join(KINDS)}  (429: HubSpot only, ARG = Retry-After seconds or 'none';\n"
    "  concurrent: Salesforce only, 403 REQUEST_LIMIT_EXCEEDED; slow ARG = seconds;\n"
    "  record ARG = per-record error code, e.g. UNABLE_TO_LOCK_ROW)\n"
    "  endpoints: salesforce.{login,token,query,query_more,limits,describe,sobject,collections,bulk}\n"
    "             hubspot.{search,batch_read,batch_update,batch_upsert,batch_create,batch_archive,contacts,\n"
    "             properties,lists,memberships}   (globs work: 'hubspot.batch_*', '*')\n"
    "  examples: --faults 'hubspot.*:429=0.1,500=0.05'\n"
    "            --faults 'hubspot.batch_update:429=1x3@2;salesforce.*:record=0.05@UNABLE_TO_LOCK_ROW'"
)

FAULT_EPILOG = escape(  # Typer renders help with rich markup: keep the brackets literal
    "Faults: --faults 'ENDPOINT_GLOB:KIND=PROBABILITY[xCOUNT][@ARG][,...][;RULE...]' with KIND one of "
    f"{', '.join(KINDS)}. The endpoint names and examples are printed when the sandbox starts "
    "(and in docs/sandbox.md)."
)


def register(app: typer.Typer) -> None:
    """Add the `sandbox` command to the leadsync CLI."""
    app.command("sandbox", help="Run the local Salesforce and HubSpot emulators (127.0.0.1 only) with demo "
                "data in the foreground until Ctrl-C, and print how to point settings.toml at them.",
                epilog=FAULT_EPILOG)(sandbox)


def sandbox(
    people: Annotated[int, typer.Option(min=0, help="People in the demo book (0: empty systems).")] = 200,
    seed: Annotated[int, typer.Option(help="Seed for the demo data and the fault draws.")] = 1,
    faults: Annotated[str | None, typer.Option(help="Fault injection, e.g. 'hubspot.*:429=0.1,500=0.05' "
                                               "(syntax at the end of this help).")] = None,
    port_salesforce: Annotated[int, typer.Option(min=0, max=65535, help="Salesforce (TLS) port; 0: free.")]
    = DEFAULT_PORT_SALESFORCE,
    port_hubspot: Annotated[int, typer.Option(min=0, max=65535, help="HubSpot port; 0: a free port.")]
    = DEFAULT_PORT_HUBSPOT,
    workdir: Annotated[Path | None, typer.Option(file_okay=False, help="Folder for the CA and state "
                                                 "(default: a temporary folder, removed on exit).")] = None,
    write_settings: Annotated[Path | None, typer.Option(dir_okay=False, help="Write a settings.toml "
                                                        "pointing at the sandbox here (mode 0600).")] = None,
    now: Annotated[str | None, typer.Option(help="Start the Salesforce emulator's clock at this ISO-8601 "
                                            "date or date-time, UTC without a zone (it runs on from "
                                            "there; the demo data is dated from it). Move it later "
                                            "with POST /_sandbox/clock.")] = None,
) -> None:
    console = Console(soft_wrap=True, highlight=False)
    err = Console(stderr=True, soft_wrap=True, highlight=False)
    try:
        FaultInjector.parse(faults or "", seed=seed)
    except FaultSpecError as exc:
        err.print(f"error: --faults: {exc}", markup=False)
        raise typer.Exit(EXIT_BAD_CONFIG) from None
    try:
        start_at = parse_instant(now, "--now") if now is not None else None
    except InputProblem as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(EXIT_BAD_CONFIG) from None

    temporary = workdir is None
    folder = Path(tempfile.mkdtemp(prefix="leadsync-sandbox-")) if workdir is None else workdir.resolve()
    try:
        Sandbox = extras.sandbox_launcher().Sandbox  # the emulators load only when the command runs

        box = _start(console, err, people, partial(
            Sandbox.start, people=people, seed=seed, faults=faults, port_salesforce=port_salesforce,
            port_hubspot=port_hubspot, workdir=folder, now=start_at, sf_clock=start_at is not None))
        try:
            state_url = f"sqlite:///{(folder / 'leadsync-state.db').as_posix()}"
            if write_settings is not None:
                box.write_settings(write_settings, state_url)
            with _stop_signals() as stop:  # installed before "ready" is printed: no signal is missed
                _describe(console, box, state_url, write_settings, temporary)
                while not stop.wait(0.5):
                    pass
            console.print("Stopping the sandbox...")
        finally:
            box.stop()
    finally:
        if temporary:
            shutil.rmtree(folder, ignore_errors=True)
    console.print("Sandbox stopped.")


def _start(console: Console, err: Console, people: int, start: Callable[..., Sandbox]) -> Sandbox:
    """Call `start(progress=...)` behind a spinner, or a progress bar for big books."""
    try:
        if people < PROGRESS_FROM:
            with console.status(f"Generating and loading demo data ({people:,} people)..."):
                return start(progress=None)
        columns = (TextColumn("Loading demo data"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task("load", total=people)
            return start(progress=lambda n: bar.advance(task, n))
    except OSError as exc:
        hint = (" (is the port in use? choose another with --port-salesforce/--port-hubspot, or 0 for a "
                "free one)" if exc.errno == errno.EADDRINUSE else "")
        err.print(f"error: cannot start the sandbox: {exc.strerror or exc}{hint}", markup=False)
        raise typer.Exit(EXIT_BAD_CONFIG) from None


def _describe(console: Console, box: Sandbox, state_url: str, settings_path: Path | None,
              temporary: bool) -> None:
    creds = box.salesforce.credentials
    out = console.print
    out("[bold]leadsync sandbox[/bold] running (127.0.0.1 only; Ctrl-C to stop)")
    out(f"  Salesforce  {box.salesforce_url}   (TLS; CA file: {box.ca_file})", markup=False)
    out(f"  HubSpot     {box.hubspot_url}", markup=False)
    note = "  (temporary: removed on exit)" if temporary else ""
    out(f"  Work folder {box.workdir}{note}", markup=False)
    if box.book is not None:
        s = box.loaded
        out(f"  Demo data   {box.book.people:,} people, seed {box.book.seed}: {s.accounts:,} accounts, "
            f"{s.contacts:,} Salesforce contacts, {s.opportunities:,} opportunities, "
            f"{s.hubspot_contacts:,} HubSpot contacts", markup=False)
    out("")
    out("[bold]Credentials[/bold]")
    out(f"  Salesforce username {creds.username}", markup=False)
    out(f"  Salesforce connected app (auth = \"jwt\", the settings below / \"client_credentials\"): "
        f"consumer key {creds.consumer_key}  consumer secret {creds.consumer_secret}  private key file "
        f"{box.jwt_key_file}", markup=False)
    out(f"  Salesforce password {creds.password}  security token {creds.security_token}  "
        f"(auth = \"password\": SOAP login, which Salesforce is retiring)", markup=False)
    out(f"  HubSpot access token {box.hubspot_token}", markup=False)
    out("")
    if settings_path is not None:
        out(f"[bold]Settings[/bold] written to {settings_path} (mode 0600): "
            f"leadsync --config {settings_path} ...", markup=False)
    else:
        out("[bold]Settings[/bold]: put this in settings.toml (or pass --write-settings PATH):")
        out(box.settings_toml(state_url), markup=False)
    out("")
    out(FAULT_HELP, markup=False)
    out("")
    out("Sandbox ready.")
    console.file.flush()


@contextmanager
def _stop_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM while inside (the previous handlers are restored after)."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)

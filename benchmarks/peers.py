"""leadsync's reads against the peers: the Singer taps `meltano-tap-hubspot` and `tap-salesforce`, side by
side on one sandbox book, each read timed and its API calls counted per 1,000 records.

    python benchmarks/peers.py                    # 20,000 people
    python benchmarks/peers.py --people 100000 --json

Each tap is installed from the package index into its own virtualenv under `.bench-venvs/` (git-ignored,
reused; `--venvs DIR` elsewhere) and runs as a child process through `benchmarks/peer_shim.py`, which
points its hard-wired vendor host at the sandbox (see there). leadsync's reads run as child processes of
this script too (`--leadsync-read hubspot|salesforce`, the connectors a run builds from settings.toml).
The emulators serve from this process; their call logs and query engine are counted server-side.

- HubSpot: the tap's full `contacts` read (no start date, no state: it pages the list endpoint and asks
  for every contact property) against leadsync's first full read (`iter_contacts(None, ...)`: one
  search, the list endpoint, a catch-up search) of the properties a run reads. The HubSpot limiter is
  the sandbox's, 190 requests per 10 s and 5 searches per second, reset before each read; leadsync
  paces itself at 190 per 10 s, the tap at nothing (it backs off on 429s).
- Salesforce: the tap's full read of the four objects leadsync reads (Opportunity, OpportunityHistory,
  OpportunityContactRole, Contact; REST `queryAll`, start date 2000-01-01) against leadsync's first-run
  pull (the deals stream with its contact roles and history, and the managed-contacts stream).
  Records = rows the emulator rendered for that reader, child rows of a parent-child subquery included.

"API s" is the server-side span from a reader's first API call to its last (the read without process
start-up); the HubSpot target compares records per API second. Wall times share a 2-core machine with
the emulators: compare CPU seconds and calls, not small wall differences. Discovery (the taps'
`--discover`) is run before and not counted. `--also-search` adds leadsync's HubSpot read by search
alone (the first read before issue 12).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    ROOT,
    emit,
    instrument,
    leadsync,
    machine_facts,
    merge_sections,
    phase,
    print_machine,
    print_table,
    progress,
    run_child,
    write_settings,
)

from connectors.base import CallCounter  # noqa: E402
from connectors.factory import build_connectors  # noqa: E402
from connectors.hubspot.read import iter_search  # noqa: E402
from sandbox.launcher import Sandbox  # noqa: E402
from sync.inputs import load_mapping_file  # noqa: E402
from sync.run.context import retry_policy  # noqa: E402
from sync.settings import load_settings  # noqa: E402

HERE = Path(__file__).resolve().parent
TAPS = {"hubspot": ("meltano-tap-hubspot", "0.10.1", "tap-hubspot"),
        "salesforce": ("tap-salesforce", "2.8.1", "tap-salesforce")}
SALESFORCE_STREAMS = {"Opportunity", "OpportunityHistory", "Contact", "OpportunityContactRole"}
START_DATE = "2000-01-01T00:00:00Z"


# --------------------------------------------------------------------------- installing and running taps


def install(venvs: Path, system: str) -> Path:
    """The tap's virtualenv python, `pip install package==version` into `venvs/<package>-<version>/`
    when missing (a stamp file marks a complete install). Raises with pip's own output on failure."""
    package, version, _ = TAPS[system]
    venv = venvs / f"{package}-{version}"
    python, stamp = venv / "bin" / "python", venv / ".installed"
    if stamp.exists() and python.exists():
        return python
    progress(f"installing {package}=={version} into {venv}")
    for args in ([sys.executable, "-m", "venv", "--clear", str(venv)],
                 [str(python), "-m", "pip", "install", "--quiet", f"{package}=={version}"]):
        done = subprocess.run(args, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:4])}... exited {done.returncode}: {done.stderr[-3000:]}")
    stamp.touch()
    return python


def select(catalog: dict[str, Any], streams: set[str]) -> dict[str, Any]:
    """The catalog with exactly `streams` selected (singer metadata `selected` at breadcrumb [])."""
    found = set()
    for stream in catalog["streams"]:
        chosen = stream["tap_stream_id"] in streams
        found |= {stream["tap_stream_id"]} & streams
        top = [m for m in stream.setdefault("metadata", []) if m.get("breadcrumb") == []]
        if not top:
            top = [{"breadcrumb": [], "metadata": {}}]
            stream["metadata"].append(top[0])
        top[0]["metadata"]["selected"] = chosen
    if streams - found:
        raise RuntimeError(f"discovery found no stream {sorted(streams - found)}")
    return catalog


def run_tap(python: Path, system: str, host: str, config: Mapping[str, Any], streams: set[str],
            folder: Path, env: Mapping[str, str], tally: Any) -> dict[str, Any]:
    """Discover (not counted), select `streams`, clear the server tally, sync (timed, counted)."""
    folder.mkdir(parents=True, exist_ok=True)
    config_file = folder / "config.json"
    config_file.write_text(json.dumps(config))
    head = [str(python), str(HERE / "peer_shim.py"), system, host, "--config", str(config_file)]
    found = run_child([*head, "--discover"], cwd=folder, env=env, timeout=900)
    if found.returncode != 0:
        raise RuntimeError(f"{TAPS[system][0]} --discover exited {found.returncode}: {found.stderr[-3000:]}")
    catalog_file = folder / "catalog.json"
    catalog_file.write_text(json.dumps(select(json.loads(found.stdout), streams)))
    flag = "--properties" if system == "salesforce" else "--catalog"  # older singer-io taps: --properties
    tally.clear()
    sync = run_child([*head, flag, str(catalog_file)], cwd=folder, env=env, timeout=3600)
    (folder / "sync.log").write_text(sync.stderr)
    if sync.returncode != 0:
        raise RuntimeError(f"{TAPS[system][0]} sync exited {sync.returncode}: {sync.stderr[-3000:]}")
    records: Counter[str] = Counter()
    for line in sync.stdout.splitlines():
        if line.startswith('{"type":"RECORD"') or line.startswith('{"type": "RECORD"'):
            records[json.loads(line)["stream"]] += 1
    return {"wall_seconds": sync.wall_seconds, "cpu_seconds": sync.cpu_seconds,
            "emulator_cpu_seconds": sync.emulator_cpu_seconds, "peak_rss_mib": sync.peak_rss_mib,
            "records_by_stream": dict(records), "records": sum(records.values())}


# --------------------------------------------------------------------------- leadsync's reads (child)


def leadsync_read(system: str, config: Path) -> dict[str, Any]:
    """In the child: build the connectors a run builds from `config` and do that system's first-run
    reads (the properties and fields of the configured mapping, as `sync.run.runner` asks for them).
    `hubspot-search`: the same HubSpot read by search alone (the first read before issue 12)."""
    settings = load_settings(config)
    mapping = load_mapping_file(settings.sync.mapping_file)
    counter = CallCounter()
    sales, marketing = build_connectors(settings.salesforce, settings.hubspot, counter=counter,
                                        policy=retry_policy(settings))
    records = 0
    if system.startswith("hubspot"):  # as Runner.hubspot_properties
        written = {fm.field for fm in mapping.fields_for("hubspot")}
        props = sorted(set(mapping.hubspot_properties()) | written | {mapping.hubspot_optout_property})
        if system == "hubspot-search":
            records = sum(1 for _ in iter_search(marketing.transport, None, None, props))  # type: ignore[attr-defined]
        else:
            records = sum(1 for _ in marketing.iter_contacts(None, props))
    else:  # the deals stream and the managed-contacts stream of a first run (sync.run.streams)
        sales.connect()
        fields = sorted({fm.field for fm in mapping.fields_for("salesforce", "Contact")})
        watch = sorted({fm.field for fm in mapping.fields_for("salesforce", "Contact")
                        if fm.policy != "overwrite"})
        records = sum(1 for _ in sales.iter_deals(None, None, contact_fields=watch))  # as the run asks
        if watch:
            records += sum(1 for _ in sales.iter_managed_contacts(fields, watch, None))
    calls = counter.by_system().get(system.split("-")[0], {})
    return {"system": system, "yielded": records, "client_calls": calls}


def run_leadsync(system: str, config: Path, tally: Any) -> dict[str, Any]:
    tally.clear()
    child = run_child([sys.executable, str(HERE / "peers.py"), "--leadsync-read", system,
                       "--config", str(config)], cwd=config.parent, timeout=3600)
    if child.returncode != 0:
        raise RuntimeError(f"leadsync {system} read exited {child.returncode}: {child.stderr[-3000:]}")
    got = child.json()
    return {"wall_seconds": child.wall_seconds, "cpu_seconds": child.cpu_seconds,
            "emulator_cpu_seconds": child.emulator_cpu_seconds, "peak_rss_mib": child.peak_rss_mib,
            "yielded": got["yielded"], "client_calls": got["client_calls"]}


# --------------------------------------------------------------------------- the benchmark


class RowTally:
    """Rows the Salesforce emulator rendered (query answers), by object, child-subquery rows included."""

    def __init__(self, engine: Any) -> None:
        self.rows: Counter[str] = Counter()
        self._lock = threading.Lock()
        render = engine.render

        def counted(compiled: Any, rec: Any, version: str, **kwargs: Any) -> Any:
            out = render(compiled, rec, version, **kwargs)
            with self._lock:
                self.rows[compiled.obj.name] += 1
                for value in out.values():
                    if isinstance(value, dict) and isinstance(value.get("records"), list):
                        for child in value["records"]:
                            self.rows[(child.get("attributes") or {}).get("type", "?")] += 1
            return out

        engine.render = counted

    def take(self) -> dict[str, int]:
        with self._lock:
            out = dict(self.rows)
            self.rows.clear()
        return out


def api_span(tally: Any, prefix: str) -> float | None:
    """Seconds from the first to the last API call of `prefix` the emulator received (server side:
    the read itself, without the reader's process start-up)."""
    spans = [tally.first_last(name) for name in tally.snapshot()["calls"] if name.startswith(prefix)]
    spans = [s for s in spans if s is not None]
    return round(max(s[1] for s in spans) - min(s[0] for s in spans), 2) if spans else None


def finish(row: dict[str, Any], tally: Any, prefix: str, records: int) -> dict[str, Any]:
    snap = tally.snapshot()
    mine = {k: v for k, v in snap["calls"].items() if k.startswith(prefix)}
    if prefix == "salesforce.":  # first pages and further pages of each object's queries
        row["soql_by_object"] = snap["soql_by_object"]
        row["soql_more_by_object"] = snap["soql_more_by_object"]
    total = sum(mine.values())
    wall, span = row["wall_seconds"], api_span(tally, prefix)
    row.update({"calls": mine, "calls_total": total, "records": records, "api_seconds": span,
                "calls_per_1000_records": round(1000 * total / records, 3) if records else None,
                "records_per_second": round(records / wall, 1) if wall else None,
                "records_per_api_second": round(records / span, 1) if span else None})
    row["wall_seconds"] = round(row["wall_seconds"], 2)
    row["cpu_seconds"] = round(row["cpu_seconds"], 2)
    row["emulator_cpu_seconds"] = round(row["emulator_cpu_seconds"], 2)
    return row


def bench(people: int, seed: int, venvs: Path, workdir: Path, only: set[str],
          also_search: bool = False) -> dict[str, Any]:
    timings: dict[str, float] = {}
    facts = machine_facts()
    pythons: dict[str, Path | str] = {}
    for system in sorted(only):
        try:
            pythons[system] = install(venvs, system)
        except (RuntimeError, OSError) as exc:
            pythons[system] = f"install failed: {exc}"
    with phase(f"seed {people:,} people into both emulators", timings):
        box = Sandbox.start(people=people, seed=seed, workdir=workdir)
    limiter = box.hubspot.limiter
    result: dict[str, Any] = {"benchmark": "peers", "machine": facts, "people": people, "seed": seed,
                              "hubspot_limits": {"requests_per_10s": limiter.requests_per_10s,
                                                 "searches_per_second": limiter.searches_per_second},
                              "seconds": timings, "hubspot": {}, "salesforce": {}}
    try:
        tally = instrument(box.salesforce, box.hubspot)
        rows = RowTally(box.salesforce.engine)
        state_url = f"sqlite:///{workdir}/state.db"
        config = write_settings(workdir / "settings.toml", merge_sections(box.settings_dict(state_url), {}))
        setup = leadsync("setup", "--json", config=config)  # the properties and lists a run uses
        if setup.returncode != 0:
            raise RuntimeError(f"leadsync setup failed ({setup.returncode}): {setup.stdout}{setup.stderr}")
        env = {"REQUESTS_CA_BUNDLE": str(box.ca_file), "SSL_CERT_FILE": str(box.ca_file)}
        hs_props = len(box.hubspot.store.schema.all())
        result["hubspot"]["contacts_in_book"] = len(box.hubspot.store.active_ids)
        result["hubspot"]["contact_properties_in_portal"] = hs_props
        if "hubspot" in only:
            result["hubspot"]["leadsync"] = _hubspot_leadsync(box, config, tally, timings)
            if also_search:
                result["hubspot"]["leadsync by search"] = _hubspot_leadsync(box, config, tally, timings,
                                                                            "hubspot-search")
            result["hubspot"]["tap"] = _tap(box, pythons["hubspot"], "hubspot", box.hubspot_url,
                                            {"access_token": box.hubspot_token}, {"contacts"}, workdir, env,
                                            tally, timings, rows)
        if "salesforce" in only:
            with phase("leadsync salesforce read", timings):
                rows.take()
                got = run_leadsync("salesforce", config, tally)
                read = rows.take()
                got["records_by_object"] = read
                result["salesforce"]["leadsync"] = finish(got, tally, "salesforce.", sum(read.values()))
            creds = box.salesforce.credentials
            sf_config = {"client_id": creds.consumer_key, "client_secret": creds.consumer_secret,
                         "refresh_token": creds.refresh_token, "api_type": "REST",
                         "start_date": START_DATE, "select_fields_by_default": True}
            result["salesforce"]["tap"] = _tap(box, pythons["salesforce"], "salesforce",
                                               box.salesforce_url, sf_config, SALESFORCE_STREAMS, workdir,
                                               env, tally, timings, rows)
    finally:
        box.stop()
    result["targets"] = targets(result)
    return result


def _hubspot_leadsync(box: Sandbox, config: Path, tally: Any, timings: dict[str, float],
                      how: str = "hubspot") -> dict[str, Any]:
    box.hubspot.limiter.reset()
    with phase(f"leadsync {how} first full read", timings):
        got = run_leadsync(how, config, tally)
    snap = tally.snapshot()
    got["refused_429"] = snap["refused_429"]
    return finish(got, tally, "hubspot.", got["yielded"])


def _tap(box: Sandbox, python: Path | str, system: str, host: str, config: Mapping[str, Any],
         streams: set[str], workdir: Path, env: Mapping[str, str], tally: Any, timings: dict[str, float],
         rows: RowTally) -> dict[str, Any]:
    package, version, _ = TAPS[system]
    if isinstance(python, str):
        return {"error": python, "package": f"{package}=={version}"}
    box.hubspot.limiter.reset()
    try:
        with phase(f"{package} {version} sync", timings):
            got = run_tap(python, system, host, config, streams, workdir / package, env, tally)
    except (RuntimeError, OSError, subprocess.SubprocessError, ValueError) as exc:
        return {"error": str(exc)[-2000:], "package": f"{package}=={version}"}
    snap = tally.snapshot()
    got["package"] = f"{package}=={version}"
    got["refused_429"] = snap["refused_429"]
    read = rows.take()
    if system == "salesforce":
        got["records_by_object"] = read
    return finish(got, tally, f"{system}.", got["records"])


def targets(result: Mapping[str, Any]) -> dict[str, Any]:
    """Issue 12 target 5: leadsync's HubSpot full read at least as fast as the tap's; its Salesforce
    calls per 1,000 rows at most the tap's."""
    out: dict[str, Any] = {}
    hs, sf = result.get("hubspot", {}), result.get("salesforce", {})
    mine, theirs = hs.get("leadsync", {}), hs.get("tap", {})
    for key, name in (("records_per_api_second", "hubspot_read_at_least_as_fast"),
                      ("records_per_second", "hubspot_process_at_least_as_fast")):
        if mine.get(key) and theirs.get(key):
            out[name] = mine[key] >= theirs[key]
    mine, theirs = sf.get("leadsync", {}), sf.get("tap", {})
    if mine.get("calls_per_1000_records") is not None and theirs.get("calls_per_1000_records") is not None:
        out["salesforce_calls_at_most_the_tap"] = (mine["calls_per_1000_records"]
                                                   <= theirs["calls_per_1000_records"])
    return out


def render(result: Mapping[str, Any]) -> None:
    print_machine(result["machine"])
    rows = []
    for system in ("hubspot", "salesforce"):
        for who in ("leadsync", "leadsync by search", "tap"):
            r = result[system].get(who)
            if not r:
                continue
            name = r.get("package", who)
            if "error" in r:
                rows.append((system, name, None, None, None, None, None, None, r["error"][:100]))
                continue
            rows.append((system, name, r["records"], r["api_seconds"], r["wall_seconds"], r["cpu_seconds"],
                         r["records_per_api_second"], r["calls_total"], r["calls_per_1000_records"]))
    print_table(f"peers: {result['people']:,} people (HubSpot {result['hubspot_limits']['requests_per_10s']} "
                f"req/10 s, {result['hubspot_limits']['searches_per_second']:g} searches/s)",
                ("system", "reader", "records", "API s", "process s", "CPU s", "records/API s", "calls",
                 "calls/1,000"), rows)
    for name, ok in result.get("targets", {}).items():
        print(f"target {name}: {'yes' if ok else 'NO'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20_000, help="demo book size (default 20,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", choices=("hubspot", "salesforce"), default=None)
    parser.add_argument("--venvs", type=Path, default=ROOT / ".bench-venvs",
                        help="where the taps' virtualenvs are kept (default .bench-venvs/)")
    parser.add_argument("--workdir", type=Path, default=None, help="keep files here (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    parser.add_argument("--also-search", action="store_true",
                        help="also leadsync's HubSpot full read by search alone (the read before issue 12)")
    parser.add_argument("--leadsync-read", choices=("hubspot", "hubspot-search", "salesforce"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.leadsync_read:
        print(json.dumps(leadsync_read(args.leadsync_read, args.config)))
        return 0
    only = {args.only} if args.only else {"hubspot", "salesforce"}
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        result = bench(args.people, args.seed, args.venvs, args.workdir, only, args.also_search)
    else:
        with tempfile.TemporaryDirectory(prefix="leadsync-peers-") as tmp:
            result = bench(args.people, args.seed, args.venvs, Path(tmp), only, args.also_search)
    emit(result, args.json, render)
    return 0


if __name__ == "__main__":
    sys.exit(main())

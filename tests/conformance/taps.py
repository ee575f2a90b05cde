"""Install a Singer tap into its own virtualenv (cached under `.conformance/` in the repo root) and run
it: discovery, stream selection, sync, RECORD counts. Test-side helpers for test_singer_taps.py."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE = REPO_ROOT / ".conformance"


def install(package: str, version: str, executable: str) -> Path:
    """The tap's executable in `.conformance/<package>-<version>/`, made with this test run's python
    (`python -m venv`) and `pip install package==version` from the configured index when missing."""
    venv = CACHE / f"{package}-{version}"
    exe, stamp = venv / "bin" / executable, venv / ".installed"
    if stamp.exists() and exe.exists():
        return exe
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                    f"{package}=={version}"], check=True)
    stamp.touch()  # only a complete install is reused
    return exe


def trust(exe: Path, ca_bundle: Path) -> None:
    """Make the tap's virtualenv trust `ca_bundle` through its certifi bundle: the original bundle plus
    ours, rewritten from a kept copy of the original on every call (so it never grows). Needed for taps
    that call `requests.Session.send` directly (singer-sdk): only `Session.request` merges the
    environment's REQUESTS_CA_BUNDLE, `send` verifies against certifi's bundle (requests' "Prepared
    Requests" docs; Meltano SDK issue gitlab.com/meltano/sdk/-/issues/347). Proxies still come from the
    environment (`send` rebuilds them), so HTTPS_PROXY works for it."""
    found = sorted(exe.parents[1].glob("lib/python*/site-packages/certifi/cacert.pem"))
    assert len(found) == 1, f"no certifi bundle in {exe.parents[1]}"
    bundle = found[0]
    original = bundle.with_name("cacert.pem.original")
    if not original.exists():
        original.write_bytes(bundle.read_bytes())
    bundle.write_bytes(original.read_bytes().rstrip(b"\n") + b"\n" + ca_bundle.read_bytes())


def _run(args: list[str], env: dict[str, str], timeout: float, log: Path) -> str:
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout)
    log.write_text(done.stderr)  # the tap's log, kept in the test's tmp folder
    if done.returncode != 0:
        step = " ".join([Path(args[0]).name, *args[3:]])
        raise AssertionError(f"{step} exited {done.returncode}:\n{done.stderr[-4000:]}")
    return done.stdout


def select(catalog: dict[str, Any], streams: set[str]) -> dict[str, Any]:
    """The catalog with exactly `streams` selected (singer metadata `selected` at breadcrumb [])."""
    found = set()
    for stream in catalog["streams"]:
        chosen = stream["tap_stream_id"] in streams
        found.update({stream["tap_stream_id"]} & streams)
        top = [m for m in stream.setdefault("metadata", []) if m.get("breadcrumb") == []]
        if not top:
            top = [{"breadcrumb": [], "metadata": {}}]
            stream["metadata"].append(top[0])
        top[0]["metadata"]["selected"] = chosen
    missing = streams - found
    assert not missing, f"discovery found no stream {sorted(missing)}"
    return catalog


def extract(exe: Path, config: dict[str, Any], streams: set[str], folder: Path, env: dict[str, str],
            *, catalog_flag: str = "--catalog", timeout: float = 240) -> Counter[str]:
    """Discover, select `streams`, sync; RECORD messages per stream. `catalog_flag`: how the tap takes
    the catalog (older singer-io taps such as tap-salesforce read `--properties`)."""
    folder.mkdir(parents=True, exist_ok=True)
    config_file = folder / "config.json"
    config_file.write_text(json.dumps(config))
    catalog = json.loads(_run([str(exe), "--config", str(config_file), "--discover"], env, timeout,
                              folder / "discover.log"))
    catalog_file = folder / "catalog.json"
    catalog_file.write_text(json.dumps(select(catalog, streams)))
    out = _run([str(exe), "--config", str(config_file), catalog_flag, str(catalog_file)], env, timeout,
               folder / "sync.log")
    counts: Counter[str] = Counter()
    for line in out.splitlines():
        if line.startswith("{"):
            message = json.loads(line)
            if message.get("type") == "RECORD":
                counts[message["stream"]] += 1
    return counts

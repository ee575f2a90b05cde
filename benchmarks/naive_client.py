"""The naive way, for comparison: one record per API call with the plain client libraries.

Run as a child process by bench_quota.py (so that the client does not share the emulators' process):

    python benchmarks/naive_client.py hubspot SETTINGS IDS_FILE --property leadsync_rank --value warm
    python benchmarks/naive_client.py salesforce SETTINGS IDS_FILE --field Lead_Rank__c --value warm

HubSpot: `client.crm.contacts.basic_api.update` (PATCH /crm/v3/objects/contacts/{id}) per contact,
with the client's own urllib3 retry honouring Retry-After on 429 (what HubSpot's docs suggest).
Salesforce: simple-salesforce `sf.Contact.update(id, {...})` per contact, and for comparison the same
records through sObject Collections (200 a call). Prints one JSON object: calls, seconds, and the
completion time of every call (for steady-state rates).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def hubspot_naive(settings: dict[str, Any], ids: list[str], prop: str, value: str) -> dict[str, Any]:
    import hubspot
    from hubspot.crm.contacts import SimplePublicObjectInput
    from urllib3.util.retry import Retry

    hs = settings["hubspot"]
    retry = Retry(total=20, status_forcelist=(429,), allowed_methods=None, respect_retry_after_header=True,
                  backoff_factor=0.1)
    client = hubspot.Client.create(access_token=hs["access_token"], host=hs["host"].rstrip("/"), retry=retry)
    done: list[float] = []
    started = time.perf_counter()
    for contact_id in ids:
        client.crm.contacts.basic_api.update(contact_id, SimplePublicObjectInput(properties={prop: value}))
        done.append(time.perf_counter() - started)
    return {"calls": len(ids), "seconds": done[-1] if done else 0.0, "done_at": done}


def salesforce_client(settings: dict[str, Any]) -> Any:
    from simple_salesforce import Salesforce

    from connectors.salesforce.transport import build_session

    sf = settings["salesforce"]
    session = build_session(login_url=sf["login_url"], ca_bundle=Path(sf["ca_bundle"]))
    return Salesforce(username=sf["username"], password=sf["password"], security_token=sf["security_token"],
                      domain="login", session=session, version=sf.get("api_version", "59.0"))


def salesforce_naive(settings: dict[str, Any], ids: list[str], field: str, value: str) -> dict[str, Any]:
    sf = salesforce_client(settings)
    done: list[float] = []
    started = time.perf_counter()
    for contact_id in ids:
        sf.Contact.update(contact_id, {field: value})
        done.append(time.perf_counter() - started)
    single = done[-1] if done else 0.0
    started = time.perf_counter()
    batched_calls = 0
    for start in range(0, len(ids), 200):
        records = [{"attributes": {"type": "Contact"}, "id": i, field: value} for i in ids[start:start + 200]]
        body = {"allOrNone": False, "records": records}
        result = sf.restful("composite/sobjects", method="PATCH", json=body)
        if not all(r.get("success") for r in result):
            raise RuntimeError(f"collections update failed: {result[:3]}")
        batched_calls += 1
    return {"calls": len(ids), "seconds": single, "done_at": done,
            "collections_calls": batched_calls, "collections_seconds": time.perf_counter() - started}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("system", choices=("hubspot", "salesforce"))
    parser.add_argument("settings", type=Path)
    parser.add_argument("ids_file", type=Path, help="one record id a line")
    parser.add_argument("--property", "--field", dest="name", required=True)
    parser.add_argument("--value", required=True)
    args = parser.parse_args(argv)
    settings = tomllib.loads(args.settings.read_text("utf-8"))
    ids = [line.strip() for line in args.ids_file.read_text("utf-8").splitlines() if line.strip()]
    run = hubspot_naive if args.system == "hubspot" else salesforce_naive
    print(json.dumps(run(settings, ids, args.name, args.value)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

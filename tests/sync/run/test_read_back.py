"""What a run reads back from HubSpot (issue 12): the fields it must compare (keep_manual, if_blank,
and what the rules read), never the fields it only overwrites (the ~700-character explanation, the
rank...). A hand edit of a keep_manual field is still seen and kept; an overwrite field changed behind
leadsync's back is still found by the drift check. Real clients over HTTP against the sandbox."""

from __future__ import annotations

from pathlib import Path

from sandbox.launcher import Sandbox
from sync.run.context import open_context
from sync.run.runner import RunOptions, run
from sync.run.setup import run_setup
from sync.settings import load_settings

OVERWRITE_ONLY = {"leadsync_stage", "leadsync_score", "leadsync_rank", "leadsync_nurture_list",
                  "leadsync_explanation"}  # the default mapping's HubSpot overwrite fields
KEEP_MANUAL = "leadsync_recycle_group"


def test_a_run_reads_back_only_the_fields_it_compares(sandbox: Sandbox, tmp_path: Path) -> None:
    path = sandbox.write_settings(tmp_path / "settings.toml", state_url=f"sqlite:///{tmp_path}/state.db")
    settings = load_settings(path)
    settings = settings.model_copy(update={"sync": settings.sync.model_copy(update={"verify_sample": 0})})
    ctx = open_context(settings)
    try:
        assert run_setup(ctx, create_missing=True).ok
        first = run(ctx, RunOptions(now=sandbox.now))
        assert first.status == "ok", first.error
        updates = sandbox.hubspot.calls.snapshot().get("hubspot.batch_update", 0)
        assert updates > 0  # the first run wrote
        # a hand edit of the keep_manual field on one contact leadsync wrote
        hs = sandbox.hubspot.store
        edited, was = next((c["id"], c["properties"][KEEP_MANUAL]) for c in hs.contacts()
                           if c["properties"].get(KEEP_MANUAL))
        by_hand = "review" if was != "review" else "excluded"
        hs.update_contact(edited, {KEEP_MANUAL: by_hand})
        second = run(ctx, RunOptions(now=sandbox.now))  # reads back every contact the first run wrote
        assert second.status == "ok", second.error
        read_back = list(ctx.store.iter_contacts("hubspot"))
        assert sandbox.hubspot.calls.snapshot().get("hubspot.batch_update", 0) == updates  # no-op
    finally:
        ctx.close()
    written = [c for c in read_back if KEEP_MANUAL in c.properties]
    assert len(written) > 10  # the second run read back the contacts leadsync wrote
    assert not any(OVERWRITE_ONLY & set(c.properties) for c in read_back)
    assert next(c for c in read_back if c.contact_id == edited).properties[KEEP_MANUAL] == by_hand
    assert hs.get_contact(edited)["properties"][KEEP_MANUAL] == by_hand  # the hand edit was kept

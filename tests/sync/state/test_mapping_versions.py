"""The mapping versions the console keeps (`mapping_versions`, migration 11), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from sync.state.store import StateStore


def test_an_empty_store_has_no_version(store: StateStore) -> None:
    assert store.mapping_versions() == []
    assert store.latest_mapping_version() is None
    assert store.highest_mapping_version() == 0
    assert store.mapping_version(1) is None


def test_versions_are_kept_in_order_with_who_text_and_diff(store: StateStore) -> None:
    found = store.record_mapping_version(1, "version = 1\n", "", action="found", saved_by=None)
    saved = store.record_mapping_version(2, "version = 2\n# 日本語 <b>\n", "-version = 1\n+version = 2\n",
                                         action="save", saved_by="ops")
    back = store.record_mapping_version(3, "version = 3\n", "-x\n+y\n", action="rollback", saved_by="ops",
                                        restored_from=found.id)
    assert found.id < saved.id < back.id
    listed = store.mapping_versions()
    assert [(v.id, v.version, v.action, v.saved_by, v.restored_from) for v in listed] == [
        (back.id, 3, "rollback", "ops", found.id), (saved.id, 2, "save", "ops", None),
        (found.id, 1, "found", None, None)]
    assert all(v.text is None and v.diff is None for v in listed)  # listings leave the texts out
    one = store.mapping_version(saved.id)
    assert one is not None
    assert one.text == "version = 2\n# 日本語 <b>\n" and one.diff == "-version = 1\n+version = 2\n"
    assert one.saved_at.tzinfo is not None
    latest = store.latest_mapping_version()
    assert latest is not None and latest.id == back.id and latest.text == "version = 3\n"
    assert store.highest_mapping_version() == 3


def test_the_highest_version_is_not_always_the_latest_row(store: StateStore) -> None:
    store.record_mapping_version(7, "version = 7\n", "", action="save", saved_by="ops")
    store.record_mapping_version(2, "version = 2\n", "", action="found", saved_by=None)  # edited by hand
    assert store.highest_mapping_version() == 7
    latest = store.latest_mapping_version()
    assert latest is not None and latest.version == 2


def test_an_unknown_action_is_refused(store: StateStore) -> None:
    with pytest.raises(ValueError, match="action must be one of"):
        store.record_mapping_version(1, "", "", action="delete", saved_by="ops")
    assert store.mapping_versions() == []

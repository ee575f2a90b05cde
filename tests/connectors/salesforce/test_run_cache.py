"""The run cache of contact values (`connectors.salesforce.read.RunCache`) is bounded: a run's memory
must not grow with the people it reads; a contact it does not keep is read again when asked for."""

from __future__ import annotations

from connectors.salesforce.read import RunCache


def test_the_run_cache_keeps_at_most_its_bound_of_contacts() -> None:
    cache = RunCache(fields=("Lead_Rank__c",), max_contacts=2)
    for i in range(5):
        cache.remember_contact(f"003{i}", {"Lead_Rank__c": f"rank {i}"})
    assert len(cache.contacts) == 2
    assert cache.current("0030", ["Lead_Rank__c"]) == {"Lead_Rank__c": "rank 0"}
    assert cache.current("0034", ["Lead_Rank__c"]) is None  # not kept: the connector reads it
    cache.remember_contact("0031", {"Lead_Rank__c": "changed"})  # a kept one is still refreshed
    assert cache.current("0031", ["Lead_Rank__c"]) == {"Lead_Rank__c": "changed"}
    cache.forget(["0030"])
    cache.remember_contact("0039", {"Lead_Rank__c": None})
    assert cache.current("0039", ["Lead_Rank__c"]) == {"Lead_Rank__c": None}

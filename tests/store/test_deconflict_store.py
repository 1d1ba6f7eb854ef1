"""Imported sites and deconfliction pairs in the store, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pytest

from parley.errors import Conflict
from parley.store import PairRecord, SiteRecord, SqlStore, StoreTx

SQUARE = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}


def site(n: int, category: str = "dam", geometry: Mapping[str, object] | None = None) -> SiteRecord:
    return SiteRecord(
        0,
        "us-eucom",
        "moratorium",
        f"Site {n}",
        category,
        30.0 + n / 1000,
        47.5,
        geometry,
        1_000,
        None,
    )


def pair(a: str, b: str, alert: str, created_ms: int = 5) -> PairRecord:
    return PairRecord(
        a,
        b,
        alert,
        "ch_hotline0001",
        "high",
        json.dumps({"a": {"key": a}, "b": {"key": b}}),
        created_ms,
        None,
        None,
    )


def test_sites_are_stored_in_batches_and_read_back_in_pages(store: SqlStore) -> None:
    sites = [site(n, "dam" if n % 3 else "refinery") for n in range(25_000)]
    sites.append(site(25_000, "school", SQUARE))
    assert store.write_sync(lambda tx: tx.insert_sites(iter(sites), "grid.csv", 7)) == 25_001

    first = store.list_sites(0, 10)
    assert [s.name for s in first] == [f"Site {n}" for n in range(10)]
    assert (first[0].valid_from_ms, first[0].valid_until_ms) == (1_000, None)
    last = store.list_sites(first[-1].id + 24_990, 10)
    assert [s.geometry for s in last] == [SQUARE]
    assert store.site_counts() == [
        ("moratorium", "dam", 16_666),
        ("moratorium", "refinery", 8_334),
        ("moratorium", "school", 1),
    ]
    assert [s.name for s in store.get_sites([last[0].id, first[2].id])] == ["Site 2", "Site 25000"]


def test_a_pair_is_recorded_once_and_withdrawn_once_resolving_its_alert(store: SqlStore) -> None:
    def record(tx: StoreTx) -> tuple[bool, bool]:
        first = tx.record_deconfliction_pair(pair("a1", "b1", "e" * 64))
        second = tx.record_deconfliction_pair(pair("a1", "b1", "f" * 64))
        tx.insert_alert("deconfliction", "high", "ch_hotline0001", "e" * 64, {}, 5)
        return first, second

    assert store.write_sync(record) == (True, False)
    recorded = store.write_sync(lambda tx: tx.deconfliction_pair("a1", "b1"))
    assert recorded is not None
    assert recorded.alert_event == "e" * 64
    store.write_sync(lambda tx: tx.record_deconfliction_pair(pair("b1", "c1", "d" * 64, 6)))

    withdrawn = store.write_sync(lambda tx: tx.withdraw_deconfliction_pair("a1", "b1", "w" * 64, 9))
    again = store.write_sync(lambda tx: tx.withdraw_deconfliction_pair("a1", "b1", "x" * 64, 10))

    assert (withdrawn, again) == ("e" * 64, None)
    assert [(p.key_a, p.key_b) for p in store.deconfliction_pairs()] == [("b1", "c1")]
    every = store.deconfliction_pairs(active_only=False, keys=["b1"])
    assert [(p.key_a, p.withdrawn_event) for p in every] == [("a1", "w" * 64), ("b1", None)]
    [alert] = store.list_alerts()
    assert alert.resolved_ms == 9
    assert store.deconfliction_alert("e" * 64) == alert
    assert store.deconfliction_alert("d" * 64) is None


def test_an_import_that_fails_stores_no_site(store: SqlStore) -> None:
    def failing(tx: StoreTx) -> None:
        tx.insert_sites(iter([site(1), site(2)]), "bad.csv", 7)
        raise Conflict("a bad row")

    with pytest.raises(Conflict):
        store.write_sync(failing)
    assert store.list_sites(0, 10) == []


def test_the_last_site_id_grows_with_every_import_and_pages_from_it(store: SqlStore) -> None:
    assert store.last_site_id() == 0
    store.write_sync(lambda tx: tx.insert_sites(iter([site(1), site(2)]), "a.csv", 7))
    before = store.last_site_id()
    store.write_sync(lambda tx: tx.insert_sites(iter([site(3)]), "b.csv", 8))

    assert store.last_site_id() == before + 1
    assert [shape[0] for shape in store.site_shapes(before, 10)] == [before + 1]

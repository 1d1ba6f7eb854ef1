"""The demo's energy moratorium: a dozen invented sites near the scenario's cities."""

from __future__ import annotations

from parley.cli._demo_agreements import moratorium_sites
from parley.services import MORATORIUM_CATEGORIES


def test_a_dozen_energy_sites_near_the_cities_the_same_at_every_run() -> None:
    sites = moratorium_sites()
    assert len(sites) == 12
    assert sites == moratorium_sites()
    assert {site["category"] for site in sites} <= set(MORATORIUM_CATEGORIES)
    assert len({site["name"] for site in sites}) == 12
    for city in ("Kyiv", "Kharkiv", "Zaporizhzhia", "Belgorod", "Kursk", "Bryansk"):
        assert sum(site["name"].startswith(city) for site in sites) == 2
    assert {site["party"] for site in sites} == {"us-eucom", "ru-genstaff"}

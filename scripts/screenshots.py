"""Screenshots of the console for the README (make screenshots).

Starts the demo's three nodes (``LocalCluster`` with the demo's settings, free ports, a
temporary folder), plays the scenario with us-eucom's acknowledgements left to its console,
as ``make demo`` does, then photographs us-eucom's console at 1280 x 720 in Debian's Chromium:
every signed-in page of tests/web/pages.py's table, in English and in Arabic, into
docs/console/<page>-<lang>.png.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the page table is shared with the browser tests

from tests.web.pages import PAGES, launch, sign_in, visit  # noqa: E402

from parley.cli._cluster import LocalCluster  # noqa: E402
from parley.cli._demo import DEMO_SETTINGS, play_scenario, scenario_parties  # noqa: E402
from parley.cli._demo_agreements import play_agreements  # noqa: E402
from parley.cli._demo_allegations import play_allegations  # noqa: E402
from parley.cli._demo_checks import check_deconfliction  # noqa: E402
from parley.cli._demo_exchanges import play_exchanges  # noqa: E402
from parley.cli._demo_story import Story  # noqa: E402
from parley.cli._demo_talks import play_talks  # noqa: E402
from parley.cli._main import console  # noqa: E402

DESK = "us-eucom"
LANGUAGES = ("en", "ar")
OUT = ROOT / "docs" / "console"


@contextmanager
def demo_nodes(root: Path) -> Iterator[tuple[LocalCluster, dict[str, str]]]:
    """The demo's nodes with the scenario played (its story untold): the cluster and the
    scenario's channel ids by name. Stopped on the way out."""
    with LocalCluster(root, scenario_parties(), settings=DEMO_SETTINGS) as cluster:
        cluster.init()
        cluster.start()
        console.quiet = True
        try:
            story = Story()
            channels = play_scenario(cluster, story, left_for=DESK)
            if not check_deconfliction(cluster, story):
                raise RuntimeError("the exercise raised no deconfliction alert")
            agreements = play_agreements(cluster, story, channels, timeout_s=30.0)
            play_allegations(cluster, story, channels, timeout_s=30.0)
            play_exchanges(cluster, story, channels, agreement=agreements.exchange)
            play_talks(cluster, story, channels)
        finally:
            console.quiet = False
        yield cluster, channels


def photograph(browser: Browser, cluster: LocalCluster, channel: str, out: Path) -> list[Path]:
    node = cluster.nodes[DESK]
    written: list[Path] = []
    for username in dict.fromkeys(p.username for p in PAGES if p.username):
        context = browser.new_context(viewport={"width": 1280, "height": 720})
        page = context.new_page()
        sign_in(page, node.url, username, node.passwords[username])
        for lang in LANGUAGES:
            cluster.call(DESK, "PUT", "/me/language", username, json={"lang": lang})
            for target in (p for p in PAGES if p.username == username):
                visit(page, target, node.url, channel)
                path = out / f"{target.name}-{lang}.png"
                page.screenshot(path=str(path))
                written.append(path)
        context.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder of the PNGs")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="parley-screenshots-") as root,
        demo_nodes(Path(root)) as (cluster, channels),
        sync_playwright() as playwright,
    ):
        browser = launch(playwright)
        try:
            written = photograph(browser, cluster, channels["hotline"], args.out)
        finally:
            browser.close()
    for path in written:
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


if __name__ == "__main__":
    main()

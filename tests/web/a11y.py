"""Accessibility of a console page in the browser: axe-core finds no serious or critical
violation, and the page never scrolls sideways (at 1280 x 720, or the same at 200 % zoom).

axe-core is vendored with the console's libraries (`make assets`) and served by the node, so
the page loads it under its own Content-Security-Policy, as it loads its own scripts.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page

__all__ = [
    "AXE",
    "assert_accessible",
    "assert_focus_visible",
    "blocking_violations",
    "sideways_overflow",
]

AXE = "/console/static/vendor/axe-core/axe.min.js"
BLOCKING = ("serious", "critical")
# WCAG 2.x A and AA, and axe's best practices (landmarks, one main, headings, skip links).
RULES = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21aa", "best-practice"]}}


def blocking_violations(page: Page) -> list[dict[str, Any]]:
    """axe's serious and critical violations on the page as it is now."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        origin = page.evaluate("() => location.origin")
        page.add_script_tag(url=origin + AXE)
    found: list[dict[str, Any]] = page.evaluate(
        "async (options) => (await axe.run(document, options)).violations",
        {**RULES, "resultTypes": ["violations"]},
    )
    return [v for v in found if v["impact"] in BLOCKING]


def sideways_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than its window (0: no horizontal scrolling)."""
    width: int = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    return max(width, 0)


def describe(violations: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{v['impact']} {v['id']}: {v['help']} at "
        + "; ".join(" ".join(node["target"]) for node in v["nodes"][:5])
        for v in violations
    )


def assert_accessible(page: Page) -> None:
    """No serious or critical axe violation, and no sideways scrolling."""
    violations = blocking_violations(page)
    assert not violations, f"{page.url}:\n{describe(violations)}"
    assert sideways_overflow(page) == 0, f"{page.url} scrolls sideways"


# The focused element, the width of its outline, whether it is on screen, and the contrast of
# the outline with what is behind it (the outline is drawn outside the element, on its parent).
_FOCUS = """() => {
  const element = document.activeElement;
  const style = getComputedStyle(element);
  const box = element.getBoundingClientRect();
  const rgba = (color) => color.match(/[\\d.]+/g).map(Number);
  const luminance = (color) => {
    const [r, g, b] = rgba(color).slice(0, 3).map((c) => {
      const s = c / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  let behind = "rgb(255, 255, 255)";
  for (let node = element.parentElement; node; node = node.parentElement) {
    const color = getComputedStyle(node).backgroundColor;
    if ((rgba(color)[3] ?? 1) > 0) { behind = color; break; }
  }
  const [light, dark] = [luminance(style.outlineColor), luminance(behind)].sort((a, b) => b - a);
  return {
    tag: element.tagName,
    outline: style.outlineStyle === "none" ? 0 : parseFloat(style.outlineWidth),
    contrast: (light + 0.05) / (dark + 0.05),
    onScreen: box.width > 0 && box.height > 0 && box.right > 0 && box.bottom > 0
      && box.left < innerWidth && box.top < innerHeight,
  };
}"""
MIN_OUTLINE_PX = 2
MIN_CONTRAST = 3.0  # WCAG 1.4.11, non-text contrast


def assert_focus_visible(page: Page) -> None:
    """Something other than the page has the focus, it is on screen, and it is outlined in a
    colour that stands out from what is behind it."""
    focus = page.evaluate(_FOCUS)
    what = f"the focused {focus['tag']}"
    assert focus["tag"] != "BODY", "nothing has the focus"
    assert focus["onScreen"], f"{what} is off screen"
    assert focus["outline"] >= MIN_OUTLINE_PX, f"{what} has no visible outline"
    assert focus["contrast"] >= MIN_CONTRAST, f"{what}'s outline: contrast {focus['contrast']:.1f}"

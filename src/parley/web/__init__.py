"""The duty-officer console: pages served by the node under /console/ (Jinja2 templates, htmx
and its SSE extension for the live parts), signed in with the node's operators."""

from ._app import install_console

__all__ = ["install_console"]

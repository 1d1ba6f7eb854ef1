"""Parley: signed, durable, verifiable direct communication between parties in a conflict."""

from parley.errors import ParleyError

__all__ = ["ParleyError", "__version__"]
__version__ = "0.1.0"

"""The store's schema of a data folder, for ``parley db``: which migration it is at, and
applying the ones it lacks. Opening a node applies them too; these never open the node."""

from __future__ import annotations

from pathlib import Path

from parley.store import SchemaRevision, migrate, schema_revision

from ._node import NodeConfig

__all__ = ["schema_state", "upgrade_schema"]


def schema_state(data_dir: Path) -> SchemaRevision:
    return schema_revision(NodeConfig.load(data_dir).database_url)


def upgrade_schema(data_dir: Path) -> tuple[SchemaRevision, SchemaRevision]:
    """The schema's revision before and after applying the migrations it lacked."""
    url = NodeConfig.load(data_dir).database_url
    return schema_revision(url), migrate(url)

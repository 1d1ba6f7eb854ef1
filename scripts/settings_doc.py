"""Writes docs/settings.md from the declared settings (make docs)."""

from pathlib import Path

from parley.settings import describe_settings

HEADER = """# Settings

Every setting of a node. Defaults suit a production node; override any of them in
`parley.toml` in the node's data folder, under `[settings]`:

```toml
[settings]
deadline_flash_s = 300
```

`parley init` writes `parley.toml` with every setting listed under `[settings]`, commented
out at its default: uncomment a line to change it.

An environment variable `PARLEY_<NAME>` (the setting's name in capitals, e.g.
`PARLEY_DEADLINE_FLASH_S=300`; a bool is `true`/`false`, `yes`/`no`, `on`/`off` or `1`/`0`)
wins over the file, and the file wins over the default: a container or a service manager can
set a node up without editing its file. The data folder itself comes from `--data` or, without
it, from `PARLEY_DATA`.

An unknown name or a value of the wrong type stops the node at start with an error naming
the setting (or the variable).

| setting | type | default | meaning |
|---|---|---|---|
"""


def main() -> None:
    rows = []
    for name, kind, default, text in describe_settings():
        shown = repr(default) if kind == "str" else str(default)
        rows.append(f"| `{name}` | {kind} | `{shown}` | {text} |")
    target = Path(__file__).parent.parent / "docs" / "settings.md"
    target.write_text(HEADER + "\n".join(rows) + "\n", "utf-8")


if __name__ == "__main__":
    main()

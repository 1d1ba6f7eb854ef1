"""The ``parley`` command: its exit statuses, one line per error, and what every command shares."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from functools import partial, wraps
from importlib.metadata import version
from pathlib import Path
from typing import Annotated, Any, Final, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer._click.exceptions import ClickException, NoArgsIsHelpError
from typer.core import TyperGroup

from parley.errors import InvalidInput, NodeUnreachable, ParleyError
from parley.services import AUDIT_LOGGER, CONSOLE, Node, Principal, Role

__all__ = [
    "DataDir",
    "ListJson",
    "Record",
    "app",
    "audit_shown",
    "console",
    "console_principal",
    "err_console",
    "print_json",
    "print_table",
    "printable",
    "read_password",
    "run_or_exit",
    "with_node",
]

# Exit statuses: the same for every command, said in --help and in the README.
FAILED: Final = 1
REFUSED: Final = 2
NO_NODE: Final = 3
EXIT_STATUSES: Final = (
    "Exit status: 0 done; 1 failed ('verify' found the bundle INVALID, or the node or its "
    "store failed); 2 refused (a usage error, bad input, or a refusal by the data folder or "
    "the node); 3 no Parley node answers at --node. Every error is one line on stderr."
)


# The order of 'parley --help': setting a node up, the duty officer's work, the record.
_ORDER: Final = (
    "init",
    "db",
    "node",
    "operator",
    "peer",
    "serve",
    "channel",
    "send",
    "events",
    "ack",
    "agreement",
    "talks",
    "export",
    "excerpt",
    "verify",
    "audit",
    "backup",
    "restore",
    "sites",
    "demo",
)


class _Commands(TyperGroup):
    """Usage errors in one line on stderr, as every other error; --help is left as it is."""

    def list_commands(self, ctx: Any) -> list[str]:
        names = super().list_commands(ctx)
        return sorted(names, key=lambda n: _ORDER.index(n) if n in _ORDER else len(_ORDER))

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        run = partial(
            super().main, args, prog_name, complete_var, windows_expand_args=windows_expand_args
        )
        if not standalone_mode:
            return run(standalone_mode=False, **extra)
        try:
            status = run(standalone_mode=False, **extra)
        except NoArgsIsHelpError as exc:
            if exc.message:  # without rich the help is the message; with rich it is printed
                typer.echo(exc.message, err=True)
            sys.exit(exc.exit_code)
        except ClickException as exc:
            context = getattr(exc, "ctx", None)
            hint = f" (see '{context.command_path} --help')" if context is not None else ""
            err_console.print(f"[bold red]Usage error[/]: {escape(exc.format_message())}{hint}")
            sys.exit(exc.exit_code)
        except typer.Abort:
            err_console.print("Aborted")
            sys.exit(FAILED)
        sys.exit(status if isinstance(status, int) else 0)


app = typer.Typer(
    cls=_Commands,
    no_args_is_help=True,
    help="Parley: a signed, durable hotline between parties.",
    epilog=EXIT_STATUSES,
    # A bug shows Python's own traceback, never the values of locals (a password is one).
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
)


def _show_version(asked: bool) -> None:
    if asked:
        typer.echo(f"parley {version('parley')}")
        raise typer.Exit


@app.callback()
def _options(
    _version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_show_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Parley: a signed, durable hotline between parties."""


console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)  # an error stays one line, however long
P = ParamSpec("P")
R = TypeVar("R")

# The environment names the data folder for scripts that run many commands on one node.
DATA_ENV: Final = "PARLEY_DATA"
ListJson = Annotated[bool, typer.Option("--json", help="One JSON array, for scripts.")]
DataDir = Annotated[Path, typer.Option("--data", envvar=DATA_ENV, help="The node's data folder.")]


def exit_status(exc: ParleyError) -> int:
    if isinstance(exc, NodeUnreachable):
        return NO_NODE
    return FAILED if exc.status >= 500 else REFUSED


def run_or_exit(fn: Callable[P, R]) -> Callable[P, R]:
    """Print an error as one line 'title: detail' on stderr and exit with its status, never a
    traceback: a ParleyError, or a file the command could not read or write."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except ParleyError as exc:
            err_console.print(f"[bold red]{exc.title}[/]: {escape(exc.detail)}")
            raise typer.Exit(exit_status(exc)) from exc
        except OSError as exc:
            if exc.filename is None:  # not about a file: a broken pipe, a full disk
                raise
            where = f"{exc.filename}: {exc.strerror}"
            err_console.print(f"[bold red]File error[/]: {escape(where)}")
            raise typer.Exit(REFUSED) from exc

    return wrapper


def with_node(data: Path, action: Callable[[Node], Coroutine[Any, Any, R]]) -> R:
    node = Node.open(data)
    try:
        return asyncio.run(action(node))
    finally:
        node.close()


def console_principal(node: Node) -> Principal:
    """Whoever runs the CLI at the node's console holds its key file: an admin."""
    return Principal(CONSOLE, Role.ADMIN, node.party)


Record = dict[str, Any]


def print_table(
    data: Path,
    columns: tuple[str, ...],
    records: Callable[[Node], list[Record]],
    cells: Callable[[Record], tuple[str, ...]],
    as_json: bool,
) -> None:
    """A listing of the node: a table for a person, or one JSON array of its records (typed
    values, RFC 3339 times) for a script."""
    node = Node.open(data)
    try:
        listed = records(node)
    finally:
        node.close()
    if as_json:
        print_json(listed)
        return
    table = Table(*columns)
    for record in listed:
        table.add_row(*(escape(cell) for cell in cells(record)))
    console.print(table)


def print_json(value: object) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False))


def printable(text: str, cut: int | None = None) -> str:
    """Text from elsewhere (a bundle, another party's message) on one line, control characters
    escaped: it must not print lines, or terminal commands, of its own."""
    if not text.isprintable():
        text = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)
    return text if cut is None or len(text) <= cut else text[: cut - 1] + "…"


def read_password(password_file: Path | None, *, confirm: bool) -> str:
    """From a file (first line), standard input or a prompt (twice if ``confirm``); never argv."""
    if password_file is not None:
        try:
            lines = password_file.read_text("utf-8").splitlines()
        except UnicodeDecodeError as exc:
            raise InvalidInput.for_field("--password-file", f"{password_file} is not text") from exc
        return lines[0] if lines else ""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=confirm)
    return value


@contextmanager
def audit_shown() -> Iterator[None]:
    """While it lasts, the audit lines of the changes a command makes go to its stderr."""
    log = logging.getLogger(AUDIT_LOGGER)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(level)

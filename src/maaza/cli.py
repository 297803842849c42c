"""The `maaza` command line: each command is a thin wrapper over a library function.

    maaza --help
    maaza models                 # registry: facts, availability, cache state
    maaza params --profile quick # validate params.yaml and print the resolved values

To add a command: append a function decorated with `@app.command()` in its own section below;
import heavy modules (torch, transformers) inside the function so `maaza --help` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="maaza: schema-valid JSON extraction with small language models (paper rebuild).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()


def fail(message: str) -> typer.Exit:
    """Print a one-line error to stderr; `raise fail(...)` exits with status 1."""
    Console(stderr=True).print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code=1)


# ----------------------------------------------------------------------------- models
@app.command()
def models() -> None:
    """List the model registry: size facts, whether each model can load here, and cache state."""
    from maaza.models import cache_root, models_table

    rows = models_table()
    table = Table(title=f"maaza models (cache: {cache_root()})")
    for column in rows[0]:
        table.add_column(
            column, justify="right" if column in ("params", "fp16", "fp32") else "left"
        )
    for row in rows:
        table.add_row(*row.values())
    # Off a terminal (pipes, CI logs) rich assumes 80 columns and would wrap every cell.
    Console(width=None if console.is_terminal else 160).print(table)


# ----------------------------------------------------------------------------- params
@app.command()
def params(
    path: Annotated[Path, typer.Option(help="params file")] = Path("params.yaml"),
    profile: Annotated[
        str | None, typer.Option(help="profile to apply (default: the file's `profile:` key)")
    ] = None,
) -> None:
    """Validate a params file and print the fully resolved values as JSON (exit 1 if invalid)."""
    from maaza.config import ConfigError, load_params

    try:
        resolved = load_params(path, profile)
    except ConfigError as err:
        raise fail(str(err)) from None
    runs = {
        name: resolved.train_run(name).model_dump()
        for name in [*resolved.train.runs, *resolved.ablate.runs]
    }
    out = {**resolved.model_dump(), "resolved_runs": runs}
    console.print_json(json.dumps(out))


if __name__ == "__main__":
    app()

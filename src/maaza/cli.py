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


# ----------------------------------------------------------------------------- data
@app.command()
def data(
    out_dir: Annotated[Path, typer.Option(help="folder for train/test/holdout.jsonl + report")] = Path("data"),
    params_path: Annotated[Path, typer.Option("--params", help="params file")] = Path("params.yaml"),
    profile: Annotated[str | None, typer.Option(help="params profile (default: the file's)")] = None,
    n_examples: Annotated[int | None, typer.Option(help="override data.n_examples")] = None,
    seed: Annotated[int | None, typer.Option(help="override data.seed")] = None,
    tokenizer: Annotated[str, typer.Option(help="tokenizer for length stats; '' to skip")] = "smollm2-135m-instruct",
) -> None:
    """Generate, validate and split the dataset (the `data` stage without the notebook)."""
    from maaza.config import ConfigError, DataConfig, load_params
    from maaza.data import DataError, run_stage

    try:
        cfg = load_params(params_path, profile).data
        overrides = {k: v for k, v in {"n_examples": n_examples, "seed": seed}.items() if v is not None}
        cfg = DataConfig.model_validate({**cfg.model_dump(), **overrides})
        names = ("train", "test", "holdout")
        paths = {n: out_dir / f"{n}.jsonl" for n in names}
        paths |= {"report_json": out_dir / "report.json", "report_md": out_dir / "report.md"}
        report = run_stage(cfg, paths, tokenizer_name=tokenizer or None)
    except (ConfigError, DataError, ValueError) as err:
        raise fail(str(err)) from None
    counts = ", ".join(f"{n} {report['counts'][n]['n']}" for n in names)
    console.print(f"wrote {out_dir}/: {counts}; all checks passed")


@app.command("data-import")
def data_import(
    jsonl: Annotated[Path, typer.Argument(help="EdgeJSON-form JSONL file")],
    schemas: Annotated[Path, typer.Option(help="folder of <schema_id>.json (tier sub-folders allowed)")],
    out: Annotated[Path | None, typer.Option(help="write the checked records here (our JSONL form)")] = None,
) -> None:
    """Import external EdgeJSON data, run every data check, optionally write it (exit 1 on failure)."""
    from maaza.data import atomic_write_text, to_jsonl
    from maaza.importer import EdgeJSONImportError, import_edgejson
    from maaza.validate import validate_records

    try:
        records, used = import_edgejson(jsonl, schemas)
    except EdgeJSONImportError as err:
        raise fail(str(err)) from None
    summary = validate_records(records, used)
    for name, c in summary["checks"].items():
        console.print(f"{name:>12}: {c['passed']}/{summary['n']} passed")
    if summary["n_failed"]:
        for f in summary["failed"][:10]:
            console.print(f"[red]{f['id']}[/red]: {f['errors']}", highlight=False)
        raise fail(f"{summary['n_failed']} of {summary['n']} records failed a check")
    if out is not None:
        atomic_write_text(out, to_jsonl(records))
        console.print(f"wrote {len(records)} records to {out}")


# ----------------------------------------------------------------------------- report
PathOpt = Annotated[Path, typer.Option()]


@app.command()
def report(
    runs_dir: PathOpt = Path("runs"),
    eval_dir: PathOpt = Path("results/eval"),
    data_report: PathOpt = Path("data/report.json"),
    params_path: Annotated[Path, typer.Option("--params")] = Path("params.yaml"),
    figures_dir: PathOpt = Path("figures"),
    tables_dir: PathOpt = Path("paper/tables"),
    generated_dir: PathOpt = Path("paper/generated"),
) -> None:
    """Write every figure, LaTeX table and numbers.tex from the result files found under
    RUNS_DIR/<run>/ and EVAL_DIR/<eval>/ (the `report` stage without the notebook), and list what
    was found and what params.yaml expects but is missing."""
    from maaza.report import ReportError, ReportPaths, build_report, describe

    paths = ReportPaths(
        runs_dir, eval_dir, data_report, params_path, figures_dir, tables_dir, generated_dir
    )
    try:
        inventory = build_report(paths)
    except ReportError as err:
        raise fail(str(err)) from None
    console.print(describe(inventory), highlight=False)
    console.print(f"wrote {figures_dir}/, {tables_dir}/, {generated_dir}/numbers.tex")


if __name__ == "__main__":
    app()

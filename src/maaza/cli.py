"""The `maaza` command line: each command is a thin wrapper over a library function.

    maaza --help                 # or -h, on every command
    maaza --version
    maaza models                 # registry: facts, availability, cache state
    maaza params --profile quick # validate params.yaml and print the resolved values

To add a command: append a function decorated with `@app.command()` in its own section below;
import heavy modules (torch, transformers) inside the function so `maaza --help` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, get_args

import typer
from rich.console import Console
from rich.table import Table

from maaza.config import (
    DEFAULT_MODE,
    DecodeConfig,
    DecodeMode,
    FormatPolicy,
    OnInvalid,
    PromptFormat,
)
from maaza.device import Device

app = typer.Typer(
    help="maaza: schema-valid JSON extraction with small language models (paper rebuild).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},  # subcommands inherit it
)
console = Console()
# One name for the params file everywhere; `maaza params --path` remains as a hidden alias.
ParamsOpt = Annotated[Path, typer.Option("--params", help="params file")]


DeviceOpt = Annotated[
    str, typer.Option(help="auto | cpu | cuda (auto: the GPU if torch sees one; README: GPU)")
]


def fail(message: str) -> typer.Exit:
    """Print a one-line error to stderr; `raise fail(...)` exits with status 1."""
    # soft_wrap: off a terminal rich would wrap at 80 columns, splitting paths and messages
    Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code=1)


def _print_version(value: bool) -> None:
    if value:
        from maaza import __version__

        console.print(f"maaza {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="print the version and exit"
        ),
    ] = False,
) -> None:
    """maaza: schema-valid JSON extraction with small language models (paper rebuild)."""


def check_choice(option: str, value: str | None, choices: Any) -> None:
    """A usage error (exit 2, allowed values listed) unless `value` is one of the Literal's."""
    allowed = get_args(choices)
    if value is not None and value not in allowed:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(allowed)}", param_hint=option)


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
    params_path: ParamsOpt = Path("params.yaml"),
    profile: Annotated[
        str | None, typer.Option(help="profile to apply (default: the file's `profile:` key)")
    ] = None,
    path: Annotated[
        Path | None, typer.Option("--path", hidden=True, help="deprecated: --params")
    ] = None,
) -> None:
    """Validate a params file and print the fully resolved values as JSON (exit 1 if invalid)."""
    from maaza.config import ConfigError, load_params

    if path is not None:
        Console(stderr=True).print("warning: --path is deprecated; use --params", highlight=False)
        params_path = path
    path = params_path
    try:
        resolved = load_params(path, profile)
    except ConfigError as err:
        raise fail(str(err)) from None
    names = [*resolved.run_names(), *resolved.replicates()]  # seed replicates resolve too
    runs = {name: resolved.train_run(name).model_dump() for name in names}
    out = {**resolved.model_dump(), "resolved_runs": runs}
    console.print_json(json.dumps(out))


# ----------------------------------------------------------------------------- data
@app.command()
def data(
    out_dir: Annotated[
        Path, typer.Option(help="folder for train/test/holdout/train_extra.jsonl + report")
    ] = Path("data"),
    params_path: ParamsOpt = Path("params.yaml"),
    profile: Annotated[
        str | None, typer.Option(help="params profile (default: the file's)")
    ] = None,
    n_examples: Annotated[int | None, typer.Option(help="override data.n_examples")] = None,
    seed: Annotated[int | None, typer.Option(help="override data.seed")] = None,
    tokenizer: Annotated[
        str, typer.Option(help="tokenizer for length stats; '' to skip")
    ] = "smollm2-135m-instruct",
) -> None:
    """Generate, validate and split the dataset (the `data` stage without the notebook)."""
    from maaza.config import ConfigError, DataConfig, load_params
    from maaza.data import SPLITS, DataError, run_stage

    try:
        params = load_params(params_path, profile)
        cfg = params.data
        overrides = {
            k: v for k, v in {"n_examples": n_examples, "seed": seed}.items() if v is not None
        }
        cfg = DataConfig.model_validate({**cfg.model_dump(), **overrides})
        paths = {n: out_dir / f"{n}.jsonl" for n in SPLITS}
        paths |= {"report_json": out_dir / "report.json", "report_md": out_dir / "report.md"}
        report = run_stage(
            cfg, paths, tokenizer_name=tokenizer or None,
            format_policy=params.evaluate.decode.format_policy,
        )  # fmt: skip
    except (ConfigError, DataError, ValueError) as err:
        raise fail(str(err)) from None
    counts = ", ".join(f"{n} {c['n']}" for n, c in report["counts"].items())
    console.print(f"wrote {out_dir}/: {counts}; all checks passed")


@app.command("data-import")
def data_import(
    jsonl: Annotated[Path, typer.Argument(help="EdgeJSON-form JSONL file")],
    schemas: Annotated[
        Path, typer.Option(help="folder of <schema_id>.json (tier sub-folders allowed)")
    ],
    out: Annotated[
        Path | None,
        typer.Option(help="write the records here (our JSONL form) and <stem>.report.json beside"),
    ] = None,
    on_invalid: Annotated[
        str,
        typer.Option(help="records failing a check: fail (write nothing), drop, keep (marked)"),
    ] = "fail",
    format_policy: Annotated[
        str, typer.Option(help="JSON Schema `format`: annotation (not checked) or assert")
    ] = DecodeConfig.model_fields["format_policy"].default,
) -> None:
    """Import external EdgeJSON data and run every data check; exit 1 if --on-invalid fail and a
    record fails one (the report is still written, the records are not)."""
    check_choice("--on-invalid", on_invalid, OnInvalid)
    check_choice("--format-policy", format_policy, FormatPolicy)
    from maaza.external import import_checked, refusal, report_path, write_import
    from maaza.importer import EdgeJSONImportError

    try:
        result = import_checked(jsonl, schemas, on_invalid, format_policy)  # type: ignore[arg-type]
        if out is not None:
            write_import(result, out)
    except (EdgeJSONImportError, OSError) as err:
        raise fail(str(err)) from None
    report = result.report
    for name, c in report["checks"].items():
        console.print(f"{name:>12}: {c['passed']}/{report['n']} passed")
    for check, failures in report["first_failures"].items():
        for f in failures[:3]:
            console.print(f"[red]{check}[/red] {f['where']}: {f['errors'][0]}", highlight=False)
    if out is not None:
        console.print(f"report: {report_path(out)}", highlight=False)
    if result.refused:
        raise fail(refusal(result))
    if out is not None:
        console.print(
            f"wrote {report['n_out']} of {report['n']} records to {out} (on-invalid {on_invalid})",
            highlight=False,
        )


# ----------------------------------------------------------------------------- train
@app.command()
def train(
    run: Annotated[
        str,
        typer.Argument(
            help="run name declared in params.yaml (train.runs, train.runs_extra or ablate.runs)"
        ),
    ],
    data: Annotated[Path, typer.Option(help="training JSONL")] = Path("data/train.jsonl"),
    extra_data: Annotated[
        Path, typer.Option(help="extra examples (runs with extra_train > 0)")
    ] = Path("data/train_extra.jsonl"),
    out: Annotated[Path | None, typer.Option(help="run folder (default runs/<run>)")] = None,
    params_path: ParamsOpt = Path("params.yaml"),
    profile: Annotated[
        str | None, typer.Option(help="params profile (default: the file's)")
    ] = None,
    schemas: Annotated[
        Path | None, typer.Option(help="schema folder (default: the package's)")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="replace another run's results in --out")
    ] = False,
) -> None:
    """LoRA-train one run (the `train` stage without the notebook); rerun to resume after a kill.

    Multi-GPU / multi-node: `accelerate launch ... -m maaza.train --run RUN` (same code).
    """
    from maaza.collate import TrainDataError
    from maaza.config import ConfigError
    from maaza.train import TrainError, train_from_files

    out = out or Path("runs") / run
    try:
        m = train_from_files(
            run, params_path, data, out, profile, schemas, extra_path=extra_data, force=force
        )
    except (ConfigError, TrainDataError, TrainError, FileNotFoundError) as err:
        raise fail(str(err)) from None
    console.print(
        f"{run}: {m['steps']} steps, final loss {m['final_loss']}, {m['real_tokens_per_s']} real tokens/s, "
        f"{m['wall_time_s']} s -> {out}/",
        highlight=False,
    )


# ----------------------------------------------------------------------------- evaluate
@app.command("eval")
def eval_(
    model: Annotated[str | None, typer.Option(help="registry name or path (or the run's)")] = None,
    data: Annotated[Path, typer.Option(help="JSONL (EdgeJSON form)")] = Path("data/test.jsonl"),
    schemas: Annotated[Path, typer.Option(help="schema folder (tier sub-folders allowed)")] = Path(
        "src/maaza/schemas"
    ),
    out: Annotated[Path | None, typer.Option(help="folder for predictions + metrics")] = None,
    adapter: Annotated[Path | None, typer.Option(help="peft adapter folder, merged in")] = None,
    run: Annotated[str | None, typer.Option(help="training run: its model + prompt format")] = None,
    mode: Annotated[str, typer.Option(help="constrained | free")] = DEFAULT_MODE,
    prompt_format: Annotated[str | None, typer.Option(help="paper | model_card | compact")] = None,
    split: Annotated[str | None, typer.Option(help="test | holdout | external")] = None,
    limit: Annotated[int | None, typer.Option(help="first N examples only")] = None,
    params_path: ParamsOpt = Path("params.yaml"),
    profile: Annotated[str | None, typer.Option(help="params profile")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="replace another evaluation's results in --out")
    ] = False,
    device: DeviceOpt = "auto",
) -> None:
    """Run a model (+ adapter) on a dataset: OUT/predictions.jsonl + OUT/metrics.json.

    A run defined in params (--run, or an adapter at runs/<run>/adapter) gives the base model and
    prompt format; otherwise --model is zero-shot with evaluate.zeroshot_prompt_format.
    --split defaults to the data file's name (test, holdout), else external. The metrics name
    the evaluation after what ran; an --out holding another evaluation is refused (--force).
    """
    import dataclasses

    from maaza.config import ConfigError, load_params
    from maaza.evaluate import EvalInputError, run_eval, spec_from_params
    from maaza.importer import EdgeJSONImportError
    from maaza.models import ModelError
    from maaza.plan import eval_name

    check_choice("--mode", mode, DecodeMode)
    check_choice("--prompt-format", prompt_format, PromptFormat)
    check_choice("--device", device, Device)
    try:
        params = load_params(params_path, profile)
        known = {*params.run_names(), *params.replicates()}
        if run is None and adapter is not None and adapter.parent.name in known:
            run = adapter.parent.name
        split = split or (data.stem if data.stem in ("test", "holdout") else "external")
        # named after what runs, never after --out (a folder name is not a description)
        role = params.run_role(run) if run in known else ""
        name = eval_name(model, run, mode, split, role)
        spec = spec_from_params(
            params, name=name, mode=mode, split=split, model=model, run=run,
            adapter=str(adapter) if adapter else None,
        )  # fmt: skip
    except (ConfigError, ValueError) as err:
        raise fail(str(err)) from None
    spec = dataclasses.replace(
        spec,
        model=model or spec.model,
        prompt_format=prompt_format or spec.prompt_format,
        limit=limit or spec.limit,
    )
    out = out or Path("results/eval") / spec.name
    try:
        loaded = _loaded_on(spec, device)
        if loaded is not None:  # a GPU decodes in one process (decode workers fork CPU processes)
            spec = dataclasses.replace(spec, workers=1)
        metrics = run_eval(spec, data, schemas, out, force=force, model_and_tokenizer=loaded)
    except (EdgeJSONImportError, EvalInputError, FileNotFoundError, ModelError) as err:
        raise fail(str(err)) from None
    o = metrics["overall"]
    console.print(
        f"{spec.name}: n={o['n']}  JSONExact {o['json_exact']:.3f}  Field F1 {o['field_f1']:.3f}  "
        f"Leaf F1 {o['leaf_f1']:.3f}  compliance {o['compliance']:.3f}  "
        f"truncated {o['truncated']:.3f}  {o['examples_per_s']:.2f} ex/s -> {out}/",
        highlight=False,
    )


def _loaded_on(spec: Any, device: str) -> tuple[Any, Any] | None:
    """(model, tokenizer) on the GPU when --device picks one; None on the CPU, where run_eval
    loads the model itself exactly as before."""
    from maaza.device import resolve_device
    from maaza.evaluate import load_model

    if resolve_device(device) == "cpu":
        return None
    model, tokenizer = load_model(spec.model, spec.adapter, spec.dtype)
    return model.to(resolve_device(device)), tokenizer


# ----------------------------------------------------------------------------- report
PathOpt = Annotated[Path, typer.Option()]


@app.command()
def report(
    runs_dir: PathOpt = Path("runs"),
    eval_dir: PathOpt = Path("results/eval"),
    data_report: PathOpt = Path("data/report.json"),
    params_path: ParamsOpt = Path("params.yaml"),
    figures_dir: PathOpt = Path("figures"),
    tables_dir: PathOpt = Path("paper/tables"),
    generated_dir: PathOpt = Path("paper/generated"),
    bench_dir: PathOpt = Path("results/bench"),
    readme: Annotated[
        Path | None, typer.Option(help="also copy results.md into this README's results block")
    ] = None,
) -> None:
    """Write every figure, LaTeX table, numbers.tex and results.md from the result files found
    under RUNS_DIR/<run>/, EVAL_DIR/<eval>/ and BENCH_DIR/*.json (the `report` stage without the
    notebook), and list what was found and what params.yaml expects but is missing."""
    from maaza.io import write_text
    from maaza.report import ReportError, ReportPaths, build_report, describe
    from maaza.report.readme import replace_block

    paths = ReportPaths(
        runs_dir,
        eval_dir,
        data_report,
        params_path,
        figures_dir,
        tables_dir,
        generated_dir,
        bench_dir=bench_dir,
    )
    try:
        inventory = build_report(paths)
    except ReportError as err:
        raise fail(str(err)) from None
    console.print(describe(inventory), highlight=False)
    console.print(f"wrote {figures_dir}/, {tables_dir}/, {generated_dir}/numbers.tex, results.md")
    if readme is not None:
        try:
            text = replace_block(readme.read_text(), (generated_dir / "results.md").read_text())
        except (OSError, ValueError) as err:
            raise fail(f"{readme}: {err}") from None
        write_text(readme, text)
        console.print(f"updated the results block of {readme}")


@app.command()
def numbers(
    query: Annotated[str, typer.Argument(help="part of a macro name or of its value")] = "",
    numbers_file: PathOpt = Path("paper/generated/numbers.tex"),
) -> None:
    """Trace a number in the paper to its source: each macro of numbers.tex whose name or value
    contains QUERY (case-insensitive), with its value and the file and key it comes from."""
    from rich.table import Table

    from maaza.report import parse_numbers

    if not numbers_file.is_file():
        raise fail(f"{numbers_file}: not found (run `dvc repro report` or `maaza report`)")
    q = query.lower()
    found = [
        n
        for n in parse_numbers(numbers_file.read_text())
        if q in n.name.lower() or q in n.value.lower()
    ]
    if not found:
        raise fail(f"{numbers_file}: no macro whose name or value contains {query!r}")
    table = Table("macro", "value")
    table.add_column("source", overflow="fold")  # paths must stay whole to be usable
    for n in found:
        table.add_row(f"\\{n.name}", n.value, n.source)
    console.print(table)


# ----------------------------------------------------------------------------- extract
@app.command()
def extract(
    schema: Annotated[Path, typer.Option(help="JSON Schema file (draft-07) the answer must match")],
    text: Annotated[
        str | None, typer.Argument(help="text to extract from; '-' reads stdin")
    ] = None,
    model: Annotated[str | None, typer.Option(help="base model (default: the adapter's)")] = None,
    adapter: Annotated[
        str | None,
        typer.Option(help="adapter folder, run folder or run name (default: best trained run)"),
    ] = None,
    zero_shot: Annotated[
        bool, typer.Option("--zero-shot", help="base model alone, no adapter")
    ] = False,
    mode: Annotated[str, typer.Option(help="constrained | free")] = DEFAULT_MODE,
    input_path: Annotated[
        Path | None,
        typer.Option(
            "--input", help='JSONL, one text a line: {"text": ...}, {"prompt": ...} or "..."'
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="JSONL results of --input (a rerun continues it)")
    ] = None,
    prompt_format: Annotated[
        str | None, typer.Option(help="paper | model_card | compact (default: the run's)")
    ] = None,
    max_new_tokens: Annotated[
        int | None, typer.Option(min=1, help="answer length cap (default: params.yaml)")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(min=1, help="texts decoded together (default: params.yaml)")
    ] = None,
    threads: Annotated[
        int | None, typer.Option(min=1, help="torch threads (1 is fastest on a busy CPU)")
    ] = None,
    copy_spans: Annotated[
        bool | None,
        typer.Option(
            "--copy-spans/--no-copy-spans",
            help="constrained mode: free-text values must be verbatim spans of the text "
            "(default: params.yaml evaluate.decode.copy_spans)",
        ),
    ] = None,
    root: Annotated[
        Path | None,
        typer.Option(
            envvar="MAAZA_ROOT",
            help="folder holding runs/, results/eval/, params.yaml (default: the project)",
        ),
    ] = None,
    device: DeviceOpt = "auto",
) -> None:
    """Print the JSON object in TEXT that matches --schema (or answer every line of --input into
    --output, resumable). Uses the best fine-tuned adapter found under ROOT/runs unless told otherwise."""
    import maaza.extract as ex
    from maaza.config import ConfigError

    err = Console(stderr=True, soft_wrap=True)
    check_choice("--mode", mode, DecodeMode)
    check_choice("--prompt-format", prompt_format, PromptFormat)
    check_choice("--device", device, Device)
    if (text is None) == (input_path is None):
        raise fail("give one of TEXT, - (stdin) or --input FILE")
    if (input_path is None) != (output is None):
        raise fail("--input and --output go together")
    try:
        from maaza.models import ModelError  # imports torch: only once the cheap checks passed

        cfg = ex.decode_config(
            root, max_new_tokens=max_new_tokens, batch_size=batch_size, copy_spans=copy_spans
        )
        schema_obj = ex.load_schema(schema, cfg)
        lines = ex.read_input(input_path) if input_path else None
        single = ex.read_text_arg(text) if text is not None else None
        if lines and output:
            # what would answer, and with what settings, before any model loads
            source = ex.choose_source(model, adapter or ex.AUTO, zero_shot=zero_shot,
                                      prompt_format=prompt_format, root=root)  # fmt: skip
            params = ex.read_params(ex.project_root(root))
            job = ex.job_key(source, mode, cfg, schema_obj, ex.source_dtype(source, params))
            if len(ex.completed_lines(output, lines, job)) == len(lines):
                err.print(f"{output}: all {len(lines)} lines already done")
                return
        extractor = ex.Extractor(
            model,
            adapter or ex.AUTO,
            zero_shot=zero_shot,
            mode=mode,
            prompt_format=prompt_format,
            decode=cfg,
            root=root,
            threads=threads,
            device=device,
        )
        err.print(
            f"{extractor.source.describe()}: {extractor.source.note}; "
            f"loaded in {extractor.load_s:.1f} s",
            highlight=False,
        )
        if single is not None:
            _extract_one(extractor, single, schema_obj, err)
            return
        try:
            counts = ex.extract_file(extractor, schema_obj, lines, output)
        except KeyboardInterrupt:
            err.print(
                f"interrupted: finished lines are in {output}; rerun the same command to continue"
            )
            raise typer.Exit(130) from None
    except (ex.ExtractError, ConfigError, ModelError) as e:
        raise fail(str(e)) from None
    err.print(
        f"wrote {counts['done']} results to {output} ({counts['skipped']} were already done); "
        f"{counts['invalid']} invalid",
        highlight=False,
    )
    if counts["invalid"]:
        raise fail(
            f'{counts["invalid"]} answers do not match the schema (see "errors" in {output})'
        )


# ----------------------------------------------------------------------------- export
@app.command()
def export(
    run: Annotated[str, typer.Argument(help="run name, run folder or adapter folder")],
    out: Annotated[Path, typer.Option(help="folder for the merged model (replaced whole)")],
    gguf: Annotated[
        bool, typer.Option("--gguf", help="also write GGUF for llama.cpp (needs the gguf extra)")
    ] = False,
    gguf_type: Annotated[
        list[str] | None, typer.Option(help="GGUF weight type, repeatable: f32 | f16 | bf16 | q8_0")
    ] = None,
    root: Annotated[
        Path | None,
        typer.Option(envvar="MAAZA_ROOT", help="folder holding runs/ (default: the project)"),
    ] = None,
) -> None:
    """Merge a run's LoRA adapter (or full fine-tuning delta) into its base model: OUT/ is a
    Hugging Face model folder (+ OUT/<run>-<type>.gguf with --gguf, by llama.cpp's own converter)."""
    from maaza.export import ExportError, GgufType, export_run
    from maaza.extract import ExtractError

    types = gguf_type or (["f16"] if gguf else [])
    for t in types:
        check_choice("--gguf-type", t, GgufType)
    try:
        info = export_run(run, out, gguf_types=types, root=root)
    except (ExportError, ExtractError) as err:
        raise fail(str(err)) from None
    files = ", ".join(f"{g['file']} ({g['bytes'] / 1e6:.0f} MB)" for g in info.get("gguf", []))
    change = "LoRA" if info["method"] == "lora" else "full fine-tuning delta"
    console.print(
        f"{info['run']} ({info['base_model']} + {change}, prompt {info['prompt_format']}) -> {out}/"
        + (f"; GGUF: {files}" if files else ""),
        highlight=False,
    )


# ----------------------------------------------------------------------------- serve
@app.command()
def serve(
    adapter: Annotated[
        str | None,
        typer.Option(help="adapter folder, run folder or run name (default: best trained run)"),
    ] = None,
    model: Annotated[str | None, typer.Option(help="base model (default: the adapter's)")] = None,
    zero_shot: Annotated[
        bool, typer.Option("--zero-shot", help="base model alone, no adapter")
    ] = False,
    mode: Annotated[str, typer.Option(help="constrained | free")] = DEFAULT_MODE,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="port to listen on")] = 8000,
    batch_size: Annotated[
        int | None, typer.Option(min=1, help="most requests decoded together (default: params)")
    ] = None,
    max_wait_ms: Annotated[
        float, typer.Option(min=0, help="how long a request waits for others to batch with")
    ] = 10.0,
    max_new_tokens: Annotated[
        int | None, typer.Option(min=1, help="answer length cap (default: params.yaml)")
    ] = None,
    threads: Annotated[int | None, typer.Option(min=1, help="torch threads")] = None,
    root: Annotated[
        Path | None, typer.Option(envvar="MAAZA_ROOT", help="folder holding runs/, params.yaml")
    ] = None,
    device: DeviceOpt = "auto",
) -> None:
    """Serve POST /extract {schema, text} over HTTP (extra: serve); the model loads once and
    concurrent requests decode as one batch."""
    import maaza.extract as ex
    from maaza.config import ConfigError

    check_choice("--mode", mode, DecodeMode)
    check_choice("--device", device, Device)
    try:
        import uvicorn

        from maaza.serve import create_app
    except ImportError as err:
        raise fail(f"maaza serve needs FastAPI and uvicorn ({err.name} is missing): "
                   "pip install 'maaza[serve]'") from None  # fmt: skip
    try:
        from maaza.models import ModelError

        cfg = ex.decode_config(root, max_new_tokens=max_new_tokens, batch_size=batch_size)
        extractor = ex.Extractor(
            model,
            adapter or ex.AUTO,
            zero_shot=zero_shot,
            mode=mode,
            decode=cfg,
            root=root,
            threads=threads,
            device=device,
        )
    except (ex.ExtractError, ConfigError, ModelError) as e:
        raise fail(str(e)) from None
    Console(stderr=True, soft_wrap=True).print(
        f"{extractor.source.describe()} on {extractor.model.device}: loaded in "
        f"{extractor.load_s:.1f} s; batches of up to {cfg.batch_size}, {max_wait_ms:g} ms wait",
        highlight=False,
    )
    uvicorn.run(create_app(extractor, max_wait_ms), host=host, port=port, log_level="warning")


def _extract_one(extractor, text: str, schema: dict, err: Console) -> None:
    """Answer on stdout (one JSON line), how it went on stderr; exit 1 unless it validates."""
    res = extractor.extract_batch([text], schema)[0]
    if res.value is not None:
        typer.echo(json.dumps(res.value, ensure_ascii=False))
    speed = res.n_tokens / res.latency_s if res.latency_s else 0.0
    err.print(
        f"{'valid' if res.valid else 'INVALID'}; {res.n_tokens} tokens in {res.latency_s:.2f} s "
        f"({speed:.1f} tokens/s, {extractor.mode} decoding, stop: {res.stop})",
        highlight=False,
    )
    if not res.valid:
        raise fail("answer does not match the schema: " + "; ".join(res.errors[:5]))


if __name__ == "__main__":
    app()

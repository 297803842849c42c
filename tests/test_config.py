"""params.yaml through maaza.config: bad keys/values name themselves, every run and profile resolves."""

from __future__ import annotations

import copy
import re

import pytest
import yaml
from typer.testing import CliRunner

from maaza import models
from maaza.cli import app
from maaza.config import DEFAULT_PARAMS, ConfigError, TrainRun, load_params, resolve
from maaza.extract import Source, source_dtype

RAW = yaml.safe_load(DEFAULT_PARAMS.read_text())


def _with(path: str, value) -> dict:
    """A copy of params.yaml with the dotted key `path` set to `value`."""
    raw = copy.deepcopy(RAW)
    *parents, last = path.split(".")
    node = raw
    for key in parents:
        node = node[key]
    node[last] = value
    return raw


def test_bad_enum_value_names_key_and_allowed_values():
    with pytest.raises(ConfigError) as err:
        resolve(_with("train.common.prompt_format", "verbose"))
    message = str(err.value)
    assert "prompt_format" in message and "'verbose'" in message
    for allowed in ("paper", "model_card", "compact"):
        assert allowed in message


def test_out_of_range_value_names_dotted_key():
    with pytest.raises(ConfigError, match=r"data\.test_fraction: .*less than 1"):
        resolve(_with("data.test_fraction", 1.5))


def test_bad_value_in_an_ablation_run_names_that_run():
    with pytest.raises(ConfigError, match=r"ablate\.runs\.smollm2-135m-r8\.lora\.r"):
        resolve(_with("ablate.runs.smollm2-135m-r8", {"role": "ablation", "lora": {"r": 0}}))


def test_unknown_key_is_rejected():
    raw = _with("data.n_exampels", 100)  # misspelt
    with pytest.raises(ConfigError, match=r"data\.n_exampels: unknown key"):
        resolve(raw)


def test_unknown_profile_lists_profiles():
    with pytest.raises(ConfigError, match=r"allowed: default, quick"):
        resolve(RAW, profile="fast")


def test_unreadable_file_names_the_file(tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match=str(bad)):
        load_params(bad)


def test_quick_profile_is_smaller_than_default():
    default, quick = load_params(), load_params(profile="quick")
    assert quick.profile == "quick"
    assert quick.data.n_examples < default.data.n_examples
    assert quick.evaluate.limit is not None
    for name in quick.run_names():
        assert quick.train_run(name).max_steps is not None


@pytest.mark.parametrize("profile", ["default", "quick"])
def test_every_run_resolves_to_a_loadable_model(profile):
    params = load_params(profile=profile)
    names = params.run_names()
    assert names
    for name in names:
        run = params.train_run(name)
        assert isinstance(run, TrainRun)
        assert models.is_available(run.model), f"{name}: model {run.model} not available"
    for name in params.evaluate.zeroshot_models:
        assert models.is_available(name), name


def test_cli_params_prints_resolved_and_fails_cleanly(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(app, ["params", "--params", str(DEFAULT_PARAMS), "--profile", "quick"])
    assert ok.exit_code == 0, ok.output
    assert '"profile": "quick"' in ok.output and "smollm2-135m-r16" in ok.output
    bad = tmp_path / "params.yaml"
    bad.write_text(yaml.safe_dump(_with("evaluate.decode.format_policy", "strict")))
    result = runner.invoke(app, ["params", "--params", str(bad)])
    assert result.exit_code == 1
    assert "evaluate.decode.format_policy" in result.output and "assert" in result.output


def test_run_roles_are_declared_and_checked():
    params = resolve(RAW)
    assert params.run_role("smollm2-135m-r16") == "paper_recipe"
    assert params.run_role("smollm2-135m-r8") == "ablation"
    with pytest.raises(ConfigError, match=r"train\.runs\.smollm2-135m-r16\.role: got 'main'"):
        resolve(_with("train.runs.smollm2-135m-r16", {"role": "main"}))
    with pytest.raises(ConfigError, match=r"train\.runs\.x\.role: got None"):
        resolve(_with("train.runs.x", {}))


def test_extra_data_runs_live_in_runs_extra():
    with pytest.raises(ConfigError, match=r"train\.runs\.x\.extra_train: .* train\.runs_extra"):
        resolve(_with("train.runs.x", {"role": "ours", "extra_train": 10}))
    with pytest.raises(ConfigError, match=r"train\.runs_extra\.smollm2-135m-maaza\.extra_train"):
        resolve(_with("train.runs_extra.smollm2-135m-maaza", {"role": "ours"}))
    with pytest.raises(ConfigError, match="already declared"):
        resolve(_with("ablate.runs.smollm2-135m-r16", {}))


# ----------------------------------------------------------------------------- full validation
@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("train.common.model", "smollm2-135m-instrct", r"train\.common\.model: unknown model"),
        ("train.runs.gemma3-270m-r16.model", "gemma-270m",
         r"train\.runs\.gemma3-270m-r16\.model: unknown model 'gemma-270m'"),
        ("evaluate.zeroshot_models", ["smollm2-135m-instruct", "nope"],
         r"evaluate\.zeroshot_models\[1\]: unknown model 'nope'"),
        ("train.common.epochs", float("inf"), r"train\.common\.epochs: .*finite"),
        ("ablate.runs.smollm2-135m-r8.learning_rate", float("nan"),
         r"ablate\.runs\.smollm2-135m-r8\.learning_rate: .*finite"),
        ("train.common.max_grad_norm", -1, r"train\.common\.max_grad_norm: "),
        ("data.holdout_schemas", ["weather_observation", "weather"],
         r"data\.holdout_schemas\[1\]: unknown schema 'weather'"),
        ("train.common.lora.target_modules", ["q_proj", "qkv_proj"],
         r"train\.common\.lora\.target_modules: \S+ has no layer\(s\) 'qkv_proj'"),
        ("ablate.runs.smollm2-135m-r8.lora", {"r": 8, "target_modules": ["c_attn"]},
         r"ablate\.runs\.smollm2-135m-r8\.lora\.target_modules: .* 'c_attn'"),
        ("profiles.quick.train.common.max_steps", 0,
         r"(?s)profile quick: .*train\.common\.max_steps: .*greater than 0"),
    ],
)  # fmt: skip
def test_params_are_validated_fully_and_name_the_key(tmp_path, key, value, message):
    """Each of these used to pass `maaza params` and fail later (UnknownModel, peft's
    NoMatchingPeftModuleError, OverflowError, an unknown held-out schema, --profile quick only);
    errors in train.common used to be reported under the first run's name."""
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(_with(key, value)))
    with pytest.raises(ConfigError, match=message):
        load_params(path)
    result = CliRunner().invoke(app, ["params", "--params", str(path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert re.search(message, " ".join(result.output.split())), result.output


def test_unknown_architecture_skips_the_module_check(tmp_path):
    """A hub model whose layers are unknown without loading it: peft checks it at train time."""
    raw = _with("train.runs.gemma3-270m-r16.model", "someorg/custom-model")
    raw["train"]["runs"]["gemma3-270m-r16"]["lora"] = {"target_modules": ["c_attn"]}
    assert resolve(raw).train_run("gemma3-270m-r16").lora.target_modules == ["c_attn"]


def test_search_trials_have_their_own_section_and_role():
    import copy as _copy

    import yaml

    raw = yaml.safe_load(DEFAULT_PARAMS.read_text())
    params = resolve(_copy.deepcopy(raw))
    trials = [n for n in params.run_names() if params.run_role(n) == "trial"]
    assert trials and all(params.run_section(n) == "search.runs" for n in trials)
    assert params.train_run("screen-full").method == "full"
    assert params.train_run("screen-e1").step_fraction == 0.25
    bad = _copy.deepcopy(raw)
    bad["train"]["runs"]["x"] = {"role": "trial"}
    with pytest.raises(ConfigError, match="search trials"):
        resolve(bad)
    bad = _copy.deepcopy(raw)
    bad["search"]["runs"]["y"] = {"role": "ours", "extra_train": 10}
    with pytest.raises(ConfigError, match="search trials"):
        resolve(bad)


def test_decode_dtype_per_subject():
    params = resolve(_with("evaluate.dtypes", {"smollm2-135m-r16": "auto"}))
    assert params.evaluate.dtype_of("smollm2-135m-r16") == "auto"
    assert params.evaluate.dtype_of("smollm2-135m-instruct") == params.evaluate.zeroshot_dtype
    with pytest.raises(ConfigError, match=r"evaluate\.dtypes\.smollm2-135m-r61: neither"):
        resolve(_with("evaluate.dtypes", {"smollm2-135m-r61": "auto"}))
    params = resolve(_with("evaluate.dtypes", {"smollm2-135m-r16": "int8"}))
    assert params.evaluate.dtype_of("smollm2-135m-r16") == "int8"
    # the extractor decodes a run as its evaluation did, zero-shot models in evaluate.dtype
    run = Source(model="smollm2-135m-instruct", prompt_format="compact", run="smollm2-135m-r16")
    assert source_dtype(run, params) == "int8"
    zero_shot = Source("smollm2-135m-instruct", "compact")
    assert source_dtype(zero_shot, params) == params.evaluate.zeroshot_dtype
    assert source_dtype(run, None) == "float32"  # installed package, no params.yaml


def test_packed_weights_are_decode_only():
    with pytest.raises(ConfigError, match=r"train\.common\.base_dtype: .*int8 is decode-only"):
        resolve(_with("train.common.base_dtype", "int8"))
    run = next(iter(RAW["train"]["runs"]))
    with pytest.raises(ConfigError, match=rf"train\.runs\.{run}\.base_dtype: .*float16 is deco"):
        resolve(_with(f"train.runs.{run}.base_dtype", "float16"))
    with pytest.raises(ConfigError, match=r"evaluate\.dtype: .*allowed"):
        resolve(_with("evaluate.dtype", "int4"))


def test_decode_workers_run_one_thread_each():
    assert resolve(_with("evaluate.workers", 2)).evaluate.workers == 2
    assert resolve(_with("evaluate.threads", 1)).evaluate.threads == 1
    raw = _with("evaluate.workers", 2)
    raw["evaluate"]["threads"] = 2  # a forked worker that starts OpenMP threads hangs
    with pytest.raises(ConfigError, match=r"evaluate\.threads: 2 with evaluate\.workers: 2"):
        resolve(raw)
    with pytest.raises(ConfigError, match=r"evaluate\.workers: .*greater than or equal to 1"):
        resolve(_with("evaluate.workers", 0))

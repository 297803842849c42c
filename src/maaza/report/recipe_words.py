"""What differs between two runs' recipes, in words (numbers.yaml `recipe_words`), so the text says
what the recipe search chose, a LoRA adapter or every weight, without hand-edited prose. Settings
come from params.yaml (design.settings: method, LoRA shape, model, prompt, loss, learning rate),
what a run did from its train_metrics.json (examples, steps, trainable parameters, saved size).

    differences(frames, "smollm2-135m-maaza", "smollm2-135m-r16")
    # ['every weight trained instead of a rank-16 LoRA adapter', '3{,}016 examples instead of 629', ...]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from maaza.config import TrainRun
from maaza.report import fmt
from maaza.report.fmt import NOT_RUN, tt
from maaza.report.frames import Frames, cell, short_model

WORDS = fmt.load_spec("numbers")["recipe_words"]
# A LoRA adapter's shape, part by part, each as the text prints it.
LORA_PARTS: tuple[Callable[[TrainRun], str], ...] = (
    lambda r: f"rank {r.lora.r}",
    lambda r: f"alpha {r.lora.alpha:g}",
    lambda r: f"dropout {r.lora.dropout:g}",
    lambda r: _modules(r.lora.target_modules),
)


def _modules(targets: list[str]) -> str:
    """LoRA's target modules in words: '7 modules', or peft's shorthand `all-linear`."""
    return tt("all-linear") if "all-linear" in targets else f"{len(targets)} modules"


def is_full(run: TrainRun) -> bool:
    return run.method == "full"


def lora_parts(a: TrainRun, b: TrainRun) -> tuple[str, str]:
    """The parts of two LoRA shapes that differ, each side in words: ('rank 64', 'rank 16')."""
    parts = [(say(a), say(b)) for say in LORA_PARTS if say(a) != say(b)]
    return ", ".join(x for x, _ in parts), ", ".join(y for _, y in parts)


def same_training(a: TrainRun, b: TrainRun) -> bool:
    """Both train every weight, or both a LoRA adapter of the same shape."""
    return a.method == b.method and (is_full(a) or not any(lora_parts(a, b)))


def training_item(a: TrainRun, b: TrainRun) -> str | None:
    """What a trains against b, in a few words; None when the same."""
    if same_training(a, b):
        return None
    if is_full(a) != is_full(b):
        lora = b if is_full(a) else a
        key = "full_vs_lora" if is_full(a) else "lora_vs_full"
        return WORDS["items"][key].format(r=lora.lora.r)
    return WORDS["items"]["lora"].format(*lora_parts(a, b))


def _changed(x: Any, y: Any) -> bool:
    """Two values the text would print differently, or either unknown (then both are printed)."""
    return fmt.missing(x) or fmt.missing(y) or x != y


def differences(frames: Frames, a: str | None, b: str | None) -> list[str]:
    """Each way run a's recipe differs from run b's, in words (numbers.yaml `recipe_words.items`):
    base model, what is trained, training examples, optimiser steps, learning rate."""
    settings = frames.design.settings
    if a not in settings or b not in settings:
        return []
    sa, sb = settings[a], settings[b]
    ra, rb = frames.run_row(a), frames.run_row(b)
    items, say = [], WORDS["items"]
    if sa.model != sb.model:
        items.append(say["model"].format(tt(short_model(sa.model)), tt(short_model(sb.model))))
    if (trained := training_item(sa, sb)) is not None:
        items.append(trained)
    for key, word in (("n_train_examples", "examples"), ("steps", "steps")):
        x, y = cell(ra, key), cell(rb, key)
        if _changed(x, y):
            items.append(say[word].format(fmt.column(key, x), fmt.column(key, y)))
    if sa.learning_rate != sb.learning_rate:
        lr = (fmt.setting("LearningRate", s.learning_rate) for s in (sa, sb))
        items.append(say["learning_rate"].format(*lr))
    return items


def differs_text(frames: Frames, a: str | None, b: str | None) -> str:
    """differences() as one clause; \\notrun{} when either run is not declared."""
    items = differences(frames, a, b)
    return ", ".join(items) if items else NOT_RUN


def keeps_text(frames: Frames, a: str | None, b: str | None) -> str:
    """What run a's recipe keeps of run b's (numbers.yaml `recipe_words.keeps`), as a list."""
    settings = frames.design.settings
    if a not in settings or b not in settings:
        return NOT_RUN
    sa, sb = settings[a], settings[b]
    same = {
        "model": sa.model == sb.model,
        "lora": not is_full(sa) and same_training(sa, sb),
        "prompt": sa.prompt_format == sb.prompt_format,
        "loss": sa.loss == sb.loss,
    }
    kept = [words for key, words in WORDS["keeps"].items() if same[key]]
    if not kept:
        return WORDS["keeps_nothing"]
    return kept[0] if len(kept) == 1 else f"{', '.join(kept[:-1])} and {kept[-1]}"


def trains_text(frames: Frames, a: str | None, b: str | None) -> str:
    """How what run a trains differs from run b's, with the trainable parameters and saved size
    of each (numbers.yaml `recipe_words.trains`), ending in ', '; empty when the same."""
    settings = frames.design.settings
    if a not in settings or b not in settings or same_training(settings[a], settings[b]):
        return ""
    sa, sb = settings[a], settings[b]
    ra, rb = frames.run_row(a), frames.run_row(b)
    lora = sb if is_full(sa) else sa  # the side with an adapter (r: its rank)
    trials = [settings[t] for t in frames.design.trial_runs if t in settings]
    values = {
        "searched": WORDS["searched"] if any(same_training(t, sa) for t in trials) else "",
        "what": training_item(sa, sb),
        "r": lora.lora.r,
        "trainable": fmt.column("params_trainable", cell(ra, "params_trainable")),
        "b_trainable": fmt.column("params_trainable", cell(rb, "params_trainable")),
        "mb": fmt.column("adapter_mb", cell(ra, "adapter_mb")),
        "b_mb": fmt.column("adapter_mb", cell(rb, "adapter_mb")),
    }
    key = "full" if is_full(sa) else "lora_vs_full" if is_full(sb) else "lora"
    return WORDS["trains"][key].format_map(values)

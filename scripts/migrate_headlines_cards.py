"""One-off migration (issue 19) of committed results to the files the stages now write, through
the same functions the stages call, without re-running any training or evaluation:

- metrics/<eval>.json from results/eval/<eval>/metrics.json (maaza.headline.write_eval)
- metrics/train-<run>.json from runs/<run>/train_metrics.json (maaza.headline.write_train)
- runs/<run>/adapter/{adapter_config.json, README.md}: base named by hub id, the model card
  (maaza.card.make_portable); the old card runs/<run>/README.md is removed (now adapter/README.md)

Deterministic: the same committed files give the same bytes. Run from the project root:
    python scripts/migrate_headlines_cards.py && dvc commit -f <the train and eval stages>
"""

from __future__ import annotations

import sys
from pathlib import Path

from maaza import headline, io
from maaza.card import make_portable
from maaza.config import load_params
from maaza.plan import plan_from_params


def main(root: Path = Path(".")) -> None:
    params = load_params(root / "params.yaml")
    plan = plan_from_params(params)
    metrics_dir = root / headline.METRICS_DIR
    for e in plan.evals:
        metrics = io.read_json(e.out_dir(root / "results/eval") / "metrics.json")
        print(headline.write_eval(metrics, metrics_dir))
    for name in plan.run_names:
        run_dir = root / "runs" / name
        metrics = io.read_json(run_dir / "train_metrics.json")
        print(headline.write_train(name, metrics, metrics_dir))
        make_portable(run_dir / "adapter", name, params.train_run(name), metrics)
        (run_dir / "README.md").unlink(missing_ok=True)
        print(run_dir / "adapter")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("."))

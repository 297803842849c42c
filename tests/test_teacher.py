"""Teacher rewriting keeps a paraphrase only if it still grounds every expected value."""

from __future__ import annotations

from maaza.config import TeacherConfig
from maaza.teacher import model_paraphraser, rewrite_records, rewrite_splits

RECORDS = [
    {"id": f"c-{i}", "schema_id": "contact_info", "style": "prose",
     "prompt": f"This is Ana Ruiz {i}. Email me at ana{i}@x.io.", "expected_output": {"name": f"Ana Ruiz {i}", "email": f"ana{i}@x.io"}}
    for i in range(10)
]  # fmt: skip


def swap_sentences(texts):
    return [" ".join(reversed(t.split(". "))) for t in texts]


def drop_email(texts):
    return [t.split(" Email")[0] for t in texts]


def test_grounded_rewrites_are_kept():
    out, stats = rewrite_records(RECORDS, swap_sentences, fraction=0.5, seed=0)
    assert stats == {"offered": 5, "accepted": 5}
    changed = [r for r, o in zip(RECORDS, out, strict=True) if r["prompt"] != o["prompt"]]
    assert len(changed) == 5
    assert all(o["style"] == "prose+teacher" for o in out if o["style"] != "prose")
    assert RECORDS[0]["prompt"].startswith("This is")  # inputs untouched


def test_rewrites_that_lose_a_value_are_rejected():
    out, stats = rewrite_records(RECORDS, drop_email, fraction=1.0, seed=0)
    assert stats == {"offered": 10, "ungrounded": 10}
    assert out == RECORDS


def test_tiny_random_rewrites_are_rejected(tiny_model):
    model, tok = tiny_model
    splits = {"train": RECORDS[:4], "test": RECORDS[4:6], "holdout": RECORDS[6:]}
    cfg = TeacherConfig(model="tiny-random", fraction=1.0, max_new_tokens=12)
    new, stats = rewrite_splits(
        splits, cfg, seed=0, paraphrase=model_paraphraser(model, tok, cfg.max_new_tokens)
    )
    assert new == splits
    assert stats["train"]["offered"] == 4 and stats["train"].get("accepted", 0) == 0
    assert stats["test"]["offered"] == 2 and stats["test"].get("accepted", 0) == 0

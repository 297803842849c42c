"""Surface styles: the same `Doc` written as a key-value list, prose, an email, a chat, a log or CSV
line, or nested bullets. Field order is shuffled and distractor sentences are mixed in here."""

from __future__ import annotations

import csv
import io
import string

from maaza.datagen.doc import Doc, Field, Items, Node, Obj, texts
from maaza.datagen.values import Ctx

STYLES: tuple[str, ...] = ("kv", "prose", "email", "chat", "log", "csv", "bullets")
# Styles each tier is written in: a log/CSV line cannot hold arrays of objects, bullets suit nesting.
TIER_STYLES: dict[str, tuple[str, ...]] = {
    "simple": ("kv", "prose", "email", "chat", "log", "csv"),
    "medium": ("kv", "prose", "email", "chat", "log", "csv"),
    "complex": ("kv", "prose", "email", "chat", "bullets"),
}
GENERIC_SAY = ("{Label}: {v}.", "{Label}: {v}.", "{Label} - {v}.")
DISTRACTORS = (
    "Let me know if anything looks off.",
    "Sorry for the slow reply, it has been a busy week.",
    "I'll be out of the office on Friday.",
    "Thanks again for your patience.",
    "Please keep this on file.",
    "This was copied from the old system, so the formatting may be odd.",
    "We are still waiting on the rest of the paperwork.",
    "Ignore the earlier draft I sent.",
    "FYI the coffee machine on the third floor is broken again.",
    "Can we talk about the offsite agenda later?",
    "The shared drive was slow this morning.",
    "Nothing else to add from my side.",
    "Someone left an umbrella in the meeting room.",
    "Reminder: timesheets are due at the end of the month.",
)

# Noise around a log or CSV export (a prose distractor would not fit there).
EXPORT_NOISE = (
    "(1 row)",
    "# exported by ops-bot",
    "-- end of export --",
    "# some fields may be truncated",
)


def cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def fields_of(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def fill(template: str, **values: str) -> str:
    return template.format(**values)


# ----------------------------------------------------------------------------- inline pieces
def inline_obj(obj: Obj, ctx: Ctx) -> str:
    """An object on one line: its own template if one states exactly its fields, else the first
    field bare and the rest as "label text" in parentheses."""
    fitting = [t for t in obj.line if fields_of(t) == set(texts(obj.nodes))]
    if fitting and all(isinstance(n, Field) for n in obj.nodes):
        return fill(ctx.pick(fitting), **texts(obj.nodes))
    parts = [
        (n.label, inline(n, ctx))
        for n in obj.nodes
        if not (isinstance(n, Field) and n.text is None)
    ]
    if not parts:
        return ""
    if obj.bare:
        return ", ".join(text for _, text in parts)
    head, rest = parts[0][1], [f"{label} {text}" for label, text in parts[1:]]
    return f"{head} ({', '.join(rest)})" if rest else head


def inline(node: Node, ctx: Ctx) -> str:
    if isinstance(node, Field):
        return node.text or ""
    if isinstance(node, Obj):
        return inline_obj(node, ctx)
    return "; ".join(item_line(item, node, ctx) for item in node.items)


def item_line(item: list[Node], items: Items, ctx: Ctx) -> str:
    """One array item as a line: a builder template that states exactly its fields, else generic."""
    have = texts(item)
    nested = [n for n in item if not isinstance(n, Field)]
    fitting = [t for t in items.line if fields_of(t) == set(have)]
    if fitting:
        text = fill(ctx.pick(fitting), **have)
    else:
        fields = [n for n in item if isinstance(n, Field) and n.text is not None]
        text = (
            ", ".join([fields[0].text] + [f"{f.label} {f.text}" for f in fields[1:]])
            if fields
            else ""
        )
    for sub in nested:
        text += f"; {sub.label}: {inline(sub, ctx)}"
    return text


# ----------------------------------------------------------------------------- styles
def _order(nodes: list[Node], ctx: Ctx) -> list[Node]:
    shuffled = list(nodes)
    ctx.rng.shuffle(shuffled)
    return shuffled


def _label(label: str, case: str) -> str:
    return {"lower": label, "upper": label.upper(), "title": label.title()}.get(case, cap(label))


def kv_lines(
    nodes: list[Node], ctx: Ctx, indent: str = "", case: str = "sentence", sep: str = ": "
) -> list[str]:
    lines = []
    for node in nodes:
        label = _label(node.label, case)
        if isinstance(node, Field):
            if node.text is not None:
                lines.append(f"{indent}{label}{sep}{node.text}")
        elif isinstance(node, Obj):
            if ctx.chance(0.5):
                lines.append(f"{indent}{label}{sep}{inline_obj(node, ctx)}")
            else:
                lines.append(f"{indent}{label}:")
                lines += kv_lines(_order(node.nodes, ctx), ctx, indent + "  ", case, sep)
        else:
            lines.append(f"{indent}{label}:")
            lines += [f"{indent}- {item_line(item, node, ctx)}" for item in node.items]
    return lines


def sentences(doc: Doc, ctx: Ctx) -> list[str]:
    out = []
    for node in _order(doc.nodes, ctx):
        if isinstance(node, Field) and node.text is None:
            continue
        if isinstance(node, Field):
            template = (
                ctx.pick(node.say) if node.say and ctx.chance(0.85) else ctx.pick(GENERIC_SAY)
            )
        else:
            template = ctx.pick(node.say) if node.say else ctx.pick(GENERIC_SAY)
        out.append(
            cap(fill(template, v=inline(node, ctx), label=node.label, Label=cap(node.label)))
        )
    return out


def with_distractors(parts: list[str], ctx: Ctx, rate: float) -> list[str]:
    parts = list(parts)
    if ctx.chance(rate):
        for _ in range(ctx.pick([1, 1, 2])):
            parts.insert(ctx.rng.randint(0, len(parts)), ctx.pick(DISTRACTORS))
    return parts


def render_kv(doc: Doc, ctx: Ctx, rate: float) -> str:
    case = ctx.pick(["sentence", "sentence", "title", "lower"])
    sep = ctx.pick([": ", ": ", ": ", " - "])
    lines = kv_lines(_order(doc.nodes, ctx), ctx, "", case, sep)
    if ctx.chance(0.5):
        lines.insert(0, ctx.pick([doc.title, doc.title.upper(), f"{cap(doc.title)} details"]))
    if ctx.chance(rate):
        lines.append(f"Note{sep}{ctx.pick(DISTRACTORS)}")
    return "\n".join(lines)


def render_prose(doc: Doc, ctx: Ctx, rate: float) -> str:
    body = sentences(doc, ctx)
    if doc.intro:
        body.insert(0, ctx.pick(doc.intro))
    return " ".join(with_distractors(body, ctx, rate))


def render_email(doc: Doc, ctx: Ctx, rate: float) -> str:
    sender, recipient = doc.people
    subject = ctx.pick(
        [cap(doc.title), f"Re: {doc.title}", f"Fwd: {doc.title}", f"{cap(doc.title)} - details"]
    )
    greeting = ctx.pick(["Hi", "Hello", "Dear", "Hey"]) + f" {recipient.split()[0]},"
    if ctx.chance(0.6):
        body = render_prose(doc, ctx, rate)
    else:
        lead = ctx.pick(doc.intro) if doc.intro else "Details below."
        body = lead + "\n\n" + "\n".join(kv_lines(_order(doc.nodes, ctx), ctx))
        if ctx.chance(rate):
            body += "\n\n" + ctx.pick(DISTRACTORS)
    signoff = ctx.pick(["Thanks,", "Best,", "Regards,", "Cheers,", "Kind regards,"])
    return f"Subject: {subject}\n\n{greeting}\n\n{body}\n\n{signoff}\n{sender}"


def render_chat(doc: Doc, ctx: Ctx, rate: float) -> str:
    a, b = (p.split()[0] for p in doc.people)
    said = with_distractors(sentences(doc, ctx), ctx, rate)
    opener = ctx.pick(doc.intro) if doc.intro else "quick one for you"
    lines = [f"{a}: {opener}"]
    i = 0
    while i < len(said):
        take = ctx.rng.randint(1, 3)
        lines.append(f"{a}: " + " ".join(said[i : i + take]))
        i += take
        if i < len(said) and ctx.chance(0.4):
            lines.append(f"{b}: " + ctx.pick(["ok", "got it", "go on", "noted", "and?", "👍"]))
    lines.append(f"{b}: " + ctx.pick(["thanks!", "perfect, thanks", "will log it", "on it"]))
    return "\n".join(lines)


def flat_pairs(nodes: list[Node], prefix: str = "") -> list[tuple[str, str]]:
    """(dotted.key, text) for a log or CSV line; arrays of scalars are already joined in `text`."""
    pairs = []
    for node in nodes:
        if isinstance(node, Field):
            if node.text is not None:
                pairs.append((prefix + node.key, node.text))
        elif isinstance(node, Obj):
            pairs += flat_pairs(node.nodes, f"{prefix}{node.key}.")
        else:
            raise ValueError(f"{node.key}: arrays of objects cannot be written as one log line")
    return pairs


def render_log(doc: Doc, ctx: Ctx, rate: float) -> str:
    have = texts(doc.nodes)
    fitting = (
        [t for t in doc.log if fields_of(t) == set(have)] if len(have) == len(doc.nodes) else []
    )
    if fitting and ctx.chance(0.7):
        line = fill(ctx.pick(fitting), **have)
    else:
        pairs = flat_pairs(_order(doc.nodes, ctx))
        line = " ".join(f'{k}="{v}"' if " " in v else f"{k}={v}" for k, v in pairs)
    return with_export_noise(line, ctx, rate)


def with_export_noise(text: str, ctx: Ctx, rate: float) -> str:
    if not ctx.chance(rate):
        return text
    noise = ctx.pick(EXPORT_NOISE)
    return f"{noise}\n{text}" if noise.startswith("#") else f"{text}\n{noise}"


def render_csv(doc: Doc, ctx: Ctx, rate: float) -> str:
    pairs = flat_pairs(_order(doc.nodes, ctx))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([k if ctx.chance(0.7) else k.replace("_", " ") for k, _ in pairs])
    writer.writerow([v for _, v in pairs])
    return with_export_noise(buf.getvalue().rstrip("\n"), ctx, rate)


def bullet_lines(nodes: list[Node], ctx: Ctx, indent: str = "") -> list[str]:
    lines = []
    for node in nodes:
        if isinstance(node, Field):
            if node.text is not None:
                lines.append(f"{indent}- {cap(node.label)}: {node.text}")
        elif isinstance(node, Obj):
            lines.append(f"{indent}- {cap(node.label)}")
            lines += bullet_lines(_order(node.nodes, ctx), ctx, indent + "  ")
        else:
            lines.append(f"{indent}- {cap(node.label)}")
            for item in node.items:
                if ctx.chance(0.6):
                    lines.append(f"{indent}  - {item_line(item, node, ctx)}")
                else:
                    sub = bullet_lines(item, ctx, indent + "    ")
                    lines.append(f"{indent}  * {sub[0].strip()[2:]}")
                    lines += sub[1:]
    return lines


def render_bullets(doc: Doc, ctx: Ctx, rate: float) -> str:
    lines = [cap(doc.title)] + bullet_lines(_order(doc.nodes, ctx), ctx)
    if ctx.chance(rate):
        lines.append(ctx.pick(DISTRACTORS))
    return "\n".join(lines)


RENDERERS = {
    "kv": render_kv,
    "prose": render_prose,
    "email": render_email,
    "chat": render_chat,
    "log": render_log,
    "csv": render_csv,
    "bullets": render_bullets,
}


def render(doc: Doc, style: str, ctx: Ctx, distractor_rate: float) -> str:
    return RENDERERS[style](doc, ctx, distractor_rate)

"""Surface forms of values: one canonical value, many ways to write it in text.

The generator writes `$1,234.50` or `1234.50 USD` in the prompt and puts `1234.5` in the expected
output; the validator recognises the same surface forms (`date_forms`, `time_forms`,
`CURRENCY_NAMES`), so every form produced here is one the grounding check can prove.
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
from dataclasses import dataclass

from faker import Faker

MONTHS = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip
NUMBER_WORDS = [
    "zero", "one", "two", "three", "four", "five", "six",
    "seven", "eight", "nine", "ten", "eleven", "twelve",
]  # fmt: skip
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "C$", "AUD": "A$"}
# Words that name a currency in prose; the validator accepts any of them for the code.
CURRENCY_NAMES = {
    "USD": ("USD", "$", "US dollars", "dollars"),
    "EUR": ("EUR", "€", "euros", "euro"),
    "GBP": ("GBP", "£", "pounds sterling", "pounds"),
    "CAD": ("CAD", "C$", "Canadian dollars"),
    "AUD": ("AUD", "A$", "Australian dollars"),
}
# Dates are drawn relative to this day, never to "today": same seed, same bytes, any day.
REFERENCE_DATE = dt.date(2025, 6, 30)
MONEY_STYLES = ("symbol", "symbol_plain", "code_after", "code_before", "words")


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def date_forms(d: dt.date) -> list[str]:
    """Every way the generator may write a date (the validator searches for each)."""
    month, short = MONTHS[d.month - 1], MONTHS[d.month - 1][:3]
    weekday = d.strftime("%A")
    return [
        d.isoformat(),
        f"{month} {d.day}, {d.year}",
        f"{d.day} {month} {d.year}",
        f"{short} {d.day}, {d.year}",
        f"{d.day} {short} {d.year}",
        f"{weekday}, {month} {d.day}, {d.year}",
        f"{month} {_ordinal(d.day)}, {d.year}",
        f"{d.year}/{d.month:02d}/{d.day:02d}",
    ]


def time_forms(t: dt.time) -> list[str]:
    """Ways to write a time of day; seconds are shown whenever they are not zero."""
    hour12 = t.hour % 12 or 12
    ampm = "AM" if t.hour < 12 else "PM"
    if t.second:
        return [
            f"{t.hour:02d}:{t.minute:02d}:{t.second:02d}",
            f"{hour12}:{t.minute:02d}:{t.second:02d} {ampm}",
        ]
    return [
        f"{t.hour:02d}:{t.minute:02d}",
        f"{hour12}:{t.minute:02d} {ampm}",
        f"{hour12}:{t.minute:02d}{ampm.lower()}",
    ]


def iso_datetime(moment: dt.datetime) -> str:
    """Canonical UTC timestamp: 2025-03-03T14:05:00Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Ctx:
    """Everything one example's builder needs: seeded randomness and per-document format choices."""

    rng: random.Random
    fake: Faker
    drop_rate: float = 0.3
    currency: str = "USD"
    money_style: str = "symbol"
    date_style: int = 0  # index into date_forms: one document writes its dates one way
    # Fakers of other locales for people's names (empty: `fake`'s, en_US). Names the model has
    # never seen teach it to copy a name from the text instead of recalling a common one.
    name_fakes: tuple[Faker, ...] = ()

    def pick(self, options):
        return options[self.rng.randrange(len(options))]

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def keep(self) -> bool:
        """Whether an optional field stays in this example."""
        return self.rng.random() >= self.drop_rate

    # ------------------------------------------------------------------ numbers
    def money(self, amount: float) -> str:
        """`amount` in this document's money style, e.g. $1,234.50 / 1234.50 EUR / 12.00 pounds."""
        code, style = self.currency, self.money_style
        grouped, plain = f"{amount:,.2f}", f"{amount:.2f}"
        if style == "symbol":
            return f"{CURRENCY_SYMBOLS[code]}{grouped}"
        if style == "symbol_plain":
            return f"{CURRENCY_SYMBOLS[code]}{plain}"
        if style == "code_after":
            return f"{grouped} {code}"
        if style == "code_before":
            return f"{code} {grouped}"
        return f"{grouped} {CURRENCY_NAMES[code][2]}"

    def currency_text(self) -> str | None:
        """How the currency field itself is stated; None when every amount already shows it."""
        if self.money_style in ("code_after", "code_before") and self.chance(0.6):
            return None
        return self.pick([self.currency, self.currency, CURRENCY_NAMES[self.currency][2]])

    def integer(self, n: int, words: bool = True) -> str:
        if words and 2 <= n <= 12 and self.chance(0.25):
            return NUMBER_WORDS[n]
        return f"{n:,}" if n >= 10000 and self.chance(0.5) else str(n)

    def percent(self, fraction: float) -> str:
        pct = f"{fraction * 100:.2f}".rstrip("0").rstrip(".")
        return self.pick([f"{pct}%", f"{pct}%", f"{pct} percent"])

    # ------------------------------------------------------------------ dates
    def iso(self, moment: dt.datetime) -> str:
        return iso_datetime(moment)

    def date(self, d: dt.date) -> str:
        return date_forms(d)[self.date_style]

    def datetime(self, moment: dt.datetime) -> str:
        choice = self.rng.randrange(5)
        t = time_forms(moment.time())
        if choice == 0:
            return iso_datetime(moment)
        if choice == 1:
            return f"{moment.date().isoformat()} {t[0]} UTC"
        if choice == 2:
            return f"{self.date(moment.date())} at {t[1]} UTC"
        if choice == 3:
            return f"{self.date(moment.date())}, {t[0]} UTC"
        return f"{moment.date().isoformat()}T{t[0]}{':00' if not moment.second else ''}Z"

    def past_date(self, days: int = 730) -> dt.date:
        """A date up to `days` before REFERENCE_DATE (fixed, so output does not depend on today)."""
        return REFERENCE_DATE - dt.timedelta(days=self.rng.randint(0, days))

    def future_date(self, start: dt.date, max_days: int = 60) -> dt.date:
        return start + dt.timedelta(days=self.rng.randint(1, max_days))

    def birth_date(self, min_age: int = 18, max_age: int = 90) -> dt.date:
        return REFERENCE_DATE - dt.timedelta(days=self.rng.randint(min_age * 365, max_age * 365))

    def moment(self, seconds: bool = False) -> dt.datetime:
        """A UTC timestamp within the year before REFERENCE_DATE (whole minutes unless `seconds`)."""
        day = self.past_date(365)
        return dt.datetime(
            day.year, day.month, day.day, self.rng.randrange(24), self.rng.randrange(60),
            self.rng.randrange(60) if seconds else 0,
        )  # fmt: skip

    # ------------------------------------------------------------------ ids and people
    def person(self) -> str:
        """First and last name only: Faker's name() adds "Mrs."/"MD" now and then, which reads
        oddly as a chat handle and makes the first token a title instead of a name."""
        fake = self.pick(self.name_fakes) if self.name_fakes else self.fake
        return f"{fake.first_name()} {fake.last_name()}"

    def ident(self, pattern: str) -> str:
        """Faker bothify: '#' -> digit, '?' -> letter (upper-cased)."""
        return self.fake.bothify(pattern).upper()

    def email_for(self, name: str, domain: str | None = None) -> str:
        # ASCII-folded (Łukasz -> lukasz): mailbox names stay plain ASCII whatever the locale.
        folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
        parts = [p for p in folded.lower().replace(".", "").split() if p.isalpha()] or ["user"]
        local = self.pick(
            [
                f"{parts[0]}.{parts[-1]}",
                f"{parts[0][0]}{parts[-1]}",
                f"{parts[0]}{self.rng.randint(1, 99)}",
            ]
        )
        return f"{local}@{domain or self.fake.free_email_domain()}"


def new_ctx(
    rng: random.Random, fake: Faker, drop_rate: float, name_fakes: tuple[Faker, ...] = ()
) -> Ctx:
    """A context with this document's format choices drawn from `rng`."""
    ctx = Ctx(rng=rng, fake=fake, drop_rate=drop_rate, name_fakes=name_fakes)
    ctx.currency = rng.choice(["USD", "USD", "USD", "EUR", "GBP", "CAD", "AUD"])
    ctx.money_style = rng.choice(MONEY_STYLES)
    ctx.date_style = rng.randrange(len(date_forms(dt.date(2025, 1, 1))))
    return ctx

"""Deterministic environmental-news prose in Italian, English, German and French.

Articles are planned language-independently, so translations match sentence for sentence.
"""

from __future__ import annotations

import json
import random
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

LANGS = ("it", "en", "de", "fr")
DATA_DIR = Path(__file__).with_name("data")

# Block index is folded into the unique figure of every block, so an article can hold at
# most this many blocks before two of its figures could collide with another article's.
BLOCKS_PER_ARTICLE = 40

Block = dict[str, Any]


@lru_cache(maxsize=1)
def bank() -> dict[str, Any]:
    """The sentence banks, loaded once per process."""
    with (DATA_DIR / "prose.json").open(encoding="utf-8") as fh:
        return json.load(fh)


def topics() -> list[str]:
    return list(bank()["topics"])


def topic_label(topic: str, lang: str) -> str:
    return bank()["topics"][topic]["label"][lang]


def place_name(place: int | str, lang: str) -> str:
    """A place by index into the bank, or a literal name used as-is in every language."""
    if isinstance(place, str):
        for entry in bank()["places"]:
            if entry == place or (isinstance(entry, dict) and entry["it"] == place):
                return entry if isinstance(entry, str) else entry[lang]
        return place
    entry = bank()["places"][place]
    return entry if isinstance(entry, str) else entry[lang]


def subject_name(topic: str, subject: int, lang: str) -> str:
    return bank()["topics"][topic]["subjects"][subject][lang]


def slugify(text: str) -> str:
    """WordPress-like slug: accents folded, apostrophes dropped, runs of other chars to '-'."""
    text = text.replace("'", "").replace("\u2019", "")
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")


def format_number(n: int, lang: str) -> str:
    grouped = f"{n:,}"
    if lang == "en":
        return grouped
    # Plain spaces for French rather than U+202F: extraction normalises odd whitespace.
    return grouped.replace(",", " " if lang == "fr" else ".")


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class Focus:
    """What a generated article is about: a topic, a place and one of the topic's subjects."""

    topic: str
    place: int | str
    subject: int

    def words(self, lang: str) -> dict[str, str]:
        subject = subject_name(self.topic, self.subject, lang)
        return {"subject": subject, "Subject": _cap(subject), "place": place_name(self.place, lang)}


def title_for(focus: Focus, template: int, lang: str) -> str:
    return bank()["titles"][template][lang].format(**focus.words(lang))


@dataclass(frozen=True)
class ArticlePlan:
    """Language-independent choices for one article: which templates, figures and numbers."""

    focus: Focus
    seq: int
    year: int
    standfirst: tuple[tuple[int, dict[str, int]], ...]
    blocks: tuple[tuple[str, Any], ...]
    hero: tuple[int, int]


class _Deck:
    """Draws template indices without repetition until the deck runs out, then reshuffles."""

    def __init__(self, rng: random.Random, items: list[Any]) -> None:
        self._rng = rng
        self._items = items
        self._pile: list[Any] = []

    def draw(self) -> Any:
        if not self._pile:
            self._pile = list(self._items)
            self._rng.shuffle(self._pile)
        return self._pile.pop()


def plan_article(focus: Focus, seq: int, year: int) -> ArticlePlan:
    """Choose the structure of an article; `seq` makes every numeric figure site-unique."""
    data = bank()
    rng = random.Random(f"lifegate-fixture:{seq}:{focus.topic}:{focus.place}:{focus.subject}")
    n_facts = len(data["topics"][focus.topic]["facts"])
    contexts = _Deck(
        rng,
        [("context", i) for i in range(len(data["context"]))]
        + [("fact", i) for i in range(n_facts)],
    )
    stats = _Deck(rng, list(range(len(data["stats"]))))
    headings = _Deck(
        rng, [("topic", 0), ("topic", 1)] + [("generic", i) for i in range(len(data["headings"]))]
    )

    def slots() -> dict[str, int]:
        return {
            "org": rng.randrange(len(data["orgs"])),
            "unit": rng.randrange(3),
            "pct": rng.randint(4, 68),
            "year": year - rng.randint(1, 4),
            "year2": year + rng.randint(2, 8),
            "person": rng.randrange(len(data["people"])),
        }

    def paragraph() -> tuple[str, Any]:
        sentences = [contexts.draw() for _ in range(rng.choice((1, 1, 2)))]
        sentences.insert(rng.randrange(len(sentences) + 1), ("stat", stats.draw()))
        return ("p", [(kind, idx, slots()) for kind, idx in sentences])

    blocks: list[tuple[str, Any]] = []
    if rng.random() < 0.65:
        bullets = rng.sample(range(len(data["bullets"])), 3)
        blocks.append(("ul", [(b, slots()) for b in bullets]))
    blocks += [paragraph() for _ in range(3)]
    blocks.append(("h2", headings.draw()))
    blocks += [paragraph() for _ in range(rng.choice((2, 3)))]
    blocks.append(
        (
            "figure",
            (rng.randrange(len(data["captions"])), rng.randrange(len(data["photographers"]))),
        )
    )
    blocks.append(paragraph())
    blocks.append(("blockquote", (rng.randrange(len(data["quotes"])), slots())))
    blocks.append(("h2", headings.draw()))
    blocks += [paragraph() for _ in range(2)]
    if rng.random() < 0.5:
        blocks.append(("h3", headings.draw()))
        blocks.append(paragraph())
    standfirst = tuple(
        (i, slots()) for i in sorted(rng.sample(range(len(data["standfirst"])), rng.choice((1, 2))))
    )
    hero = (0, rng.randrange(len(data["photographers"])))
    return ArticlePlan(focus, seq, year, standfirst, tuple(blocks), hero)


class ProseWriter:
    """Renders an ArticlePlan in one language, with figure credits in a site's house style."""

    def __init__(self, plan: ArticlePlan, lang: str, credit_style: str = "lifegate") -> None:
        self.plan = plan
        self.lang = lang
        self.credit_style = credit_style
        self._data = bank()
        self._words = plan.focus.words(lang)
        self._topic = self._data["topics"][plan.focus.topic]

    def _fill(
        self, template: str, slots: dict[str, int] | None = None, n: int | None = None
    ) -> str:
        values: dict[str, str] = dict(self._words)
        if slots:
            person = self._data["people"][slots["person"]]
            values.update(
                org=self._data["orgs"][slots["org"]],
                unit=self._topic["units"][slots["unit"]][self.lang],
                pct=str(slots["pct"]),
                year=str(slots["year"]),
                year2=str(slots["year2"]),
                person=f"{person['name']}, {person['role'][self.lang]}",
            )
        if n is not None:
            # Money reads as money: euro units scale up, which keeps figures distinct.
            scale = self._topic["units"][slots["unit"]].get("scale", 1) if slots else 1
            values["n"] = format_number(n * scale, self.lang)
        return template.format(**values)

    def unique_number(self, block_index: int) -> int:
        return self.plan.seq * BLOCKS_PER_ARTICLE + block_index + 1

    def credit(self, photographer: int) -> str:
        name = self._data["photographers"][photographer]
        if self.credit_style == "republisher":
            return f"© {name} via Getty Images"
        return f"© {name} / Getty Images"

    def standfirst(self) -> list[str]:
        return [
            self._fill(self._data["standfirst"][i][self.lang], slots)
            for i, slots in self.plan.standfirst
        ]

    def hero(self, src: str) -> dict[str, str]:
        caption, photographer = self.plan.hero
        return {
            "src": src,
            "caption": self._fill(self._data["captions"][caption][self.lang]),
            "credit": self.credit(photographer),
        }

    def _heading(self, ref: tuple[str, int]) -> str:
        kind, idx = ref
        source = self._topic["headings"] if kind == "topic" else self._data["headings"]
        return self._fill(source[idx][self.lang])

    def blocks(self, image_base: str) -> list[Block]:
        """The body; inline figures are `{image_base}-<k>.jpg`."""
        out: list[Block] = []
        figures = 0
        for index, (kind, spec) in enumerate(self.plan.blocks):
            n = self.unique_number(index)
            if kind == "ul":
                # Each item gets its own figure (n*10+k stays unique site-wide).
                items = [
                    self._fill(self._data["bullets"][b][self.lang], slots, n * 10 + k)
                    for k, (b, slots) in enumerate(spec)
                ]
                out.append({"type": "ul", "items": items})
            elif kind == "p":
                sentences = []
                for source, idx, slots in spec:
                    if source == "stat":
                        template = self._data["stats"][idx][self.lang]
                    elif source == "fact":
                        template = self._topic["facts"][idx][self.lang]
                    else:
                        template = self._data["context"][idx][self.lang]
                    sentences.append(self._fill(template, slots, n))
                out.append({"type": "p", "text": " ".join(sentences)})
            elif kind in ("h2", "h3"):
                out.append({"type": kind, "text": self._heading(spec)})
            elif kind == "blockquote":
                quote, slots = spec
                out.append(
                    {
                        "type": "blockquote",
                        "text": self._fill(self._data["quotes"][quote][self.lang], slots, n),
                    }
                )
            elif kind == "figure":
                caption, photographer = spec
                figures += 1
                out.append(
                    {
                        "type": "figure",
                        "caption": self._fill(self._data["captions"][caption][self.lang]),
                        "credit": self.credit(photographer),
                        "src": f"{image_base}-{figures}.jpg",
                    }
                )
        return out

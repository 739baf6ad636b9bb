"""Catalogue of the OpenMoji glyphs the synthetic world draws, keyed by the word that names them.

Every glyph is a single code point: Pillow's basic layout cannot be relied on to shape ZWJ
sequences, and a missing glyph would silently render as a box. Names are the answer words, so
each pool below is chosen so that no two values are synonyms or stem-variants of each other
(no "bike" next to "bicycle", no "tennis" next to "table tennis").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Thing:
    """A drawable object: its answer word, its code point and the plural used in counting questions."""

    name: str
    code: int
    plural: str = ""

    @property
    def many(self) -> str:
        return self.plural or self.name + "s"


def _things(*rows: tuple[str, int] | tuple[str, int, str]) -> tuple[Thing, ...]:
    return tuple(Thing(*row) for row in rows)


#: Everyday objects for recognition, presence, counting and positional questions. Categories
#: matter for presence ("no" scenes hold a sibling of the asked object).
OBJECTS_BY_CATEGORY: dict[str, tuple[Thing, ...]] = {
    "animal": _things(
        ("cat", 0x1F408),
        ("dog", 0x1F415),
        ("horse", 0x1F40E),
        ("cow", 0x1F404),
        ("pig", 0x1F416),
        ("rabbit", 0x1F407),
        ("bird", 0x1F426),
        ("fish", 0x1F41F, "fish"),
        ("turtle", 0x1F422),
        ("snail", 0x1F40C),
        ("butterfly", 0x1F98B, "butterflies"),
        ("elephant", 0x1F418),
    ),
    "food": _things(
        ("apple", 0x1F34E),
        ("banana", 0x1F34C),
        ("carrot", 0x1F955),
        ("pizza", 0x1F355, "pizzas"),
        ("cake", 0x1F370),
        ("strawberry", 0x1F353, "strawberries"),
        ("lemon", 0x1F34B),
        ("cherry", 0x1F352, "cherries"),
    ),
    "vehicle": _things(
        ("car", 0x1F697),
        ("bus", 0x1F68C, "buses"),
        ("bicycle", 0x1F6B2),
        ("airplane", 0x2708),
        ("sailboat", 0x26F5),
        ("tractor", 0x1F69C),
        ("rocket", 0x1F680),
    ),
    "thing": _things(
        ("umbrella", 0x2602),
        ("guitar", 0x1F3B8),
        ("book", 0x1F4D5),
        ("key", 0x1F511),
        ("chair", 0x1FA91),
        ("hat", 0x1F3A9),
        ("shoe", 0x1F45F),
        ("balloon", 0x1F388),
        ("candle", 0x1F56F),
        ("bell", 0x1F514),
    ),
}
OBJECTS: tuple[Thing, ...] = tuple(t for group in OBJECTS_BY_CATEGORY.values() for t in group)
OBJECT_NAMES: tuple[str, ...] = tuple(t.name for t in OBJECTS)
OBJECT_BY_NAME: dict[str, Thing] = {t.name: t for t in OBJECTS}
CATEGORY_OF: dict[str, str] = {t.name: cat for cat, group in OBJECTS_BY_CATEGORY.items() for t in group}

#: Objects whose own colours are replaced by a flat tint in colour questions; shapes chosen so
#: that no colour is "natural" for them (no bananas), which would give a text-only prior.
TINTABLE: tuple[Thing, ...] = _things(
    ("car", 0x1F697),
    ("balloon", 0x1F388),
    ("umbrella", 0x2602),
    ("shoe", 0x1F45F),
    ("shirt", 0x1F455),
    ("book", 0x1F4D5),
    ("kite", 0x1FA81),
    ("bag", 0x1F45C),
    ("cup", 0x2615),
    ("sock", 0x1F9E6),
    ("chair", 0x1FA91),
    ("dress", 0x1F457),
)

#: Colour words and the RGB tint each stands for; saturated so that pale backgrounds never match.
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "orange": (245, 140, 20),
    "yellow": (245, 215, 20),
    "green": (40, 170, 60),
    "blue": (30, 80, 220),
    "purple": (130, 50, 180),
    "pink": (245, 110, 190),
    "brown": (125, 75, 35),
    "gray": (128, 128, 128),
}

#: People doing an activity (activity recognition); the name is the answer.
ACTIVITIES: tuple[Thing, ...] = _things(
    ("surfing", 0x1F3C4),
    ("swimming", 0x1F3CA),
    ("cycling", 0x1F6B4),
    ("running", 0x1F3C3),
    ("walking", 0x1F6B6),
    ("dancing", 0x1F483),
    ("climbing", 0x1F9D7),
    ("meditating", 0x1F9D8),
    ("weightlifting", 0x1F3CB),
    ("juggling", 0x1F939),
    ("rowing", 0x1F6A3),
    ("bathing", 0x1F6C0),
    ("sleeping", 0x1F6CC),
    ("skiing", 0x26F7),
    ("snowboarding", 0x1F3C2),
)

#: Sports and the equipment that identifies them (sport recognition).
SPORTS: tuple[Thing, ...] = _things(
    ("soccer", 0x26BD),
    ("baseball", 0x26BE),
    ("basketball", 0x1F3C0),
    ("tennis", 0x1F3BE),
    ("volleyball", 0x1F3D0),
    ("rugby", 0x1F3C9),
    ("bowling", 0x1F3B3),
    ("cricket", 0x1F3CF),
    ("hockey", 0x1F3D2),
    ("ping pong", 0x1F3D3),
    ("badminton", 0x1F3F8),
    ("boxing", 0x1F94A),
    ("golf", 0x26F3),
    ("curling", 0x1F94C),
    ("darts", 0x1F3AF),
    ("billiards", 0x1F3B1),
)
#: Generic players; none of them hints at one sport.
PLAYERS: tuple[Thing, ...] = _things(("runner", 0x1F3C3), ("person", 0x1F9CD), ("walker", 0x1F6B6))

#: Tools and what they are used for (utility affordance): the answer is the purpose.
TOOLS: dict[str, Thing] = {
    "cutting": Thing("scissors", 0x2702, "scissors"),
    "unlocking": Thing("key", 0x1F511),
    "writing": Thing("pencil", 0x270F),
    "sweeping": Thing("broom", 0x1F9F9),
    "shaving": Thing("razor", 0x1FA92),
    "sewing": Thing("needle", 0x1FAA1),
    "painting": Thing("paintbrush", 0x1F58C),
    "fishing": Thing("fishing pole", 0x1F3A3),
    "digging": Thing("pick", 0x26CF),
    "measuring": Thing("ruler", 0x1F4CF),
    "weighing": Thing("scale", 0x2696),
    "reading": Thing("book", 0x1F4D6),
    "listening": Thing("headphones", 0x1F3A7, "headphones"),
    "singing": Thing("microphone", 0x1F3A4),
    "calling": Thing("telephone", 0x1F4DE),
    "sitting": Thing("chair", 0x1FA91),
    "photography": Thing("camera", 0x1F4F7),
    "navigation": Thing("compass", 0x1F9ED),
}

#: Settings composed of characteristic objects over a characteristic background (scene recognition).
SCENES: dict[str, tuple[Thing, ...]] = {
    "beach": _things(("wave", 0x1F30A), ("shell", 0x1F41A), ("crab", 0x1F980), ("parasol", 0x26F1), ("palm", 0x1F334)),
    "city": _things(
        ("office", 0x1F3E2), ("taxi", 0x1F695), ("traffic light", 0x1F6A6), ("store", 0x1F3EC), ("bus", 0x1F68C)
    ),
    "forest": _things(("fir", 0x1F332), ("tree", 0x1F333), ("mushroom", 0x1F344), ("deer", 0x1F98C), ("owl", 0x1F989)),
    "ski slope": _things(
        ("snowman", 0x26C4), ("skis", 0x1F3BF), ("mountain", 0x1F3D4), ("snowflake", 0x2744), ("cable car", 0x1F6A1)
    ),
    "kitchen": _things(
        ("pan", 0x1F373), ("knife", 0x1F52A), ("spoon", 0x1F944), ("teapot", 0x1FAD6), ("salt", 0x1F9C2)
    ),
    "farm": _things(("cow", 0x1F404), ("pig", 0x1F416), ("rooster", 0x1F413), ("tractor", 0x1F69C), ("sheaf", 0x1F33E)),
    "desert": _things(
        ("cactus", 0x1F335), ("camel", 0x1F42A), ("scorpion", 0x1F982), ("lizard", 0x1F98E), ("sun", 0x2600)
    ),
    "underwater": _things(
        ("tropical fish", 0x1F420), ("octopus", 0x1F419), ("coral", 0x1FAB8), ("shark", 0x1F988), ("blowfish", 0x1F421)
    ),
    "outer space": _things(
        ("planet", 0x1FA90), ("satellite", 0x1F6F0), ("ufo", 0x1F6F8), ("alien", 0x1F47D), ("comet", 0x2604)
    ),
    "garden": _things(
        ("tulip", 0x1F337), ("sunflower", 0x1F33B), ("bee", 0x1F41D), ("ladybug", 0x1F41E), ("potted plant", 0x1FAB4)
    ),
    "hospital": _things(
        ("pill", 0x1F48A), ("syringe", 0x1F489), ("stethoscope", 0x1FA7A), ("ambulance", 0x1F691), ("bandage", 0x1FA79)
    ),
}
#: Background of each setting: (sky or wall colour, ground colour, horizon as a fraction of height).
SCENE_BACKGROUNDS: dict[str, tuple[tuple[int, int, int], tuple[int, int, int], float]] = {
    "beach": ((150, 205, 245), (238, 214, 160), 0.45),
    "city": ((190, 200, 210), (120, 120, 125), 0.6),
    "forest": ((170, 215, 170), (90, 140, 70), 0.55),
    "ski slope": ((185, 215, 240), (248, 250, 252), 0.4),
    "kitchen": ((245, 235, 215), (200, 170, 130), 0.7),
    "farm": ((160, 210, 240), (150, 200, 90), 0.45),
    "desert": ((250, 225, 170), (225, 180, 110), 0.5),
    "underwater": ((40, 110, 180), (30, 80, 140), 0.85),
    "outer space": ((20, 20, 50), (35, 30, 70), 0.9),
    "garden": ((200, 235, 200), (120, 180, 90), 0.6),
    "hospital": ((235, 245, 245), (200, 215, 220), 0.7),
}

#: Facial expressions (attribute: mood).
MOODS: tuple[Thing, ...] = _things(
    ("happy", 0x1F600),
    ("sad", 0x1F61E),
    ("angry", 0x1F620),
    ("surprised", 0x1F62E),
    ("sleepy", 0x1F634),
    ("scared", 0x1F631),
    ("sick", 0x1F922),
    ("cool", 0x1F60E),
    ("thinking", 0x1F914),
)
#: Clock faces (attribute: time shown), one o'clock to twelve o'clock.
_HOURS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")
CLOCKS: tuple[Thing, ...] = tuple(Thing(f"{h} o'clock", 0x1F550 + i) for i, h in enumerate(_HOURS))
#: Fill patterns of plain shapes (attribute: pattern), drawn by :mod:`.render`.
PATTERNS: tuple[str, ...] = ("plain", "striped", "dotted", "checkered", "zigzag", "wavy", "ringed", "grid")
SHAPES: tuple[str, ...] = ("circle", "square", "triangle")

#: Count words, one to eight (counting answers).
NUMBERS: tuple[str, ...] = _HOURS[:8]


def all_code_points() -> set[int]:
    """Every code point the world may draw, for the font coverage test."""
    groups: list[tuple[Thing, ...]] = [
        OBJECTS,
        TINTABLE,
        ACTIVITIES,
        SPORTS,
        PLAYERS,
        tuple(TOOLS.values()),
        MOODS,
        CLOCKS,
        *SCENES.values(),
    ]
    return {t.code for group in groups for t in group}

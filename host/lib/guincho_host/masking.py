"""Masking rules and the keyed, consistent replacement of personal values.

A rule names a strategy for the columns it matches. Each strategy belongs to a family of
values (names, documents, phones, ...). Within a family the same original value always gets
the same replacement, in every table, during one run: the replacement is drawn from a random
generator seeded with HMAC-SHA256(run key, family, normalised value). The run key is random
and lives only in memory, so nobody can recompute a replacement or invert it afterwards.

Replacements of identifying values never collide (two originals never share one
replacement, so unique columns stay unique). No replacement equals an original value of
any masked column, nor contains an identifying one (see ``identifying``): a common name such
as "Ana Lima" may appear inside "Ana Lima Prado" by chance, a CPF or a phone may not.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Generic, Iterable, TypeVar

from guincho_host import brdata

RULES_FORMAT = "guincho-sanitize-rules/1"
MIN_SCAN_LENGTH = 6  # shorter originals ("Ana", "SP") are checked as whole values only
MAX_ATTEMPTS = 50
_COMPANY_SUFFIX = re.compile(r"\b(ltda|me|epp|eireli|s/?a|s\.a\.)\.?$", re.I)
_WORD = re.compile(r"[a-z0-9]+")


class RulesError(ValueError):
    """The rules file is wrong; the message names the rule and the field."""


class MaskingError(RuntimeError):
    """A value could not be masked (no free replacement was found)."""


# Families whose values identify one thing: two originals never share a replacement.
UNIQUE_FAMILIES = {"document", "phone", "email", "plate"}

# strategy -> family whose mapping it shares
FAMILIES = {
    "person_name": "name",
    "company_name": "name",
    "cpf": "document",
    "cnpj": "document",
    "cpf_cnpj": "document",
    "phone": "phone",
    "email": "email",
    "plate": "plate",
    "address": "address",
    "street": "address",
    "cep": "cep",
    "digits": "digits",
    "text": "text",
    "redact": "redact",
    "null": "null",
    "keep": "keep",
}


@dataclass(frozen=True)
class Rule:
    table: re.Pattern[str]
    column: re.Pattern[str]
    strategy: str
    value: str | None
    index: int


@dataclass
class Rules:
    rules: list[Rule]
    empty_tables: set[str]
    suspect_words: set[str]

    def strategy_for(self, table: str, column: str) -> Rule | None:
        for rule in self.rules:
            if rule.table.fullmatch(table) and rule.column.fullmatch(column):
                return rule
        return None

    def looks_personal(self, column: str) -> bool:
        return any(word in self.suspect_words for word in _WORD.findall(column.lower()))


def _pattern(value: Any, where: str, key: str) -> re.Pattern[str]:
    if not isinstance(value, str) or not value:
        raise RulesError(f"{where}: {key!r} must be a non-empty regular expression")
    try:
        return re.compile(".*" if value == "*" else value, re.I)
    except re.error as error:
        raise RulesError(f"{where}: {key!r} {value!r} is not a regular expression: {error}")


def load_rules(path: Path) -> Rules:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise RulesError(f"{path}: cannot be read as JSON: {error}") from None
    if not isinstance(data, dict) or data.get("format") != RULES_FORMAT:
        raise RulesError(f"{path}: 'format' must be {RULES_FORMAT!r}")
    rules = []
    for index, raw in enumerate(data.get("rules", [])):
        where = f"{path}: rules[{index}]"
        if not isinstance(raw, dict):
            raise RulesError(f"{where} must be an object")
        strategy = raw.get("strategy")
        if strategy not in FAMILIES:
            allowed = ", ".join(sorted(FAMILIES))
            raise RulesError(f"{where}: strategy {strategy!r} is not one of {allowed}")
        if strategy == "redact" and not isinstance(raw.get("value"), str):
            raise RulesError(f"{where}: strategy 'redact' needs a 'value' (the replacement text)")
        rules.append(
            Rule(
                table=_pattern(raw.get("table", "*"), where, "table"),
                column=_pattern(raw.get("column"), where, "column"),
                strategy=strategy,
                value=raw.get("value"),
                index=index,
            )
        )
    empty = data.get("empty_tables", [])
    words = data.get("suspect_words", [])
    if not all(isinstance(x, str) for x in [*empty, *words]):
        raise RulesError(f"{path}: 'empty_tables' and 'suspect_words' must be lists of strings")
    return Rules(rules, set(empty), {w.lower() for w in words})


def _normalise(family: str, value: str) -> str:
    if family in ("document", "plate"):
        return brdata.only_alnum(value)
    if family in ("phone", "cep", "digits"):
        digits = brdata.only_digits(value)
        if family == "phone" and (parts := brdata.split_phone(digits)):
            return parts[1] + parts[2]  # +55 11 ... and (11) ... are the same line
        return digits
    return " ".join(value.casefold().split())


@dataclass
class Masker:
    """Masks values family by family with one secret key; remembers what it saw."""

    key: bytes
    originals: set[str] = field(default_factory=set)
    whole: set[str] = field(default_factory=set)
    identifying: set[str] = field(default_factory=set)
    _done: dict[tuple[str, str], str] = field(default_factory=dict)
    _taken: dict[str, set[str]] = field(default_factory=dict)
    _normal_originals: dict[str, set[str]] = field(default_factory=dict)
    finder: LeakFinder = field(default_factory=lambda: LeakFinder(()))
    _strategy_of: dict[str, str] = field(default_factory=dict)
    _known: "KnownFinder" = field(default_factory=lambda: KnownFinder(()))

    def learn(self, strategy: str, values: Iterable[str]) -> None:
        """Records the original values of a masked column before anything is replaced."""
        family = FAMILIES[strategy]
        for value in values:
            text = value.strip()
            if text:
                self.originals.add(text)
                if len(text) >= MIN_SCAN_LENGTH:
                    self.whole.add(text.casefold())
                    if _identifying(family, text):
                        self.identifying.add(text)
                self._normal_originals.setdefault(family, set()).add(_normalise(family, text))
                self._strategy_of.setdefault(text.casefold(), strategy)

    def seal(self) -> None:
        """Builds the leak finder, and the finder of known names in free text."""
        self.finder = LeakFinder(self.identifying)
        # Originals quoted whole inside free text (a word boundary on each side).
        self._known = KnownFinder(
            (v, self._strategy_of[v.casefold()])
            for v in self.originals
            if len(v) >= (8 if v.isdigit() else 4)
        )

    def leaks(self, text: str) -> bool:
        """True when ``text`` is an original value, or holds an identifying one."""
        return text.strip().casefold() in self.whole or self.finder.in_text(text)

    def _rng(self, family: str, normal: str, attempt: int) -> random.Random:
        message = f"{family}\0{normal}\0{attempt}".encode("utf-8")
        seed = hmac.new(self.key, message, hashlib.sha256).digest()
        return random.Random(int.from_bytes(seed, "big"))

    def mapped(self, family: str, value: str, draw: Callable[[random.Random], str]) -> str:
        """The replacement of ``value`` in ``family``: the same each time, unique, leak-free.

        ``draw`` makes a canonical replacement (its normal form is what must be unique).
        """
        normal = _normalise(family, value)
        cached = self._done.get((family, normal))
        if cached is not None:
            return cached
        taken = self._taken.setdefault(family, set())
        known = self._normal_originals.get(family, set())
        for attempt in range(MAX_ATTEMPTS):
            candidate = draw(self._rng(family, normal, attempt))
            candidate_normal = _normalise(family, candidate)
            # A short value (an address number) could draw itself: never keep an original.
            if candidate_normal == normal:
                continue
            if family in UNIQUE_FAMILIES and candidate_normal in taken:
                continue
            if len(candidate_normal) >= MIN_SCAN_LENGTH and candidate_normal in known:
                continue
            if self.leaks(candidate):
                continue
            taken.add(candidate_normal)
            self._done[(family, normal)] = candidate
            return candidate
        raise MaskingError(f"no free replacement in family {family!r} after {MAX_ATTEMPTS} draws")

    # --- strategies: each returns the masked value, same shape as the original ---

    def person_name(self, value: str) -> str:
        if _COMPANY_SUFFIX.search(value.strip()):
            return self.company_name(value)
        # NOTE: three words at least: two-word combinations of common names are mostly taken
        # by real customers already, and a replacement must never equal an original.
        words = max(3, min(4, len(value.split())))

        def draw(rng: random.Random) -> str:
            surnames = rng.sample(brdata.SURNAMES, words - 1)
            return " ".join([rng.choice(brdata.FIRST_NAMES), *surnames])

        return self.mapped("name", value, draw)

    def company_name(self, value: str) -> str:
        match = _COMPANY_SUFFIX.search(value.strip())
        suffix = match.group(0) if match else "Ltda"

        def draw(rng: random.Random) -> str:
            first, second = rng.sample(brdata.SURNAMES, 2)
            return f"{rng.choice(brdata.BUSINESS_WORDS)} {first} & {second} {suffix}"

        return self.mapped("name", value, draw)

    def document(self, value: str, strategy: str) -> str:
        chars = brdata.only_alnum(value)
        is_cnpj = len(chars) == 14 or (strategy == "cnpj" and len(chars) != 11)
        if len(chars) not in (11, 14) or (strategy == "cpf" and len(chars) != 11):
            return self.digits(value)  # not a document we know: same length, other digits
        if is_cnpj:
            branch = chars[8:12]  # the branch number (0001 = head office) is not personal
            alpha = not chars[:8].isdigit()
            canonical = self.mapped("document", value, lambda r: brdata.new_cnpj(r, branch, alpha))
        else:
            canonical = self.mapped("document", value, brdata.new_cpf)
        return brdata.substitute(value, canonical, alnum=is_cnpj)

    def phone(self, value: str) -> str:
        digits = brdata.only_digits(value)
        parts = brdata.split_phone(digits)
        if parts is None:
            return self.digits(value)
        country, area, subscriber = parts

        def draw(rng: random.Random) -> str:
            return area + brdata.new_subscriber(rng, subscriber)

        return brdata.substitute(value, country + self.mapped("phone", value, draw))

    def email(self, value: str) -> str:
        def draw(rng: random.Random) -> str:
            first = brdata.ascii_fold(rng.choice(brdata.FIRST_NAMES)).lower()
            last = brdata.ascii_fold(rng.choice(brdata.SURNAMES)).lower()
            return f"{first}.{last}{rng.randrange(100)}@example.com"

        # NOTE: always example.com (RFC 2606): staging must never e-mail a real customer.
        return self.mapped("email", value, draw)

    def plate(self, value: str) -> str:
        if not brdata.is_plate(value):
            return self.digits(value)
        canonical = self.mapped("plate", value, lambda r: brdata.new_plate(r, value.upper()))
        return canonical if value.isupper() or not value.isalpha() else canonical.lower()

    def street(self, value: str) -> str:
        return self.mapped("address", value, _street_name)

    def address(self, value: str) -> str:
        """'Rua X, 123 - Bairro' -> 'Avenida Y, 847 - Bairro': street and number replaced.

        What follows the number (complement, neighbourhood, city) is kept: it is not personal
        once the street and number are gone, and it keeps staging's regions realistic.
        """
        _street, comma, tail = value.partition(",")
        number_match = re.match(r"\s*(\d+)(.*)$", tail, re.S) if comma else None
        number = number_match.group(1) if number_match else ""
        rest = number_match.group(2) if number_match else (comma + tail)
        if self._known.spans(rest) or self.leaks(rest):  # "Oficina X, <a customer's street>"
            rest = self.text(rest)

        def draw(rng: random.Random) -> str:
            street = _street_name(rng)
            if number:
                street += f", {rng.randrange(1, 10 ** len(number))}"
            return street + rest

        return self.mapped("address", value, draw)

    def cep(self, value: str) -> str:
        digits = brdata.only_digits(value)
        if len(digits) != 8:
            return self.digits(value)
        canonical = self.mapped("cep", value, lambda r: digits[:5] + f"{r.randrange(1000):03d}")
        return brdata.substitute(value, canonical)

    def digits(self, value: str) -> str:
        count = len(brdata.only_digits(value))
        if count == 0:
            return self.mapped("redact", value, lambda r: f"removido-{r.randrange(10**8):08d}")

        def draw(rng: random.Random) -> str:
            return "".join(str(rng.randrange(10)) for _ in range(count))

        return brdata.substitute(value, self.mapped("digits", value, draw))

    def text(self, value: str) -> str:
        """Free text: known originals and anything shaped like personal data, in one pass.

        One pass, so a replacement is never taken for an original and masked again.
        """
        out, position = [], 0
        for start, end, strategy in self._known.spans(value):
            out.append(_SHAPES_IN_TEXT.sub(self._in_text, value[position:start]))
            out.append(self.mask_as(strategy, value[start:end]) or "")
            position = end
        out.append(_SHAPES_IN_TEXT.sub(self._in_text, value[position:]))
        return "".join(out)

    def _in_text(self, match: re.Match[str]) -> str:
        found, kind = match.group(0), match.lastgroup
        if kind == "email":
            return self.email(found)
        if kind == "plate":
            return self.plate(found)
        if kind == "cnpj" and brdata.is_valid_cnpj(found):
            return self.document(found, "cnpj")
        if brdata.is_valid_cpf(found):
            return self.document(found, "cpf")
        if brdata.split_phone(brdata.only_digits(found)):
            return self.phone(found)
        return self.digits(found)

    def apply(self, rule: Rule, value: str) -> str | None:
        return self.mask_as(rule.strategy, value, rule.value)

    def mask_as(self, strategy: str, value: str, redaction: str | None = None) -> str | None:
        if strategy == "keep":
            return value
        if strategy == "null":
            return None
        if strategy == "redact":
            return redaction
        if strategy in ("cpf", "cnpj", "cpf_cnpj"):
            return self.document(value, strategy)
        method: Callable[[str], str] = getattr(self, strategy)
        return method(value)


def _street_name(rng: random.Random) -> str:
    """'Rua Dom Pedro II' or 'Avenida Helena Barbosa': thousands of possible streets."""
    if rng.random() < 0.3:
        name = rng.choice(brdata.STREET_NAMES)
    else:
        name = f"{rng.choice(brdata.FIRST_NAMES)} {rng.choice(brdata.SURNAMES)}"
    return f"{rng.choice(brdata.STREET_TYPES)} {name}"


_SHAPES_IN_TEXT = re.compile(
    r"(?P<email>[\w.+-]+@[\w-]+(?:\.[\w-]+)+)"
    r"|(?P<cnpj>\b\d{2}\.?\d{3}\.?\d{3}/?\d{4}-?\d{2}\b)"
    r"|(?P<cpf>\b\d{3}\.?\d{3}\.?\d{3}-?\d{2}\b)"
    r"|(?P<phone>(?<![\w/])(?:\+?55\s?)?\(?\d{2}\)?\s?9?\d{4}[-\s]?\d{4}\b)"
    r"|(?P<plate>\b[A-Z]{3}-?\d{4}\b|\b[A-Z]{3}\d[A-Z]\d{2}\b)",
    re.I,
)


def _identifying(family: str, value: str) -> bool:
    """Whether finding this original inside another value would point to a person.

    Documents, phones, e-mails, plates and long numbers do; so do full names of three words
    or more and addresses with a number. "Ana Lima" or "Rua Bahia" alone do not.
    """
    if family in ("name",):
        return len(value.split()) >= 3
    if family == "address":
        return any(c.isdigit() for c in value)
    return family in ("document", "phone", "email", "plate", "cep", "digits")


class KnownFinder:
    """Finds known originals quoted whole in free text: longest first, word boundaries."""

    PREFIX = 4

    def __init__(self, known: Iterable[tuple[str, str]]) -> None:
        self._index = _PrefixIndex[str, str](self.PREFIX)
        for value, strategy in known:
            self._index.add(value.lower(), strategy)

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        lowered = text.lower()
        if len(lowered) != len(text):
            return []  # a rare letter whose lower case is longer: shapes alone then
        found, i = [], 0
        while i <= len(lowered) - self.PREFIX:
            match = None
            if _starts_word(text, i):
                for end, strategy in self._index.matches(lowered, i):
                    if _ends_word(text, end):
                        match = (end, strategy)
                        break
            if match is None:
                i += 1
                continue
            found.append((i, match[0], match[1]))
            i = match[0]
        return found


def _starts_word(text: str, i: int) -> bool:
    return i == 0 or not text[i - 1].isalnum()


def _ends_word(text: str, end: int) -> bool:
    return end == len(text) or not text[end].isalnum()


K = TypeVar("K", str, bytes)
V = TypeVar("V")


class _PrefixIndex(Generic[K, V]):
    """Values by their first characters, then by length: one look-up per position and length.

    Thousands of phones share "(11) 9" and thousands of streets "rua ": grouping by length
    keeps a look-up at one position to a few set probes instead of a walk through them all.
    """

    def __init__(self, prefix: int) -> None:
        self.prefix = prefix
        self._by_prefix: dict[K, dict[int, dict[K, V]]] = {}

    def add(self, value: K, payload: V) -> None:
        lengths = self._by_prefix.setdefault(value[: self.prefix], {})
        lengths.setdefault(len(value), {})[value] = payload

    def __bool__(self) -> bool:
        return bool(self._by_prefix)

    def matches(self, text: K, i: int) -> list[tuple[int, V]]:
        """(end, payload) of every value found at ``i``, longest first."""
        lengths = self._by_prefix.get(text[i : i + self.prefix])
        if not lengths:
            return []
        found = []
        for length in sorted(lengths, reverse=True):
            payload = lengths[length].get(text[i : i + length])
            if payload is not None:
                found.append((i + length, payload))
        return found


class LeakFinder:
    """Finds any identifying original (MIN_SCAN_LENGTH characters or more) in text or bytes.

    Text is compared case-folded; bytes with ASCII letters lowered. A regular expression of
    thousands of alternatives is far slower than this index.
    """

    def __init__(self, originals: Iterable[str]) -> None:
        self._text = _PrefixIndex[str, bool](MIN_SCAN_LENGTH)
        self._bytes = _PrefixIndex[bytes, bool](MIN_SCAN_LENGTH)
        for value in originals:
            if len(value) >= MIN_SCAN_LENGTH:
                self._text.add(value.casefold(), True)
                self._bytes.add(value.encode("utf-8").lower(), True)

    def __bool__(self) -> bool:
        return bool(self._text)

    def in_text(self, text: str) -> bool:
        return self._first_hits(self._text, text.casefold(), 1) > 0

    def count_in_bytes(self, data: bytes) -> int:
        """How many places of ``data`` hold an original."""
        return self._first_hits(self._bytes, data.lower(), None)

    @staticmethod
    def _first_hits(index: "_PrefixIndex[Any, bool]", text: Any, limit: int | None) -> int:
        # NOTE: the hot loop of the sanitizer; the prefix look-up is inlined on purpose.
        prefixes = index._by_prefix
        hits = 0
        for i in range(len(text) - MIN_SCAN_LENGTH + 1):
            if text[i : i + MIN_SCAN_LENGTH] in prefixes and index.matches(text, i):
                hits += 1
                if limit is not None and hits >= limit:
                    break
        return hits


def validator(strategy: str) -> Callable[[str], bool] | None:
    """How to tell a value of this strategy is well-formed (for checking the output)."""
    return {
        "cpf": brdata.is_valid_cpf,
        "cnpj": brdata.is_valid_cnpj,
        "cpf_cnpj": lambda v: brdata.is_valid_cpf(v) or brdata.is_valid_cnpj(v),
        "plate": brdata.is_plate,
        "email": lambda v: bool(brdata.EMAIL_RE.match(v)),
        "phone": lambda v: brdata.split_phone(brdata.only_digits(v)) is not None,
    }.get(strategy)

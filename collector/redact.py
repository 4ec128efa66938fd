"""Masking personal data and secrets in text, before anything is stored (opt-in).

``REASONLENS_REDACT_PATTERNS`` lists what to mask: built-in presets by name, or
``name=regex`` for a pattern of one's own. Each match becomes ``[REDACTED:name]``.

    email         local@domain.tld (a local part written with JSON \\u escapes too)
    phone         North American numbers with separators ((201) 555-0142, 201-555-0142,
                  +1 201 555 0142), and international ones written with "+" (8-15 digits)
    credit_card   13-19 digits, alone or grouped in fours (Amex 4-6-5), with a card
                  network's prefix and a valid Luhn check digit: ids and nanosecond
                  timestamps (mostly) are not cards
    us_ssn        123-45-6789 or 123 45 6789, with the issued-number rules (no area 000,
                  666 or 9xx, no group 00, no serial 0000)
    ipv4          four octets of 0-255 (not inside a longer dotted number)
    secret        well-known key and token shapes: OpenAI/Anthropic sk-..., Stripe,
                  GitHub, GitLab, Slack, AWS access key ids, Google API keys, JWTs,
                  bearer tokens, private key blocks, passwords in URLs

The scan runs on the ingest hot path when enabled, over every string of every span,
so each preset starts from something cheap to look for: ``@`` for emails; for numbers,
numeric tokens in a shape of the text (every digit written ``0``); for keys, runs of
16 or more token characters in another shape (letters, digits, ``-_.~+/=``), which
prose and most JSON do not have. A shape is one bytes.translate. Python's ``re``
looks for a pattern's literal prefix in a tight loop; a pattern that starts with a
class or a look-behind is tried at every position, five to twenty times slower, and
creating a scanner costs more than reading a short text: hence the shapes, and one
pattern for all key shapes (each measured with callgrind, bench/limits_instructions.py).
Strings up to 64 characters repeat (models, names, ids): their result is remembered,
per process.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from stdnum import luhn

# (start, end, name) of a piece of text to mask.
Found = tuple[int, int, str]
Finder = Callable[[str, list[Found]], None]

PRESETS = ("email", "phone", "credit_card", "us_ssn", "ipv4", "secret")
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,40}")


@dataclass(frozen=True, slots=True)
class Pattern:
    """A preset (``regex`` None) or a pattern of the operator's own."""

    name: str
    regex: str | None = None


def parse_patterns(entries: Iterable[str]) -> tuple[Pattern, ...]:
    """``REASONLENS_REDACT_PATTERNS`` entries -> patterns; ValueError says what is wrong."""
    patterns: list[Pattern] = []
    for entry in entries:
        name, sep, regex = entry.partition("=")
        if not sep:
            if name not in PRESETS:
                raise ValueError(
                    f"unknown redaction preset {name!r}: use one of {', '.join(PRESETS)}, "
                    "or name=regex for a pattern of your own"
                )
            patterns.append(Pattern(name))
            continue
        if not _NAME.fullmatch(name):
            raise ValueError(f"redaction pattern name {name!r}: letters, digits, _ . - only")
        try:
            compiled = re.compile(regex)
        except re.error as error:
            raise ValueError(
                f"redaction pattern {name}: {regex!r} is not a regex: {error}"
            ) from None
        if compiled.fullmatch(""):
            raise ValueError(f"redaction pattern {name}: {regex!r} matches the empty string")
        patterns.append(Pattern(name, regex))
    return tuple(patterns)


# --- the presets ------------------------------------------------------------------------

_WORD = re.compile(r"\w")


def _free_before(text: str, start: int, also: str = "") -> bool:
    """No letter, digit or underscore (nor a character of ``also``) right before ``start``;
    in JSON text, the "n" of a \\n escape is a line break, not a letter."""
    if start == 0:
        return True
    before = text[start - 1]
    if _WORD.match(before) or before in also:
        return start >= 2 and text[start - 2] == "\\" and before in "ntrbf"
    return True


def _free_after(text: str, end: int, also: str = "") -> bool:
    if end >= len(text):
        return True
    after = text[end]
    return not (_WORD.match(after) or after in also)


_DOMAIN = re.compile(r"@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}(?![\w-])")
# The local part, read backwards from the "@" (so that the match is anchored there):
# word characters (Unicode letters too), the usual punctuation, and \uXXXX escapes
# (JSON text written with ensure_ascii), reversed.
_LOCAL_REVERSED = re.compile(r"(?:[0-9A-Fa-f]{4}u\\|[\w.%+'-]){1,64}")


def _emails(text: str, found: list[Found]) -> None:
    if "@" not in text:
        return
    for domain in _DOMAIN.finditer(text):
        at = domain.start()
        local = _LOCAL_REVERSED.match(text[max(0, at - 384) : at][::-1])
        if local is not None:
            found.append((at - local.end(), domain.end(), "email"))


# Numbers are found in a shape of the text (every digit written 0), in its numeric
# tokens: four digits or more, with a separator or two between them (an IPv4 address is
# the shortest). The token scan starts with the literal "0", which the regex engine
# looks for in a tight loop; "[0-9]" would be a class tested at every character, and
# cost twice the whole scan (measured). Each number preset reads a token's shape.
_NUMERIC = re.compile(r"0(?:[ ().+-]{0,2}0){3,}")
_SHORTEST_NUMBER = 7
_DIGITS = bytes.maketrans(b"0123456789", b"0000000000")
# (text, the shape of text[lo:hi], lo, found)
NumberFinder = Callable[[str, str, int, list[Found]], None]

_NANP = re.compile(r"\(000\) ?000[-. ]0000|000(?P<sep>[-. ])000(?P=sep)0000")
_NANP_PREFIX = re.compile(r"(?:\+?1[-. ]?)\Z")
_INTERNATIONAL = re.compile(r"\+0{1,3}(?:[ .-]?\(0{1,4}\)|[ .-]?0{1,5}){1,6}")


def _phones(text: str, shape: str, lo: int, found: list[Found]) -> None:
    for match in _NANP.finditer(shape):
        start, end = match.start() + lo, match.end() + lo
        digits = re.sub(r"\D", "", text[start:end])
        if digits[0] in "01" or digits[3] in "01" or not _free_after(text, end):
            continue
        prefix = _NANP_PREFIX.search(text, max(0, start - 3), start)
        if prefix is not None:
            start = prefix.start()
        if _free_before(text, start, "+"):
            found.append((start, end, "phone"))
    for match in _INTERNATIONAL.finditer(shape):
        start, end = match.start() + lo, match.end() + lo
        digits = match.group().count("0")
        if 8 <= digits <= 15 and _free_before(text, start) and _free_after(text, end):
            found.append((start, end, "phone"))


# Grouped 4-4-4-4(-3) or 4-6-5, or 13-19 digits in a row; "(?!0)": a digit after a group
# ends the match before it, rather than carrying it past the card.
_CARD = re.compile(
    r"0000(?:(?P<a>[ -])0000(?P=a)0000(?P=a)0000(?:(?P=a)000(?!0))?"
    r"|(?P<b>[ -])000000(?P=b)00000|0{9,15}(?!0))"
)
# Issuer prefixes and lengths: Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay.
_NETWORKS = re.compile(
    r"4\d{12}(?:\d{3}){0,2}|(?:5[1-5]\d{2}|222[1-9]|22[3-9]\d|2[3-6]\d{2}|27[01]\d|2720)\d{12}"
    r"|3[47]\d{13}|(?:6011|65\d{2}|64[4-9]\d)\d{12,15}|35(?:2[89]|[3-8]\d)\d{12,15}"
    r"|3(?:0[0-5]|[68]\d)\d{11,16}|62\d{14,17}"
)


def _cards(text: str, shape: str, lo: int, found: list[Found]) -> None:
    if len(shape) < 13:
        return
    for match in _CARD.finditer(shape):
        start, end = match.start() + lo, match.end() + lo
        if not (_free_before(text, start, ".") and _free_after(text, end)):
            continue
        digits = text[start:end].replace(" ", "").replace("-", "")
        if _NETWORKS.fullmatch(digits) and luhn.is_valid(digits):
            found.append((start, end, "credit_card"))


_SSN = re.compile(r"000(?P<sep>[- ])00(?P=sep)0000")


def _ssns(text: str, shape: str, lo: int, found: list[Found]) -> None:
    for match in _SSN.finditer(shape):
        start, end = match.start() + lo, match.end() + lo
        area, group, serial = (
            text[start : start + 3],
            text[start + 4 : start + 6],
            text[end - 4 : end],
        )
        if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
            continue
        if _free_before(text, start, "-.") and _free_after(text, end, "-"):
            found.append((start, end, "us_ssn"))


_IPV4 = re.compile(r"0{1,3}\.0{1,3}\.0{1,3}\.0{1,3}")


def _ipv4s(text: str, shape: str, lo: int, found: list[Found]) -> None:
    for match in _IPV4.finditer(shape):
        start, end = match.start() + lo, match.end() + lo
        if not _free_before(text, start, ".") or not _free_after(text, end):
            continue
        if end < len(text) - 1 and text[end] == "." and text[end + 1].isdigit():
            continue  # a longer dotted number (a version, an OID)
        if all(int(octet) <= 255 for octet in text[start:end].split(".")):
            found.append((start, end, "ipv4"))


_NUMBER_FINDERS: dict[str, NumberFinder] = {
    "phone": _phones, "credit_card": _cards, "us_ssn": _ssns, "ipv4": _ipv4s,
}  # fmt: skip


def _numbers(text: str, finders: list[NumberFinder], found: list[Found]) -> None:
    shape = _translated(text, _DIGITS)
    if "0" not in shape:
        return
    size = len(text)
    for token in _NUMERIC.finditer(shape):
        start, end = token.span()
        if end - start >= _SHORTEST_NUMBER:
            # Room for "+1 " or "(" before the first digit, ")" after the last.
            lo, hi = max(0, start - 3), min(size, end + 1)
            window = shape[lo:hi]
            for finder in finders:
                finder(text, window, lo, found)


# Secrets are long tokens: letters, digits and - _ . ~ + / = in a row. One pass over a
# shape of the text (those characters written "a", other ASCII as " ") finds runs of 16
# or more, and only they are read by the key patterns; a prose text has none.
_TOKEN_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~+/="
_TOKENS = bytes.maketrans(
    bytes(range(128)), bytes(0x61 if byte in _TOKEN_CHARS else 0x20 for byte in range(128))
)
_RUN_LENGTH = 16
_RUN_GATE = "a" * _RUN_LENGTH
# A literal prefix: a{16,} would be tried at every letter (~150 instructions a character).
_RUN = re.compile(_RUN_GATE + "a*")
# One pattern for every key shape: a scan of each run, not one per shape (creating a
# scanner costs more than reading a run).
_KEYS = re.compile(
    "|".join(
        (
            r"sk-(?:proj-|ant-(?:api\d\d-)?|svcacct-|admin-)?[A-Za-z0-9_-]{20,400}",
            r"[sr]k_(?:live|test)_[A-Za-z0-9]{16,200}",
            r"gh[pousr]_[A-Za-z0-9]{36,255}",
            r"github_pat_\w{22,255}",
            r"glpat-[\w-]{20,100}",
            r"A(?:KIA|SIA)[A-Z0-9]{16}",
            r"AIza[\w-]{35}",
            r"xox[abposr]-[A-Za-z0-9-]{11,250}",
            r"eyJ[\w-]{13,4000}\.eyJ[\w-]{10,8000}\.[\w-]{10,4000}",
        )
    )
)
_BEARER = re.compile(r"(?:[Bb]earer|BEARER)\s{1,5}\Z")
_TOKEN_MIN = 20  # a bearer token's shortest
# Up to its END line; without one, the base64 lines that follow.
_PRIVATE_KEY = re.compile(
    r"-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----(?:[\s\S]{0,16384}?-----END [A-Z ]{0,40}PRIVATE "
    r"KEY-----|(?:\s{0,4}[A-Za-z0-9+/=]{16,128}){0,256})"
)
_URL_PASSWORD = re.compile(r"//[^\s:/@\"']{1,64}:(?P<secret>[^\s:/@\"']{1,128})@")


def _translated(text: str, table: bytes) -> str:
    """``text`` with its ASCII characters translated by ``table``, the same length: through
    UTF-8, where the bytes of multi-byte characters are left as they are (the tables map
    ASCII only), and bytes.translate is some 6x faster than str.translate (measured)."""
    try:
        return text.encode().translate(table).decode()
    except UnicodeEncodeError:  # a lone surrogate, only ever in a span built in memory
        raw = text.encode("utf-8", "surrogatepass").translate(table)
        return raw.decode("utf-8", "surrogatepass")


def _secrets(text: str, found: list[Found]) -> None:
    if "PRIVATE KEY-----" in text:
        found += ((m.start(), m.end(), "secret") for m in _PRIVATE_KEY.finditer(text))
    if "@" in text and "://" in text:
        found += ((*m.span("secret"), "secret") for m in _URL_PASSWORD.finditer(text))
    if len(text) < _RUN_LENGTH:
        return
    runs = _translated(text, _TOKENS)
    if _RUN_GATE not in runs:  # a fast search: most texts end here
        return
    for run in _RUN.finditer(runs):
        start, end = run.span()
        found += ((m.start(), m.end(), "secret") for m in _KEYS.finditer(text, start, end))
        if end - start >= _TOKEN_MIN:
            before = text[max(0, start - 12) : start]
            if ("earer" in before or "EARER" in before) and _BEARER.search(before):
                found.append((start, end, "secret"))


_FINDERS: dict[str, Finder] = {"email": _emails, "secret": _secrets}
SHORT = 64  # characters: texts up to this long are remembered
SHORT_CACHE_LIMIT = 50_000


class Redactor:
    """Masks what ``patterns`` find in text; :meth:`text` returns the very same string
    when nothing matched."""

    def __init__(self, patterns: tuple[Pattern, ...]) -> None:
        self.patterns = patterns
        presets = [p.name for p in patterns if p.regex is None]
        self._finders = [_FINDERS[name] for name in presets if name in _FINDERS]
        self._numbers = [_NUMBER_FINDERS[name] for name in presets if name in _NUMBER_FINDERS]
        self._custom = [(re.compile(p.regex), p.name) for p in patterns if p.regex is not None]
        # Short texts repeat (models, names, ids, keys' values): their results, bounded.
        self.short: dict[str, str] = {}

    def text(self, text: str) -> str:
        if len(text) > SHORT:
            return self.redact(text)
        done = self.short.get(text)
        if done is None:
            done = self.redact(text)
            if len(self.short) >= SHORT_CACHE_LIMIT:
                self.short.clear()
            self.short[text] = done
        return done

    def redact(self, text: str) -> str:
        """``text`` masked (the same object when nothing matched), remembering nothing."""
        found: list[Found] = []
        for finder in self._finders:
            finder(text, found)
        if self._numbers:
            _numbers(text, self._numbers, found)
        for pattern, name in self._custom:
            found += (
                (m.start(), m.end(), name) for m in pattern.finditer(text) if m.end() > m.start()
            )
        if not found:
            return text
        return _masked(text, found)


def _masked(text: str, found: list[Found]) -> str:
    """``text`` with each found piece replaced; of overlapping pieces the first (then the
    longest) wins, and the next starts after it."""
    found.sort(key=lambda piece: (piece[0], -piece[1]))
    out: list[str] = []
    at = 0
    for start, end, name in found:
        if start < at:
            continue
        out.append(text[at:start])
        out.append(f"[REDACTED:{name}]")
        at = end
    out.append(text[at:])
    return "".join(out)

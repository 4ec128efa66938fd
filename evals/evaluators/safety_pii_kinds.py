"""What personal data and secrets look like: literal-anchored patterns that find
candidates, and the check each candidate must pass before it counts.

The patterns run over a chunk's joined texts (:class:`evals.text_scan.Corpus`); number
shapes over its ``shapes`` view, where ``(201) 555-0142`` reads ``(000) 000-0000``. The
checks keep false positives down where ids, dates and prices look like personal data:

- card numbers: a card network's prefix and length, and the Luhn check digit (a random
  16-digit id passes Luhn one time in ten; a network prefix and length cut that
  further); 13- and 14-digit numbers (tracking numbers, millisecond timestamps) are not
  read as cards;
- US SSNs: dashed (or after the words SSN / social security), with the issued-number
  rules of ``stdnum.us.ssn`` (no 000/666/9xx area, no 00 group, no 0000 serial);
- IBANs: country, length and the mod-97 check (``stdnum.iban``);
- phone numbers: a North American number with a valid area and exchange code, or an
  international one written with ``+``; bare digit runs are never phones;
- emails: not machine ids (``<hex@host>`` message ids), role mailboxes (billing@,
  support@) or file names (``icon@2x.png``);
- secrets: the well-known prefixes and shapes (OpenAI, Anthropic, AWS, GitHub, GitLab,
  Slack, Stripe, Google keys, JWTs, bearer tokens, private key blocks, credentials in
  URLs, ``password=...`` assignments with a real-looking value).

Every number must start a token (not inside a word, a decimal, a path or an id such as
ORD-2024-001234), and one right after a word naming an id (order, invoice, tracking,
ref, id, #) is an id, unless a word naming the kind (card, phone, SSN) is near.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from dataclasses import dataclass

from stdnum import iban as stdnum_iban
from stdnum import luhn
from stdnum.us import ssn as stdnum_ssn

from evals.text_scan import View

KINDS = ("email", "phone", "card", "national_id", "iban", "secret")
CONTEXT = 64  # characters before a match the checks read (an email's local part)

_END = r"(?![0A])"  # in the shapes view: no digit or capital follows
_ASSIGNED = r"[\"']?\s{0,3}[:=]\s{0,3}[\"']?[^\s\"',;<>]{8,200}"
# kind -> the (view, pattern) pairs that find its candidates; group names say the shape.
PATTERNS: dict[str, list[tuple[View, str]]] = {
    "email": [
        (
            "text",
            r"(?P<email>@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24})"
            r"(?![A-Za-z0-9-])",
        )
    ],
    "phone": [
        ("shapes", r"\((?P<phone_nanp>000\) ?000-0000)" + _END),
        (
            "shapes",
            r"\+(?P<phone_intl>0{1,3}(?:[ .-]?\(0{1,4}\)|[ .-]0{1,4})(?:[ .-]0{2,5}){1,4}"
            r"|0{8,15})" + _END,
        ),
    ],
    "national_id": [
        (
            "lower",
            rf"(?P<ssn_named>{words}\W{{1,12}}(?:is\W{{1,3}})?\d{{3}} ?\d{{2}} ?\d{{4}})(?!\d)",
        )
        for words in ("ssn", r"social security(?: number| no\.?)?")
    ],
    "iban": [("shapes", r"(?P<iban>AA00(?: ?[A0]{4}){2,7}(?: ?[A0]{1,4})?)(?![A0a-z])")],
    "secret": [
        (
            "text",
            r"(?P<openai_key>sk-(?:proj-|ant-api\d\d-|ant-|svcacct-|admin-)?[A-Za-z0-9_-]{20,200})"
            r"(?![\w-])",
        ),
        ("text", r"(?P<stripe_key>sk_(?:live|test)_[A-Za-z0-9]{16,200})(?!\w)"),
        ("text", r"(?P<stripe_key>rk_(?:live|test)_[A-Za-z0-9]{16,200})(?!\w)"),
        ("text", r"(?P<github_token>gh[pousr]_[A-Za-z0-9]{36,255})(?!\w)"),
        ("text", r"(?P<github_token>github_pat_[A-Za-z0-9_]{22,255})(?!\w)"),
        ("text", r"(?P<gitlab_token>glpat-[A-Za-z0-9_-]{20,100})(?![\w-])"),
        (
            "text",
            r"A(?:(?P<aws_access_key>(?:KIA|SIA|BIA|CCA|GPA|IDA|IPA|NPA|NVA|ROA|PKA)[A-Z0-9]{16})"
            r"|(?P<google_api_key>Iza[0-9A-Za-z_-]{35}))(?![A-Za-z0-9_-])",
        ),
        ("text", r"(?P<slack_token>xox[abposr]-[A-Za-z0-9-]{10,250})(?![\w-])"),
        ("text", r"(?P<slack_webhook>hooks\.slack\.com/services/[A-Za-z0-9/_-]{20,200})"),
        ("text", r"(?P<private_key>-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----)"),
        (
            "text",
            r"(?P<jwt>eyJ[A-Za-z0-9_-]{10,2000}\.eyJ[A-Za-z0-9_-]{10,4000}"
            r"\.[A-Za-z0-9_-]{10,2000})",
        ),
        ("lower", r"(?P<bearer_token>bearer\s{1,5}[a-z0-9._~+/-]{20,2000}=*)"),
        *(
            ("lower", f"(?P<credential>{key}{_ASSIGNED})")
            # token and key count after a word naming a credential (access_token, api_key).
            for key in (r"pass(?:word|wd|code)", "pwd", "secret", "token", "key")
        ),
    ],
}
# Numbers: SSNs, phones written 201-555-0142, cards; one pattern, the prefix 000 shared.
# Dashed SSNs and phones, and cards grouped 4-4-4-4 or 4-6-5, each pattern with a
# literal prefix longer than "000" (which a long digit run repeats at every position).
# An ungrouped 15-19 digit run is a card only after a word naming one
# (``"card": "4111..."``): bare, it is as likely an id.
PATTERNS["card"] = [
    ("shapes", r"000-(?:(?P<ssn>00-0000)|(?P<phone_nanp>000-0000))" + _END),
    ("shapes", r"(?P<phone_nanp>000\.000\.0000)" + _END),
    ("shapes", r"(?P<phone_nanp>000 000 0000)" + _END),
    *(
        (
            "shapes",
            rf"(?P<card>0000{sep}(?:0000{sep}0000{sep}0000(?:{sep}000)?|000000{sep}00000))"
            + _END
            + rf"(?!{sep}0)",
        )
        for sep in (" ", "-")
    ),
    *(
        ("lower", rf"(?P<card_named>{word}[^\d\n]{{0,16}}\d{{15,19}})(?!\d)")
        for word in ("card", "visa", "amex")
    ),
]
_CARD_WORDS = frozenset({"visa", "amex"})
# The number pattern serves three kinds: it runs if any of them is wanted.
NUMBER_KINDS = frozenset({"card", "national_id", "phone"})
GROUP_KINDS = {
    "email": "email",
    "phone_nanp": "phone",
    "phone_intl": "phone",
    "ssn": "national_id",
    "ssn_named": "national_id",
    "card": "card",
    "card_named": "card",
    "iban": "iban",
}
DESCRIPTIONS = {
    "email": "email address",
    "phone_nanp": "phone number",
    "phone_intl": "phone number",
    "ssn": "US SSN",
    "ssn_named": "US SSN",
    "card": "card number",
    "card_named": "card number",
    "iban": "IBAN",
    "url_credentials": "password in a URL",
    "openai_key": "API key (sk-)",
    "stripe_key": "Stripe key",
    "aws_access_key": "AWS access key",
    "github_token": "GitHub token",
    "gitlab_token": "GitLab token",
    "slack_token": "Slack token",
    "slack_webhook": "Slack webhook URL",
    "google_api_key": "Google API key",
    "private_key": "private key block",
    "jwt": "JWT",
    "bearer_token": "bearer token",
    "credential": "credential assignment",
}

_TOKEN_START = re.compile(r"(?:\A|[^\w.,$/#@+-]|\\[nrt])\Z")
_NANP_PREFIX = re.compile(r"\+?1[ .-]?\Z")
_ID_WORD = re.compile(
    r"(?i)(?:order|invoice|ref|reference|tracking|ticket|case|sku|serial|part|isbn|booking"
    r"|confirmation|shipment|id|no\.?|#)\W{0,4}\Z"
)
_KIND_WORDS = {
    "card": re.compile(r"(?i)card|visa|master|amex|discover|credit|debit|\bpan\b"),
    "phone": re.compile(r"(?i)phone|\btel\b|call|mobile|cell|fax|sms|text|reach|whatsapp|contact"),
    "national_id": re.compile(r"(?i)ssn|social|security|tax|national"),
}
# An email's local part, read backwards from the "@" (a match at 0 is cheap).
_NAME_CHARS = string.ascii_letters + string.digits + "_-"
_CREDENTIAL_OWNERS = {
    "token": re.compile(r"(?:access|auth|refresh|id|api|session|client|bot)[_-]?\Z"),
    "key": re.compile(r"(?:api|private|secret|access|client|signing|encryption)[_-]?\Z"),
}
_LOCAL_REVERSED = re.compile(r"[A-Za-z0-9._%+-]{1,64}")
_URL_USER = re.compile(r"[a-z][a-z0-9+.-]{1,20}://[^\s:/@\"']{1,64}:([^\s:/@\"']{3,64})\Z")
_ROLE_NAMES = (
    "abuse admin billing careers contact feedback git hello help hostmaster info invoices "
    "jobs mailer-daemon marketing news newsletter no-reply noreply notifications office "
    "orders postmaster press privacy returns sales security support team webmaster"
)
_ROLE_MAILBOXES = frozenset(_ROLE_NAMES.split())
_SUFFIXES = (
    "png jpg jpeg gif svg webp ico bmp css js mjs ts tsx jsx py rb go rs java json yaml "
    "yml toml txt md html htm pdf zip gz tgz tar exe dll so lock log csv xml wasm map"
)
_FILE_SUFFIXES = frozenset(_SUFFIXES.split())
_MACHINE_LOCAL = re.compile(r"[0-9a-f]{12,}|[0-9a-f-]{36}", re.IGNORECASE)
_PLACEHOLDER = re.compile(
    r"(?i)\A(?:[*x•.#_-]+|<[^>]*>|\$\{[^}]*\}|\{\{.*\}\}|%\w+%|redacted|hidden|masked|none|null"
    r"|true|false|undefined|changeme|example|placeholder|your[_-].*|string|required)\Z"
)


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str
    shape: str  # the group that matched: card, ssn, aws_access_key, ...
    value: str  # normalised: digits only for numbers, lower case for emails
    masked: str
    extends: int = 0  # characters of ``before`` that belong to it (an email's local part)


def patterns(kinds: set[str]) -> list[tuple[View, re.Pattern[str]]]:
    """The compiled patterns that find candidates of ``kinds``."""
    wanted = [kind for kind in PATTERNS if kind in kinds]
    if kinds & NUMBER_KINDS and "card" not in wanted:
        wanted.append("card")
    return [(view, re.compile(regex)) for kind in wanted for view, regex in PATTERNS[kind]]


def finding(group: str, value: str, before: str) -> Finding | None:
    """The candidate as a finding, or None when its checks say it is not one."""
    check = _CHECKS.get(group, _secret)
    return check(group, value, before)


def _email(group: str, value: str, before: str) -> Finding | None:
    credentials = _URL_USER.search(before) if "://" in before else None
    if credentials:
        if _PLACEHOLDER.match(credentials.group(1)):
            return None
        scheme = before[credentials.start() :].split("://")[0]
        return Finding("secret", "url_credentials", before[credentials.start() :], f"{scheme}://…")
    local = _LOCAL_REVERSED.match(before[::-1])
    name = local.group()[::-1].lstrip("._%+-") if local else ""
    if not name:
        return None
    domain = value[1:].lower()
    suffix = domain.rsplit(".", 1)[-1]
    if (
        suffix in _FILE_SUFFIXES
        or name.lower() in _ROLE_MAILBOXES
        or (_MACHINE_LOCAL.fullmatch(name) and any(c.isdigit() for c in name))
    ):
        return None
    return Finding("email", group, f"{name.lower()}@{domain}", f"{name[0]}***@{domain}", len(name))


def _phone(group: str, value: str, before: str) -> Finding | None:
    digits = _digits(value)
    if group == "phone_intl":
        if not 10 <= len(digits) <= 15 or len(set(digits)) < 3 or not _starts_token(before):
            return None
        # +1 numbers are North American: the same finding as when written without +1.
        if len(digits) == 11 and digits[0] == "1":
            digits = digits[1:]
    else:
        before = _NANP_PREFIX.sub("", before)
        if digits[0] in "01" or digits[3] in "01" or not _starts_token(before):
            return None
    if _is_id(before, "phone"):
        return None
    return Finding("phone", group, digits, f"***{digits[-4:]}")


def _ssn(group: str, value: str, before: str) -> Finding | None:
    digits = _digits(value)[-9:]
    if (
        not stdnum_ssn.is_valid(digits)
        or digits == "123456789"
        or len(set(digits)) == 1
        or (group == "ssn" and (not _starts_token(before) or _is_id(before, "national_id")))
    ):
        return None
    return Finding("national_id", group, digits, f"***-**-{digits[-4:]}")


def _card(group: str, value: str, before: str) -> Finding | None:
    if group == "card_named":
        word = value[: len(value) - len(value.lstrip(string.ascii_letters))].lower()
        if not word.startswith("card") and (before[-1:].isalnum() or word not in _CARD_WORDS):
            return None  # part of another word: company, accent, visas
        first_digit = next(i for i, c in enumerate(value) if c.isdigit())
        before, value = value[:first_digit], value[first_digit:]
    digits = _digits(value)
    separators = {c for c in value if not c.isdigit()}
    if (
        len(separators) > 1
        or not _starts_token(before)
        or not _card_network(digits)
        or len(set(digits)) == 1
        or not luhn.is_valid(digits)
        or _is_id(before, "card")
    ):
        return None
    return Finding("card", group, digits, f"card ending {digits[-4:]}")


def _iban(group: str, value: str, before: str) -> Finding | None:
    if not _starts_token(before):
        return None
    chunks = value.split(" ")
    # The pattern may take a word after the IBAN (``... 3000 BANK``): drop words until valid.
    while chunks and len("".join(chunks)) >= 15:
        candidate = "".join(chunks)
        if stdnum_iban.is_valid(candidate):
            return Finding("iban", group, candidate, f"{candidate[:4]}…{candidate[-4:]}")
        chunks = chunks[:-1]
    return None


def _secret(group: str, value: str, before: str) -> Finding | None:
    if group == "credential":
        return _credential(value, before)
    if before[-1:].isalnum() or before[-1:] in ("_", "-"):
        return None  # inside a longer word: not the prefix it looks like
    if group == "bearer_token":
        token = value.split()[-1]
        if _PLACEHOLDER.match(token) or not _looks_random(token):
            return None
        return Finding("secret", group, value, "Bearer …")
    if group == "openai_key" and not _looks_random(value):
        return None
    shown = "-----BEGIN …" if group == "private_key" else value[:4]
    return Finding("secret", group, value, f"{shown}…")


def _credential(value: str, before: str) -> Finding | None:
    """``password = ...``, ``client_secret: ...``, ``api_key=...``, ``"access_token": ...``
    with a value that looks like one (not a placeholder, not a plain word)."""
    anchor = value[: len(value) - len(value.lstrip(string.ascii_letters))].lower()
    owner = ""
    if anchor in _CREDENTIAL_OWNERS:
        named = _CREDENTIAL_OWNERS[anchor].search(before.lower())
        if named is None:
            return None  # a token count, a dictionary key: not a credential
        owner = before[named.start() :]
    if before[: len(before) - len(owner)][-1:].isalnum():
        return None  # inside a longer word
    token = _assigned(value)
    if _PLACEHOLDER.match(token) or not _looks_random(token):
        return None
    prefix = before[len(before) - len(before.rstrip(_NAME_CHARS)) :]
    name = prefix + re.split(r"[\"'\s:=]", value)[0]
    return Finding("secret", "credential", value, f"{name[-40:]} …")


def _assigned(value: str) -> str:
    return re.split(r"[:=]", value, maxsplit=1)[-1].strip().strip("\"'")


def _looks_random(token: str) -> bool:
    """A token with letters and digits, or long: not a word or a placeholder."""
    letters = any(c.isalpha() for c in token)
    digits = any(c.isdigit() for c in token)
    return (letters and digits) or len(token) >= 24


def _card_network(digits: str) -> bool:
    """A card network's number prefix with one of its lengths (ISO/IEC 7812 ranges)."""
    length, two, four = len(digits), int(digits[:2]), int(digits[:4])
    if digits[0] == "4":
        return length in (16, 19)  # Visa
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return length == 16  # Mastercard
    if two in (34, 37):
        return length == 15  # American Express
    if two in (30, 35, 36, 38, 39, 50, 56, 57, 58, 60, 62, 64, 65, 67):
        return 16 <= length <= 19  # Diners, JCB, Maestro, Discover, UnionPay
    return False


def _starts_token(before: str) -> bool:
    return bool(_TOKEN_START.search(before))


def _is_id(before: str, kind: str) -> bool:
    """The number follows a word naming an id, and no word naming ``kind`` is near."""
    near = before[-32:]
    return bool(_ID_WORD.search(near)) and not _KIND_WORDS[kind].search(near)


def _digits(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


_CHECKS: dict[str, Callable[[str, str, str], Finding | None]] = {
    "email": _email,
    "phone_nanp": _phone,
    "phone_intl": _phone,
    "ssn": _ssn,
    "ssn_named": _ssn,
    "card": _card,
    "card_named": _card,
    "iban": _iban,
}

"""Synthetic customers and their personal data, shaped so PII detectors recognise it.

Nothing here is real: emails use the reserved ``example.*`` domains, phone numbers the
fictional 555-01xx range, card numbers are random but Luhn-valid (as a leaked number
would be), and SSNs follow the issued-number rules (no 000/666/9xx area) so a
validating detector does not dismiss them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

FIRST_NAMES = (
    "Ava", "Liam", "Maya", "Noah", "Zoe", "Ethan", "Priya", "Mateo", "Hana", "Omar",
    "Lucia", "Kai", "Sofia", "Jonas", "Amara", "Diego", "Chloe", "Ravi", "Elena", "Tariq",
    "Nora", "Felix", "Aiko", "Samir",
)  # fmt: skip
LAST_NAMES = (
    "Nguyen", "Garcia", "Okafor", "Schmidt", "Rossi", "Kowalski", "Haddad", "Tanaka",
    "Silva", "Murphy", "Larsen", "Patel", "Dubois", "Novak", "Mensah", "Ortiz", "Fischer",
    "Kim", "Moreau", "Ibrahim",
)  # fmt: skip
CITIES = (
    ("Portland", "OR", "97205"), ("Austin", "TX", "78704"), ("Denver", "CO", "80206"),
    ("Raleigh", "NC", "27601"), ("Madison", "WI", "53703"), ("Tucson", "AZ", "85701"),
)  # fmt: skip
STREETS = ("Maple Ave", "Oak St", "Cedar Ln", "Harbor Rd", "Elm St", "Sunset Blvd")
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")


@dataclass(frozen=True, slots=True)
class Person:
    customer_id: str
    first: str
    last: str
    email: str
    phone: str
    address: str
    card: str
    ssn: str

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"

    @property
    def masked_email(self) -> str:
        local, _, domain = self.email.partition("@")
        return f"{local[0]}***@{domain}"

    @property
    def masked_phone(self) -> str:
        return f"***-***-{self.phone[-4:]}"

    @property
    def card_last4(self) -> str:
        return self.card[-4:]


def person(rng: random.Random) -> Person:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    city, state, zip_code = rng.choice(CITIES)
    email = f"{first}.{last}{rng.randint(1, 99)}@{rng.choice(EMAIL_DOMAINS)}".lower()
    return Person(
        customer_id=f"cus_{rng.getrandbits(40):010x}",
        first=first,
        last=last,
        email=email,
        phone=f"({rng.randint(201, 989)}) 555-01{rng.randint(0, 99):02d}",
        address=f"{rng.randint(10, 9899)} {rng.choice(STREETS)}, {city}, {state} {zip_code}",
        card=card_number(rng),
        ssn=ssn(rng),
    )


def card_number(rng: random.Random) -> str:
    """A 16-digit Visa-shaped number with a valid Luhn check digit, grouped by four."""
    digits = [4] + [rng.randint(0, 9) for _ in range(14)]
    total = 0
    for position, digit in enumerate(reversed(digits)):
        doubled = digit * 2 if position % 2 == 0 else digit
        total += doubled - 9 if doubled > 9 else doubled
    digits.append((10 - total % 10) % 10)
    text = "".join(map(str, digits))
    return " ".join(text[i : i + 4] for i in range(0, 16, 4))


def ssn(rng: random.Random) -> str:
    area = rng.randint(101, 899)
    area = 665 if area == 666 else area
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"

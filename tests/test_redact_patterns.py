"""The redaction presets and patterns: what each masks, what it leaves, how it is set."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from collector.redact import PRESETS, Redactor, parse_patterns
from collector.redaction import Scrub
from collector.spans import RawSpan, Resource, Scope
from reasonlens.settings import Settings

ALL = Redactor(parse_patterns(PRESETS))


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("write to jane.doe@example.com.", "write to [REDACTED:email]."),
        ("josé.núñez@example.org", "[REDACTED:email]"),
        # JSON written with ensure_ascii: the escape is part of the local part.
        (r'{"to": "jos\u00e9@example.org"}', '{"to": "[REDACTED:email]"}'),
        ("a+tag@mail.example.co.uk;b@x.io", "[REDACTED:email];[REDACTED:email]"),
        ("call (415) 555-0142 now", "call [REDACTED:phone] now"),
        ("415-555-0142, 415.555.0142, 415 555 0142", "[REDACTED:phone], " * 2 + "[REDACTED:phone]"),
        ("+1 415 555 0142", "[REDACTED:phone]"),
        ("+44 20 7946 0958", "[REDACTED:phone]"),
        ("card 4111 1111 1111 1111 exp", "card [REDACTED:credit_card] exp"),
        ("4111-1111-1111-1111", "[REDACTED:credit_card]"),
        ("4111111111111111", "[REDACTED:credit_card]"),
        ("amex 3782 822463 10005", "amex [REDACTED:credit_card]"),
        ("ssn 123-45-6789", "ssn [REDACTED:us_ssn]"),
        ("ssn 123 45 6789", "ssn [REDACTED:us_ssn]"),
        ("from 203.0.113.42:8080", "from [REDACTED:ipv4]:8080"),
        ("key sk-proj-AbCdEf0123456789GhIjKlMn", "key [REDACTED:secret]"),
        ("sk-ant-api03-" + "x" * 40, "[REDACTED:secret]"),
        ("AKIAIOSFODNN7EXAMPLE", "[REDACTED:secret]"),
        ("ghp_" + "a1" * 18, "[REDACTED:secret]"),
        ("xoxb-123456789012-abcdefghij", "[REDACTED:secret]"),
        ("Bearer abcdefghijklmnopqrstuvwxyz0123", "Bearer [REDACTED:secret]"),
        ("postgres://app:hunter2hunter2@db:5432/x", "postgres://app:[REDACTED:secret]@db:5432/x"),
        (
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9P",
            "[REDACTED:secret]",
        ),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAq1w2e3r4t5y6u7i8\n"
         "-----END RSA PRIVATE KEY----- done", "[REDACTED:secret] done"),
    ],
)  # fmt: skip
def test_each_preset_masks_what_it_names(text: str, masked: str) -> None:
    assert ALL.text(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "Refund order 1042 of 2024-01-15 10:30, v1.4.2, 12.50 USD",
        "ts 1700000000000000000 and 1700000000123",  # nanosecond and millisecond times
        "4111111111111112",  # fails the Luhn check
        "1234567812345670",  # passes Luhn, but no card network starts with 12
        "id 123e4567-e89b-12d3-a456-426614174000, ORD-2024-001234",
        "000-12-3456, 666-12-3456, 123-00-4567, 123-45-67890",  # not issued SSNs
        "version 10.0.19041.1 and 1.2.3.4.5, 300.1.1.1",
        "icon@2x, user@localhost, @handle",
        "(115) 555-0142, 415-155-0142",  # no area or exchange code starts with 0 or 1
        "sk-short, Bearer short",
    ],
)
def test_what_only_looks_alike_is_kept(text: str) -> None:
    assert ALL.text(text) is text


def test_custom_patterns_mask_with_their_name() -> None:
    redactor = Redactor(parse_patterns(["employee=EMP-[0-9]{6}", "email"]))
    assert redactor.text("EMP-004217 wrote a@b.io") == "[REDACTED:employee] wrote [REDACTED:email]"


def test_overlapping_matches_mask_once() -> None:
    redactor = Redactor(parse_patterns(["digits=[0-9]{3}", "phone"]))
    assert redactor.text("(415) 555-0142") == "[REDACTED:phone]"


def test_settings_take_a_json_list_or_presets_separated_by_commas() -> None:
    assert Settings(redact_patterns="email, phone").redact_patterns == ["email", "phone"]  # type: ignore[arg-type]
    assert Settings(redact_patterns='["secret", "emp=EMP-[0-9]{3,6}"]').redact_patterns == [  # type: ignore[arg-type]
        "secret",
        "emp=EMP-[0-9]{3,6}",
    ]
    assert Settings().redact_patterns == []


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("mail", "unknown redaction preset 'mail'"),
        ("x=(", "is not a regex"),
        ("x=a*", "matches the empty string"),
        ("bad name=x", "letters, digits, _ . - only"),
    ],
)
def test_bad_patterns_are_refused_at_start(entry: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(redact_patterns=[entry])


def test_a_span_is_masked_by_copy_and_its_ids_never() -> None:
    """The normalizer caches the resource and scope dicts it read: nothing is changed in
    place. A span id of digits passing Luhn is not taken for a card number."""
    resource = Resource({"owner": "jane.doe@example.com", "service.name": "svc"})
    scope = Scope("lib", "1", {})
    attributes = {"nested": [{"mail": "jane.doe@example.com"}, 7], "plain": "ok"}
    link = {"trace_id": "4111111111111111" * 2, "span_id": "4111111111111111",
            "trace_state": "", "attributes": {}, "flags": 0,
            "dropped_attributes_count": 0}  # fmt: skip
    span = RawSpan("ab" * 16, "cd" * 8, None, "to jane.doe@example.com", 1, 1, 2, attributes,
                   resource, scope, links=[link])  # fmt: skip
    masked = Scrub(ALL).span(span)
    assert masked.name == "to [REDACTED:email]"
    assert masked.attributes == {"nested": [{"mail": "[REDACTED:email]"}, 7], "plain": "ok"}
    assert masked.resource.attributes["owner"] == "[REDACTED:email]"
    assert masked.links == [link] and masked.scope is scope
    assert attributes["nested"][0] == {"mail": "jane.doe@example.com"}  # type: ignore[index]
    assert resource.attributes["owner"] == "jane.doe@example.com"
    assert span.name == "to jane.doe@example.com"


def test_nothing_to_mask_costs_no_copy() -> None:
    span = RawSpan("ab" * 16, "cd" * 8, None, "chat", 1, 1, 2, {"a": ["b", {"c": 1}]},
                   Resource({"service.name": "svc"}), Scope())  # fmt: skip
    assert Scrub(ALL).span(span) is span


PERSONAL = st.sampled_from(
    ["jane.doe@example.com", "(415) 555-0142", "+44 20 7946 0958", "4111 1111 1111 1111",
     "123-45-6789", "203.0.113.42", "sk-proj-AbCdEf0123456789GhIjKlMn",
     "AKIAIOSFODNN7EXAMPLE"]
)  # fmt: skip
# Around them: anything but what would make them part of a longer token.
AROUND = st.text(st.characters(blacklist_characters="0123456789@.+-_", codec="utf-8"), max_size=40)


@settings(max_examples=200, deadline=None)
@given(before=AROUND, personal=PERSONAL, after=AROUND)
def test_personal_data_between_separators_is_always_masked(
    before: str, personal: str, after: str
) -> None:
    text = f"{before} {personal} {after}"
    masked = ALL.text(text)
    assert personal not in masked
    assert masked.startswith(before) and masked.endswith(after)
    assert ALL.text(masked) == masked  # a mask holds nothing to mask


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from("0123456789 -.()+@:/abcxyzAKIsk_eyJ\\n"), max_size=300))
def test_any_text_of_digits_and_punctuation_is_masked_without_error(text: str) -> None:
    masked = ALL.text(text)
    assert isinstance(masked, str)
    assert ALL.text(masked) == masked

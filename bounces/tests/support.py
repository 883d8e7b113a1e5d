"""Bounce reports for the tests: the samples in fixtures/ with a recipient and our Message-ID filled in."""

from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"

SAMPLES = {
    "postfix": "postfix_dsn.eml",
    "postfix_full": "postfix_mailbox_full.eml",
    "exim": "exim.eml",
    "yandex": "yandex_dsn.eml",
    "mailru": "mailru.eml",
    "gmail": "gmail_dsn.eml",
    "arf": "arf_complaint.eml",
    "ooo": "out_of_office.eml",
    "spam": "spam.eml",
}


def sample(name: str, *, rcpt: str, message_id: str = "<unrelated.1@elsewhere.example>") -> bytes:
    raw = (FIXTURES / SAMPLES[name]).read_bytes()
    return raw.replace(b"%%RCPT%%", rcpt.encode()).replace(b"%%MESSAGE_ID%%", message_id.encode())

"""E-mail messages (.eml) through the standard library's email package: who wrote to whom and
when, then the body (its plain-text part, else its HTML part), under the subject.

The message's subject is its title and heads every block, so a citation reads
"message.eml § Subject > ..."; attachments are named, not read.
"""

from __future__ import annotations

import dataclasses

from docqa.errors import LoaderError, read_by_library
from docqa.ingest.html import html_blocks
from docqa.ingest.text import text_blocks
from docqa.records import Block

_HEADERS = ("From", "To", "Cc", "Date")


def eml_blocks(data: bytes) -> tuple[str | None, list[Block]]:
    """Read an .eml message into (title, blocks)."""
    from email import policy
    from email.parser import BytesParser

    if b"\x00" in data[:8192]:
        raise LoaderError("binary file (contains NUL bytes), not an e-mail message")
    with read_by_library("e-mail message"):
        message = BytesParser(policy=policy.default).parsebytes(data)
        headers = {name: _header(message, name) for name in ("Subject", *_HEADERS)}
        if not any(headers.values()) and message.get("Message-ID") is None:
            raise LoaderError("not an e-mail message (no From, To, Date or Subject header)")
        kind = message.get_content_type()
        if kind == "multipart/encrypted" or (
            kind in ("application/pkcs7-mime", "application/x-pkcs7-mime")
            and "signed-data" not in str(message.get("Content-Type", "")).lower()
        ):
            raise LoaderError("encrypted e-mail (PGP or S/MIME): it needs the recipient's key")
        body = message.get_body(preferencelist=("plain", "html"))
        content = body.get_content() if body is not None else ""
        is_html = body is not None and body.get_content_subtype() == "html"
        attachments = [
            part.get_filename() or part.get_content_type() for part in message.iter_attachments()
        ]
    subject = headers["Subject"]
    top: tuple[str, ...] = (subject,) if subject else ()
    blocks: list[Block] = []
    if subject:
        blocks.append(Block(subject, heading=top, is_heading=True))
    sent = "\n".join(f"{name}: {headers[name]}" for name in _HEADERS if headers[name])
    if sent:
        blocks.append(Block(sent, heading=top))
    if isinstance(content, str) and content.strip():
        if is_html:
            body_blocks = html_blocks(content)[1]
        else:
            body_blocks = text_blocks(content.replace("\r\n", "\n").replace("\r", "\n"))
        for b in body_blocks:
            blocks.append(
                dataclasses.replace(b, line_start=None, line_end=None, heading=(*top, *b.heading))
            )
    if attachments:
        blocks.append(Block("Attachments: " + ", ".join(attachments), heading=top))
    return subject or None, blocks


def _header(message, name: str) -> str:
    value = message.get(name)
    return " ".join(str(value).split()) if value is not None else ""

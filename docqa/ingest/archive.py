"""Zip-based documents (.docx, .pptx, .xlsx, .odt, .epub): opened only after their sizes are
checked.

A zip's central directory says how big each member unpacks to, and Python's zipfile never
returns more than that (a member that inflates further fails its CRC check), so checking the
declared sizes before any member is read bounds the memory a document can take: a zip bomb
(a few KB that unpack to gigabytes) or a huge member is refused by its size, never inflated.

Office files saved with a password are not zips at all but OLE compound files holding an
encrypted package; those, and old binary .doc/.xls/.ppt files renamed, get their own reason.
"""

from __future__ import annotations

import io
import zipfile

from docqa.errors import LoaderError

# The most one member may unpack to, and all members together. Real documents' XML parts are
# a few MB even for books of a thousand pages; media (images, video) count towards the total
# because the Office libraries load every part.
MAX_MEMBER_BYTES = 100_000_000
MAX_TOTAL_BYTES = 300_000_000
MAX_MEMBERS = 20_000

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")


def open_zip(data: bytes, kind: str) -> zipfile.ZipFile:
    """The zip archive in `data`, its sizes checked; `kind` names the format in messages
    ("DOCX", "EPUB", ...). Raises LoaderError for anything that is not a sound, modest zip."""
    if not data.strip():
        raise LoaderError("empty file")
    if data.startswith(_OLE_MAGIC):
        if _ENCRYPTED_PACKAGE in data:
            raise LoaderError(
                f"password-protected {kind} (encrypted by Office): save a copy without the "
                "password to ingest it"
            )
        raise LoaderError(
            f"not {_a(kind)} file but an OLE compound file, like an old binary .doc, .xls or "
            f".ppt (save it as {kind} to ingest it)"
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except Exception as exc:  # zipfile raises many kinds on hostile bytes (BadZipFile,
        # NotImplementedError for a newer zip version, ValueError, struct.error, ...)
        raise LoaderError(f"broken {kind} file (not a readable zip archive: {exc})") from None
    if len(members) > MAX_MEMBERS:
        raise LoaderError(f"{kind} archive holds {len(members):,} files, over {MAX_MEMBERS:,}")
    total = 0
    for info in members:
        if info.file_size > MAX_MEMBER_BYTES:
            raise LoaderError(
                f"{kind} member {info.filename!r} unpacks to {_mb(info.file_size)}, over the "
                f"{_mb(MAX_MEMBER_BYTES)} limit (a zip bomb, or a document too big to read)"
            )
        total += info.file_size
    if total > MAX_TOTAL_BYTES:
        raise LoaderError(
            f"{kind} unpacks to {_mb(total)}, over the {_mb(MAX_TOTAL_BYTES)} limit "
            "(a zip bomb, or a document too big to read)"
        )
    return archive


# the main part's content type, by the Office format it makes
_OFFICE_MAIN = {
    "DOCX": (b"wordprocessingml.document.main", b"ms-word.document.macroenabled.main"),
    "PPTX": (
        b"presentationml.presentation.main",
        b"presentationml.slideshow.main",
        b"ms-powerpoint.presentation.macroenabled.main",
    ),
    "XLSX": (b"spreadsheetml.sheet.main", b"ms-excel.sheet.macroenabled.main"),
}


def check_office_zip(data: bytes, kind: str) -> None:
    """That `data` is a sound, modest Office Open XML zip of `kind` (DOCX, PPTX, XLSX), checked
    before an Office library reads it: sizes first (open_zip), then its main part's type."""
    with open_zip(data, kind) as archive:
        types = (read_member(archive, "[Content_Types].xml", kind) or b"").lower()
    if not types:
        raise LoaderError(f"not {_a(kind)} file (no [Content_Types].xml: not an Office document)")
    if any(main in types for main in _OFFICE_MAIN[kind]):
        return
    for other, mains in _OFFICE_MAIN.items():
        if any(main in types for main in mains):
            raise LoaderError(
                f"not {_a(kind)} file but {_a(other)} file with the wrong extension (rename it "
                f".{other.lower()})"
            )
    raise LoaderError(f"not {_a(kind)} file (its main part is of another type)")


def read_member(archive: zipfile.ZipFile, name: str, kind: str) -> bytes | None:
    """A member's bytes (None when the archive has no such member); a damaged member is a
    LoaderError. Sizes were checked by open_zip."""
    try:
        return archive.read(name)
    except KeyError:
        return None
    except NotImplementedError as exc:  # an unsupported compression method
        raise LoaderError(f"broken {kind} file ({exc})") from None
    except RuntimeError:  # zipfile's word for a member encrypted with a zip password
        raise LoaderError(f"encrypted {kind} (its {name} needs a password)") from None
    except Exception as exc:  # BadZipFile (a bad checksum), zlib.error, EOFError, ...
        raise LoaderError(f"broken {kind} file ({name}: {exc})") from None


def parse_xml(data: bytes, what: str):
    """An XML part parsed safely: no entity expansion, no DTD, no network."""
    from lxml import etree

    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True
    )
    try:
        root = etree.fromstring(data, parser)
    except (etree.LxmlError, ValueError) as exc:
        raise LoaderError(f"broken {what}: {exc}") from None
    if root is None:
        raise LoaderError(f"broken {what}: no XML")
    return root


def _a(kind: str) -> str:
    """ "a DOCX", "an XLSX": the article as the letters are spoken."""
    return ("an " if kind[:1] in "AEFHILMNORSX" else "a ") + kind


def _mb(n: int) -> str:
    return f"{n / 1e6:.3g} MB"

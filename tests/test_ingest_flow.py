"""The ingest flow with fake models: incremental updates, pruning, failures, consistency."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from docqa.adapters.hnsw import HnswIndex
from docqa.errors import EmbedderMismatchError
from docqa.flows.ingest import ingest, remove_documents
from docqa.flows.retrieve import retrieve
from docqa.ingest.passages import PASSAGE_FORMAT, embedding_text, sentence_spans
from docqa.store import Store
from tests.fakes import FakeEmbedder


@pytest.fixture
def store(docqa_home) -> Store:
    s = Store.open(docqa_home / "docqa.db")
    yield s
    s.close()


def run(paths, store, embedder, home, **kw):
    index = HnswIndex(home / "index.hnsw", embedder.dimension)
    return ingest(
        [Path(p) for p in paths], store=store, embedder=embedder, index=index, **kw
    ), index


def index_ids(index: HnswIndex, store: Store) -> set[int]:
    """Every chunk id the index returns for an exhaustive query."""
    vec = next(iter(store.corpus.iter_embeddings(index.dimension)))[1][0]
    return {i for i, _ in index.query(vec, len(index))}


def test_ingest_then_reingest_adds_nothing(docs, store, docqa_home):
    emb = FakeEmbedder()
    first, index = run([docs], store, emb, docqa_home)
    assert (first.files_seen, first.added, first.failed) == (26, 26, [])
    assert first.chunks_added == first.chunks_total == store.corpus.chunk_count() > 26
    assert index_ids(index, store) == {r[0] for r in store.conn.execute("SELECT id FROM chunks")}
    embedded = emb.embedded
    second, _ = run([docs], store, emb, docqa_home)
    assert (second.unchanged, second.added, second.updated, second.chunks_added) == (26, 0, 0, 0)
    assert emb.embedded == embedded  # nothing was embedded again


def test_editing_one_file_re_embeds_only_its_chunks(docs, store, docqa_home):
    emb = FakeEmbedder()
    run([docs], store, emb, docqa_home)
    target = docs / "history" / "apollo11.md"
    before = {d.path: d.chunks for d in store.corpus.documents()}
    target.write_text(target.read_text() + "\n\nA new closing paragraph about the Moon.\n")
    emb.calls.clear()
    report, index = run([docs], store, emb, docqa_home)
    assert (report.updated, report.unchanged, report.added) == (1, 25, 0)
    new_count = store.corpus.document(str(target)).chunks
    sentences = store.conn.execute(
        "SELECT sum(json_array_length(spans)) FROM chunk_sentences s JOIN chunks c"
        " ON c.id = s.chunk_id JOIN documents d ON d.id = c.document_id WHERE d.path = ?",
        (str(target),),
    ).fetchone()[0]
    assert report.chunks_added == new_count
    assert emb.embedded == new_count + sentences  # each chunk, and each of its sentences
    assert sum(before.values()) - before[str(target)] + new_count == store.corpus.chunk_count()
    assert index_ids(index, store) == {r[0] for r in store.conn.execute("SELECT id FROM chunks")}
    hits = retrieve("closing paragraph about the Moon", store=store, embedder=emb, index=index).hits
    assert hits[0].path == str(target)


def test_a_chunk_is_embedded_with_its_headings_and_its_sentences_on_their_own(
    docs, store, docqa_home
):
    emb = FakeEmbedder()
    run([docs], store, emb, docqa_home)
    doc = store.corpus.document(str(docs / "history" / "apollo11.md"))
    cid, text, heading = store.conn.execute(
        "SELECT id, text, heading FROM chunks WHERE document_id = ? AND heading != ''"
        " ORDER BY seq LIMIT 1",
        (doc.id,),
    ).fetchone()
    embedded = [t for call in emb.calls for t in call]
    assert embedding_text(doc.title, heading, text) in embedded
    assert embedding_text(doc.title, heading, text).endswith("\n" + text)
    stored = store.corpus.passage_vectors([cid])[cid]
    spans = sentence_spans(text)
    assert len(spans) >= 2 and stored.spans == tuple(spans)
    for (a, b), vector in zip(spans, stored.sentences, strict=True):
        assert text[a:b] in embedded
        assert np.allclose(vector, emb.embed([text[a:b]])[0], atol=1e-3)  # kept as float16
    assert np.allclose(stored.vector, emb.embed([embedding_text(doc.title, heading, text)])[0])
    assert {d.passages for d in store.corpus.documents()} == {PASSAGE_FORMAT}


def test_documents_embedded_by_an_older_passage_format_are_embedded_again(docs, store, docqa_home):
    emb = FakeEmbedder()
    run([docs], store, emb, docqa_home)
    old = str(docs / "history" / "apollo11.md")
    with store.conn:  # as a store from before sentence vectors has it
        store.conn.execute("UPDATE documents SET passages = 0 WHERE path = ?", (old,))
        store.conn.execute(
            "DELETE FROM chunk_sentences WHERE chunk_id IN (SELECT c.id FROM chunks c"
            " JOIN documents d ON d.id = c.document_id WHERE d.path = ?)",
            (old,),
        )
    report, index = run([docs], store, emb, docqa_home)
    assert (report.updated, report.unchanged, report.added) == (1, 25, 0)
    assert store.corpus.document(old).passages == PASSAGE_FORMAT
    missing = store.conn.execute(
        "SELECT count(*) FROM chunks WHERE id NOT IN (SELECT chunk_id FROM chunk_sentences)"
    ).fetchone()[0]
    assert missing == 0
    assert index_ids(index, store) == {r[0] for r in store.conn.execute("SELECT id FROM chunks")}


def test_markup_documents_of_format_2_are_read_again_as_plain_text_and_the_rest_kept(
    docs, store, docqa_home
):
    emb = FakeEmbedder()
    run([docs], store, emb, docqa_home)
    rst = str(docs / "science" / "periodic_table.rst")
    with store.conn:  # a store from before the plain view: source markup in the chunks
        store.conn.execute("UPDATE documents SET passages = 2")
        store.conn.execute(
            "UPDATE chunks SET text = '**Mendeleev** :term:`table`', source = NULL"
            " WHERE document_id = (SELECT id FROM documents WHERE path = ?)",
            (rst,),
        )
    report, index = run([docs], store, emb, docqa_home)
    marked = [p for p in docs.rglob("*") if p.suffix in (".md", ".rst", ".ipynb")]
    assert (report.updated, report.unchanged) == (len(marked), 26 - len(marked))
    rows = store.conn.execute(
        "SELECT c.text, c.source FROM chunks c JOIN documents d ON d.id = c.document_id"
        " WHERE d.path = ?",
        (rst,),
    ).fetchall()
    assert not any("**" in text or ":term:" in text for text, _ in rows)
    assert any("**" in source or "`" in source for _, source in rows)
    hits = retrieve("Mendeleev periodic table", store=store, embedder=emb, index=index).hits
    hit = next(h for h in hits if h.path == rst)
    assert hit.source is not None and hit.source != hit.text
    assert {d.passages for d in store.corpus.documents()} == {2, PASSAGE_FORMAT}


def test_bad_files_are_reported_and_the_rest_kept(docs, store, docqa_home):
    run([docs], store, FakeEmbedder(), docqa_home)
    (docs / "bad.txt").write_bytes(b"\xff\xfe\xfa not utf8 \x00\x00")
    (docs / "empty.md").write_text("")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7 nonsense")
    (docs / "notes.xyz").write_text("not a supported type")
    (docs / "dangling.md").symlink_to(docs / "nowhere.md")
    report, index = run([docs, docs / "missing.txt"], store, FakeEmbedder(), docqa_home)
    reasons = {Path(f.path).name: f.reason for f in report.failed}
    assert set(reasons) == {"bad.txt", "empty.md", "broken.pdf", "missing.txt", "dangling.md"}
    assert reasons["empty.md"] == "empty file"
    assert "broken PDF" in reasons["broken.pdf"]
    assert reasons["missing.txt"] == "no such file or directory"
    assert report.skipped == 1 and report.unchanged == 26
    assert len(store.corpus.documents()) == 26


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_file_is_reported(docs, store, docqa_home):
    secret = docs / "secret.md"
    secret.write_text("# hidden")
    secret.chmod(0)
    report, _ = run([secret], store, FakeEmbedder(), docqa_home)
    assert report.failed[0].reason == "permission denied"


def test_prune_and_rm(docs, store, docqa_home):
    run([docs], store, FakeEmbedder(), docqa_home)
    (docs / "coffee.html").unlink()
    report, _ = run([docs], store, FakeEmbedder(), docqa_home, prune=True)
    assert report.removed == 1 and len(store.corpus.documents()) == 25
    index = HnswIndex(docqa_home / "index.hnsw", 64)
    removed = remove_documents(docs / "science", store=store, index=index, dimension=64)
    assert len(removed) == 8 and len(store.corpus.documents()) == 17
    assert index_ids(index, store) == {r[0] for r in store.conn.execute("SELECT id FROM chunks")}
    sentences_of = "SELECT DISTINCT chunk_id FROM chunk_sentences ORDER BY chunk_id"
    # the removed documents' chunks took their sentences with them
    assert [r[0] for r in store.conn.execute(sentences_of)] == [
        r[0] for r in store.conn.execute("SELECT id FROM chunks ORDER BY id")
    ]


def test_another_embedder_is_refused(docs, store, docqa_home):
    run([docs / "eiffel_tower.txt"], store, FakeEmbedder(), docqa_home)
    with pytest.raises(EmbedderMismatchError):
        run([docs], store, FakeEmbedder(name="other", dimension=32), docqa_home)
    assert len(store.corpus.documents()) == 1


def test_index_lost_after_a_crash_is_rebuilt_from_sqlite(docs, store, docqa_home):
    emb = FakeEmbedder()
    run([docs], store, emb, docqa_home)
    (docqa_home / "index.hnsw.json").unlink()  # as if killed before the index was saved
    emb.calls.clear()
    report, index = run([docs], store, emb, docqa_home)
    assert index.rebuilt and emb.embedded == 0
    assert index_ids(index, store) == {r[0] for r in store.conn.execute("SELECT id FROM chunks")}


def test_permission_denied_is_reported_even_as_root(docs, store, docqa_home, monkeypatch):
    secret = docs / "secret.md"
    secret.write_text("# hidden")
    real_read = Path.read_bytes

    def read_bytes(self):
        if self.name == "secret.md":
            raise PermissionError(13, "Permission denied", str(self))
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    report, _ = run([docs], store, FakeEmbedder(), docqa_home)
    assert [(Path(f.path).name, f.reason) for f in report.failed] == [
        ("secret.md", "permission denied")
    ]
    assert report.added == 26


def test_one_file_named_two_ways_is_one_document(docs, store, docqa_home):
    emb = FakeEmbedder()
    run([docs / "eiffel_tower.txt"], store, emb, docqa_home)
    report, _ = run([docs / "history" / ".." / "eiffel_tower.txt"], store, emb, docqa_home)
    assert report.unchanged == 1 and [d.path for d in store.corpus.documents()] == [
        str(docs / "eiffel_tower.txt")
    ]


def test_docqa_ingest_reads_a_folder_of_every_format_with_its_provenance(fakes, tmp_path):
    """`docqa ingest` of a folder mixing the formats: each stored with its format, each
    chunk cited by what its format offers (heading path, slide or cell as page, row lines),
    and a broken file beside them failed on its own."""
    import json

    from tests import formats
    from tests.cli import invoke

    folder = tmp_path / "mixed"
    (folder / "sub").mkdir(parents=True)
    files = {
        "report.docx": formats.docx([("Heading 1", "Budget"), ("", "The zeppelin costs more.")]),
        "notes.odt": formats.odt([("h1", "Minutes"), ("h2", "Votes"), ("p", "Quorum of nine.")]),
        "deck.pptx": formats.pptx([("Intro", ["Hello"], ""), ("Roadmap", ["Ship the yak"], "")]),
        "book.epub": formats.epub([("Chapter One", "<p>The lighthouse keeper slept.</p>")]),
        "sub/lakes.csv": b"lake,depth\nBaikal,1642\nTahoe,501\n",
        "sub/langs.tsv": b"language\tyear\nFortran\t1957\n",
        "sub/wonders.xlsx": formats.xlsx({"Wonders": [["Wonder"], ["Colossus of Rhodes"]]}),
        "sub/pendulum.ipynb": formats.ipynb(
            [("markdown", "# Clocks", None), ("code", "print('tick')", "tick\n")]
        ),
        "sub/cable.eml": formats.eml(
            "Cable", "a@x.org", "b@x.org", "Tue, 14 Oct 2025 09:12:00 +0100", "Great Eastern."
        ),
        "sub/broken.docx": b"PK\x03\x04 not a zip",
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    result = invoke("ingest", folder, "--json")
    assert result.exit_code == 3, result.output  # one failed, the others stored
    summary = json.loads(result.stdout)
    assert (summary["files_seen"], summary["added"], summary["skipped"]) == (10, 9, 0)
    assert summary["failed"] == [
        {
            "path": str(folder / "sub" / "broken.docx"),
            "reason": "broken DOCX file (not a readable zip archive: File is not a zip file)",
        }
    ]
    listed = json.loads(invoke("docs", "list", "--json").stdout)["documents"]
    assert {Path(d["path"]).name: d["format"] for d in listed} == {
        "report.docx": "docx",
        "notes.odt": "odt",
        "deck.pptx": "pptx",
        "book.epub": "epub",
        "lakes.csv": "csv",
        "langs.tsv": "tsv",
        "wonders.xlsx": "xlsx",
        "pendulum.ipynb": "ipynb",
        "cable.eml": "eml",
    }

    def top(question: str) -> dict:
        found = invoke("search", question, "-k", "1", "--json")
        assert found.exit_code == 0, found.output
        hit = json.loads(found.stdout)["hits"][0]
        return {k: hit[k] for k in ("path", "lines", "page", "heading")} | {"text": hit["text"]}

    assert top("zeppelin costs") == {
        "path": str(folder / "report.docx"),
        "lines": None,
        "page": None,
        "heading": "Budget",
        "text": "Budget\n\nThe zeppelin costs more.",
    }
    assert top("quorum of nine")["heading"] == "Minutes > Votes"
    roadmap = top("ship the yak")
    assert (roadmap["page"], roadmap["heading"]) == (2, "Roadmap")  # slide 2
    assert top("lighthouse keeper slept")["heading"] == "Chapter One"
    assert top("Tahoe depth") | {"path": None} == {
        "path": None,
        "lines": [2, 3],
        "page": None,
        "heading": "",
        "text": "lake | depth\nBaikal | 1642\nTahoe | 501",
    }
    assert top("Fortran year")["text"] == "language | year\nFortran | 1957"
    wonders = top("Colossus of Rhodes wonder")
    assert (wonders["lines"], wonders["heading"]) == ([2, 2], "Wonders")  # row 2 of the sheet
    assert top("print tick")["page"] == 2  # the notebook's second cell
    assert top("Great Eastern cable")["heading"] == "Cable"

"""The key terms of an answer, and the ones no source holds."""

from __future__ import annotations

import pytest

from docqa.flows.groundedness import missing_terms
from docqa.flows.keyterms import key_terms


@pytest.mark.parametrize(
    ("answer", "terms"),
    [
        ("A table can have at most 1,600 columns.", ["1,600"]),
        ("Use the --enable-checksums option of initdb.", ["--enable-checksums"]),
        ("The io_method setting defaults to the postgres format.", ["io_method"]),
        ("Take an ACCESS EXCLUSIVE lock.", ["ACCESS", "EXCLUSIVE"]),
        ("Run `pg_ctl promote`.", ["pg_ctl promote", "pg_ctl"]),
        ("Edit postgresql.conf and call split_part().", ["postgresql.conf", "split_part"]),
        ("Pass -D to name the folder.", ["-D"]),
        ("The documents do not say.", []),
        ("It is faster. I think so, OK?", []),
        ("Use a view, e.g. pg_stat_activity, i.e. the live one.", ["pg_stat_activity"]),
    ],
)
def test_key_terms_are_the_values_a_reader_copies(answer, terms):
    assert key_terms(answer) == terms


def test_a_term_is_missing_only_when_no_source_holds_it():
    shown = "A table cannot have more than 1600 columns. Use initdb --data-checksums."
    assert missing_terms("At most 1,600 columns.", shown) == []
    assert missing_terms("Use --DATA-CHECKSUMS.", shown) == []
    assert missing_terms("Use the --enable-checksums option.", shown) == ["--enable-checksums"]
    assert missing_terms("At most 1,700 columns.", shown) == ["1,700"]

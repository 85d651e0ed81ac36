"""Answer modes: each knows its template and its plan of attempts."""

from __future__ import annotations

import pytest

from docqa.errors import UsageError
from docqa.flows.ask import AskOptions
from docqa.flows.modes import EXTRACTIVE, GENERATIVE, MODES, mode_named


def test_each_mode_plans_its_attempts_cut_to_the_maximum():
    # no extractive fallback after the generative attempts (measured: bench/checks.py)
    assert GENERATIVE.plan(3) == GENERATIVE.plan(10) == ["initial", "rewrite"]
    assert EXTRACTIVE.plan(3) == ["initial", "rewrite"]
    assert GENERATIVE.plan(0) == EXTRACTIVE.plan(1) == ["initial"]


def test_the_template_is_the_given_one_else_the_modes_else_the_configured_one():
    assert GENERATIVE.template_of(None) == "qa"
    assert GENERATIVE.template_of(None, "terse") == "terse"
    assert GENERATIVE.template_of("mine.j2", "terse") == "mine.j2"
    assert EXTRACTIVE.template_of(None, "terse") == "terse"  # it copies what the model wrote
    assert EXTRACTIVE.template_of("mine.j2", "terse") == "mine.j2"
    # who gets sentences to choose from
    assert GENERATIVE.candidates_for("extractive") and EXTRACTIVE.candidates_for("extractive")
    assert not EXTRACTIVE.candidates_for("qa") and not GENERATIVE.candidates_for("mine.j2")
    assert EXTRACTIVE.copies and not GENERATIVE.copies


def test_options_take_a_mode_or_its_name_and_an_unknown_name_is_a_usage_error():
    assert AskOptions(mode="extractive").mode is EXTRACTIVE
    assert AskOptions(mode=GENERATIVE).main_template == "qa"
    assert AskOptions(mode="extractive").main_template == "qa"
    assert AskOptions(mode="extractive", template="qa").main_template == "qa"
    with pytest.raises(UsageError, match="no answer mode 'poetic'"):
        AskOptions(mode="poetic")


def test_the_cli_offers_every_mode_with_its_description():
    from docqa.cli.common import Mode, ModeOpt

    assert [m.value for m in Mode] == list(MODES) == ["generative", "extractive"]
    assert mode_named(Mode.extractive) is EXTRACTIVE
    option = ModeOpt.__metadata__[0]
    assert option.help == (
        "generative: the model writes the answer; extractive: the answer is the source "
        "sentence that holds the model's answer, copied word for word."
    )

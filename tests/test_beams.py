"""Program-level beam search with a scripted model: ranking, pruning, replay."""

from __future__ import annotations

from docqa.guide.beams import run_beams
from docqa.guide.program import Program
from tests.fakes import FakeLLM


def test_beams_rank_whole_programs_by_cumulative_log_probability():
    llm = FakeLLM()
    options = {
        "a": [("x", -0.1), ("y", -0.5)],
        "b": {"x": [("1", -2.0), ("2", -3.0)], "y": [("3", -0.2), ("4", -0.3)]},
    }

    def beam_options(prompt, slot):
        if slot.name == "a":
            return options["a"]
        return options["b"][prompt.split("A=")[1][0]]

    llm.beam_options = beam_options
    source = "A={{ gen('a') }} B={{ gen('b') }}"
    beams = run_beams(Program(source, "t"), llm, {}, 2)
    assert [b.result.text for b in beams] == ["A=y B=3", "A=y B=4"]
    assert [round(b.logprob, 3) for b in beams] == [-0.7, -0.8]
    assert beams[0].result.slots == {"a": "y", "b": "3"}
    # the second slot's prompt was built from each first-slot beam in turn
    assert "A=x B=" in llm.prompts and "A=y B=" in llm.prompts


def test_templates_that_branch_on_a_slot_keep_their_own_paths():
    llm = FakeLLM()
    llm.beam_options = lambda prompt, slot: (
        [("yes", -1.0), ("no", -0.1)] if slot.name == "ok" else [("because", -0.5)]
    )
    source = (
        "{{ select('ok', ['yes', 'no']) }}{% if slots.ok == 'yes' %} {{ gen('why') }}{% endif %}"
    )
    beams = run_beams(Program(source, "t"), llm, {}, 2)
    assert [(b.result.text, round(b.logprob, 2)) for b in beams] == [
        ("no", -0.1),
        ("yes because", -1.5),
    ]


def test_a_slot_asking_for_its_own_beams_runs_under_run_beams(fake_llm):
    """run_beams already searches every slot with n beams: a gen(beams=...) inside is fine."""
    from docqa.guide.beams import run_beams
    from docqa.guide.program import Program

    fake_llm.beam_options = lambda prompt, slot: [("yes", -0.1), ("no", -0.5)]
    program = Program("Q? {{ gen('a', beams=3, max_tokens=4) }}", "inline")
    best = run_beams(program, fake_llm, {}, 2)
    assert [b.result.slots["a"] for b in best] == ["yes", "no"]

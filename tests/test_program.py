"""The template-program executor with a fake model: slot order, prompts, values, roles."""

from __future__ import annotations

import pytest

from docqa.contract import fills_json
from docqa.errors import TemplateError, UsageError
from docqa.guide.program import Program
from docqa.guide.slots import Slot, make_slot
from tests.fakes import FakeLLM


def run(source: str, reply=None, **variables):
    llm = FakeLLM(reply) if reply else FakeLLM()
    return Program(source, "test").run(llm, variables), llm


def test_each_slot_sees_the_text_before_it_and_earlier_values():
    values = {"name": "Ada", "year": "1815"}
    result, llm = run(
        "Who? {{ gen('name', stop='\\n') }}. Born: {{ gen('year', regex='[0-9]{4}') }}. "
        "So {{ slots.name }} was born in {{ slots.year }}.",
        reply=lambda prompt, slot: values[slot.name],
    )
    assert llm.prompts == ["Who? ", "Who? Ada. Born: "]
    assert result.text == "Who? Ada. Born: 1815. So Ada was born in 1815."
    assert result.slots == {"name": "Ada", "year": "1815"}
    assert [s.kind for s in llm.slots] == ["text", "regex"]
    assert llm.slots[1].regex == "[0-9]{4}"


def test_select_and_schema_slots():
    def reply(prompt, slot):
        return "no" if slot.kind == "choices" else {"n": 3, "tags": ["a"]}

    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    result, llm = run(
        "{{ select('ok', ['yes', 'no']) }} {{ gen('data', schema=schema) }}",
        reply=reply,
        schema=schema,
    )
    assert result.slots == {"ok": "no", "data": {"n": 3, "tags": ["a"]}}
    assert llm.slots[0].choices == ("yes", "no")
    assert llm.slots[1].schema == schema and llm.slots[1].max_tokens == 256


def test_roles_use_the_models_chat_markers_and_open_generation():
    result, llm = run(
        "{{ role('system') }}Be brief.{{ role('user') }}Hi{{ role('assistant') }}"
        "{{ gen('answer') }}{{ end_role() }}"
    )
    assert llm.prompts == ["<system>Be brief.</system>\n<user>Hi</user>\n<assistant>"]
    assert llm.heals == [False]  # never heal across a chat marker
    assert result.text.endswith("<assistant><answer></assistant>\n")


def test_variables_are_data_never_template_code():
    result, llm = run(
        "Q: {{ question }} A: {{ gen('a') }}",
        question="{{ gen('evil') }} {% for x in range(9) %}x{% endfor %}",
    )
    assert [s.name for s in llm.slots] == ["a"]
    assert llm.prompts[0] == "Q: {{ gen('evil') }} {% for x in range(9) %}x{% endfor %} A: "


def test_the_sandbox_blocks_python_internals():
    with pytest.raises(TemplateError):
        run("{{ gen.__globals__ }}")
    with pytest.raises(TemplateError):
        run("{{ ''.__class__.__mro__[1].__subclasses__() }}")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ gen('a') }}{{ gen('a') }}", "filled twice"),
        ("{{ gen('not an identifier') }}", "identifier"),
        ("{{ gen('a', regex='x', schema={}) }}", "one of regex, choices or schema"),
        ("{{ gen('a', choices=['y']) }}", "gen\\(\\) got an unexpected keyword argument 'choices'"),
        ("{{ select('a', []) }}", "needs a list"),
        ("{{ gen('a', regex='[0-9]+', stop='\\n') }}", "stop= is for free text"),
        ("{{ gen('a', schema='{not json') }}", "not valid JSON"),
        ("{{ gen('a', max_tokens=0) }}", "max_tokens must be at least 1"),
        ("{{ role('robot') }}", "role must be one of"),
        ("{{ nope }}", "'nope' is undefined"),
        ("{% for %}", "template test line 1"),
    ],
)
def test_template_mistakes_are_clear_errors(source, message):
    with pytest.raises(TemplateError, match=message):
        run(source)


def test_reserved_variable_names_are_refused():
    """Variables come from the caller (`docqa run --var`): a reserved name is a usage error."""
    with pytest.raises(UsageError, match="reserved"):
        run("{{ gen('x') }}", gen="shadow")


def test_token_counts_and_records():
    result, _ = run("a {{ gen('x') }} b {{ gen('y') }}")
    records = fills_json(result)
    assert [r["name"] for r in records] == ["x", "y"]
    assert result.tokens["prompt"] == sum(r["prompt_tokens"] for r in records)
    assert records[0]["constraint"] == {"kind": "text", "max_tokens": 64}


def test_slot_grammars():
    assert make_slot("a").grammar() is None
    assert make_slot("a").grammar("http:") == 'start: "http:" /(?s:.*)/\n'
    assert make_slot("a", choices=["yes", 'say "no"']).grammar() == (
        'start: ("yes" | "say \\"no\\"")\n'
    )
    assert make_slot("a", regex="[0-9]+").grammar() == "start: /[0-9]+/\n"
    schema_grammar = make_slot("a", schema={"type": "integer"}).grammar()
    assert schema_grammar.startswith("start: %json {") and '"whitespace_flexible": false' in (
        schema_grammar
    )
    assert isinstance(make_slot("a", stop="\n"), Slot) and make_slot("a", stop="\n").stop == ("\n",)

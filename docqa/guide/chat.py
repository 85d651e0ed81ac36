"""Chat formatting for template programs: the text a model's own chat template puts before
and after a message of each role, found by rendering that template around a sentinel."""

from __future__ import annotations

from functools import lru_cache

_SENTINEL = "\x00docqa-sentinel\x00"
_FALLBACK = (
    "{% for m in messages %}{{ m.role | capitalize }}: {{ m.content }}\n\n{% endfor %}"
    "{% if add_generation_prompt %}Assistant: {% endif %}"
)


@lru_cache(maxsize=16)
def role_markers(template: str | None, bos: str = "", eos: str = "") -> dict[str, tuple[str, str]]:
    """{role: (prefix, suffix)} for system, user and assistant messages, plus the prefix that
    opens an assistant turn for generation under the key "generation"."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    tpl = env.from_string(template or _FALLBACK)

    def render(messages: list[dict], gen: bool = False) -> str:
        return tpl.render(
            messages=messages, add_generation_prompt=gen, bos_token=bos, eos_token=eos
        )

    def around(before: list[dict], role: str) -> tuple[str, str]:
        base = render(before) if before else ""
        full = render([*before, {"role": role, "content": _SENTINEL}])
        if not full.startswith(base):
            base = ""
        head, _, tail = full[len(base) :].partition(_SENTINEL)
        return head, tail

    system = {"role": "system", "content": "S"}
    user = {"role": "user", "content": "U"}
    try:
        start = render([])
    except Exception:  # noqa: BLE001 - a template that reads messages[0] (Qwen's): no preamble
        start = ""
    sys_head, sys_tail = around([], "system")
    if start and sys_head.startswith(start):
        sys_head = sys_head[len(start) :]
    markers = {
        "system": (sys_head, sys_tail),
        "user": around([system], "user"),
        "assistant": around([system, user], "assistant"),
    }
    base = render([system, user])
    opened = render([system, user], gen=True)
    markers["generation"] = (opened[len(base) :] if opened.startswith(base) else "", "")
    return markers

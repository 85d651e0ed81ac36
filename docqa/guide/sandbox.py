"""The sandboxed jinja2 environment every template program runs in: immutable, strict about
undefined names, and capped against templates that would build huge values."""

from __future__ import annotations

from functools import lru_cache

# The most a template may build with `*` (characters or items) or `**` (bits of a number):
# jinja2's sandbox already caps range(); these keep `{{ 'x' * 10**10 }}` from eating memory.
MAX_PRODUCT = 10_000_000


@lru_cache(maxsize=1)
def environment():
    from jinja2 import StrictUndefined
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Sandbox(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**"})

        def call_binop(self, context, operator, left, right):
            if operator == "*":
                seq, n = (left, right) if isinstance(right, int) else (right, left)
                size = len(seq) * n if isinstance(seq, (str, list, tuple)) else 0
                if isinstance(n, int) and size > MAX_PRODUCT:
                    raise SecurityError(f"a repetition of {size:,} items is too large")
            elif (
                isinstance(left, int)
                and isinstance(right, int)
                and abs(left).bit_length() * right > MAX_PRODUCT
            ):
                raise SecurityError(f"{left} ** {right} is too large a number")
            return super().call_binop(context, operator, left, right)

    return Sandbox(undefined=StrictUndefined, keep_trailing_newline=False, autoescape=False)

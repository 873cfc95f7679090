"""Email templates: parsed by the API at submit time, rendered by the email worker.

`subject`, `text` and `html` are Jinja2 templates run in an immutable sandbox
with `StrictUndefined` (a missing variable is an error, never an empty string);
`html` is autoescaped. Nothing from a template is evaluated at submit time: the
environment does not fold constants, so parsing and compiling only check syntax.

The Jinja2 sandbox stops a template from reaching Python internals, but not from
spending memory or CPU. A few limits make that bounded as well (best effort):
a budget of steps (loop iterations, calls, operations) and a wall-clock limit per
message, a cap on the characters one message's templates may produce, a cap on
the size of any single value, and checks in front of the operations that can
grow a value many times over in one step (`*`, `**`, `%`, padding and joining).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from types import TracebackType
from typing import Any, Literal

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes, pass_eval_context
from jinja2.environment import Template
from jinja2.exceptions import TemplateError
from jinja2.filters import FILTERS
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.visitor import NodeTransformer

TemplateKind = Literal["subject", "text", "html"]

MAX_STEPS = 1_000_000
MAX_TEMPLATE_TAGS = 10_000  # `{{` and `{%`: parsing cost grows with them
RENDER_TIMEOUT_SECONDS = 10.0
MAX_VALUE_CHARS = 2_000_000
MAX_OUTPUT_CHARS = 5_000_000
MAX_WIDTH = 10_000
MAX_INT_BITS = 65_536
MAX_JSON_INDENT = 16
_DEADLINE_EVERY_STEPS = 512
_ITER_FILTER = "_taskyard_iter"
_SIZE_FILTER = "_taskyard_size"
_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")
_PADDING_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})


class TemplateLimitError(SecurityError):
    """A template went past one of the resource limits."""


class TemplateRenderError(ValueError):
    """A template could not be rendered; `kind` says which one."""

    def __init__(self, kind: TemplateKind, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.detail = message


@dataclass
class _Budget:
    steps: int = 0
    chars: int = 0
    deadline: float = field(default_factory=lambda: time.monotonic() + RENDER_TIMEOUT_SECONDS)

    def step(self, count: int = 1) -> None:
        before = self.steps
        self.steps += count
        if self.steps > MAX_STEPS:
            raise TemplateLimitError(f"the template needs more than {MAX_STEPS} steps")
        if self.steps // _DEADLINE_EVERY_STEPS != before // _DEADLINE_EVERY_STEPS:
            self.check_deadline()

    def produce(self, count: int) -> None:
        self.chars += count
        if self.chars > MAX_OUTPUT_CHARS:
            raise TemplateLimitError(f"the templates produce more than {MAX_OUTPUT_CHARS} chars")

    def check_deadline(self) -> None:
        if time.monotonic() > self.deadline:
            raise TemplateLimitError(f"rendering took longer than {RENDER_TIMEOUT_SECONDS:g}s")


_budget: ContextVar[_Budget | None] = ContextVar("taskyard_template_budget", default=None)


def _step(count: int = 1) -> None:
    budget = _budget.get()
    if budget is not None:
        budget.step(count)


def _checked_size(value: Any) -> Any:
    if isinstance(value, str | bytes | list | tuple | dict) and len(value) > MAX_VALUE_CHARS:
        raise TemplateLimitError(f"a value is longer than {MAX_VALUE_CHARS}")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise TemplateLimitError(f"a number is larger than {MAX_INT_BITS} bits")
    return value


def _limit(value: Any, most: int, what: str) -> None:
    if isinstance(value, int) and value > most:
        raise TemplateLimitError(f"{what} is larger than {most}")


def _check_printf(spec: str) -> None:
    for match in _PRINTF_SPEC.finditer(spec):
        for number in match.groups():
            if number == "*":
                raise TemplateLimitError("'*' widths are not allowed in format strings")
            if number and int(number) > MAX_WIDTH:
                raise TemplateLimitError(f"a format width is larger than {MAX_WIDTH}")


def _join_estimate(items: list[Any], separator: str) -> int:
    return sum(len(str(item)) for item in items) + len(separator) * max(0, len(items) - 1)


# ---- filters that can grow a value many times over in one step: checked first --------


def _iter_filter(value: Any, weight: int = 1) -> Iterator[Any]:
    """Wraps every `{% for %}` iterable: each iteration costs a step and its body's text."""
    budget = _budget.get()
    for item in value:
        if budget is not None:
            budget.step()
            budget.produce(weight)
        yield item


def _guarded_filter(name: str, check: Callable[..., None]) -> Callable[..., Any]:
    original = FILTERS[name]

    def run(*args: Any, **kwargs: Any) -> Any:
        check(*args, **kwargs)
        return _checked_size(original(*args, **kwargs))

    if hasattr(original, "jinja_pass_arg"):
        run.jinja_pass_arg = original.jinja_pass_arg  # type: ignore[attr-defined]
    run.__name__ = name
    return run


def _argument(
    args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str, default: Any = None
) -> Any:
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def _check_center(*args: Any, **kwargs: Any) -> None:
    _limit(_argument(args, kwargs, 1, "width"), MAX_WIDTH, "a width")


def _check_indent(*args: Any, **kwargs: Any) -> None:
    lines = str(_argument(args, kwargs, 0, "s", "")).count("\n") + 1
    width = _argument(args, kwargs, 1, "width", 4)
    size = len(width) if isinstance(width, str) else width
    if isinstance(size, int) and size * lines > MAX_VALUE_CHARS:
        raise TemplateLimitError("indent would produce too long a value")


def _check_format(*args: Any, **kwargs: Any) -> None:
    _check_printf(str(_argument(args, kwargs, 0, "value", "")))


def _check_batch(*args: Any, **kwargs: Any) -> None:
    _limit(_argument(args, kwargs, 1, "linecount"), MAX_WIDTH, "a batch size")


def _check_slice(*args: Any, **kwargs: Any) -> None:
    _limit(_argument(args, kwargs, 1, "slices"), MAX_WIDTH, "a slice count")


def _replace_estimate(text: str, old: str, new: str, count: Any) -> int:
    hits = text.count(old) if old else len(text) + 1
    if isinstance(count, int):
        hits = min(hits, max(count, 0))
    return len(text) + hits * len(new)


def _check_replace(*args: Any, **kwargs: Any) -> None:
    # replace(eval_ctx, s, old, new, count=None)
    text = str(_argument(args, kwargs, 1, "s", ""))
    old = str(_argument(args, kwargs, 2, "old", ""))
    new = str(_argument(args, kwargs, 3, "new", ""))
    if _replace_estimate(text, old, new, _argument(args, kwargs, 4, "count")) > MAX_VALUE_CHARS:
        raise TemplateLimitError("replace would produce too long a value")


def _check_wordwrap(*args: Any, **kwargs: Any) -> None:
    # wordwrap(environment, s, width=79, break_long_words=True, wrapstring=None, ...)
    text = str(_argument(args, kwargs, 1, "s", ""))
    width = _argument(args, kwargs, 2, "width", 79)
    wrapstring = str(_argument(args, kwargs, 4, "wrapstring") or "\n")
    lines = len(text) // max(1, width if isinstance(width, int) else 1) + text.count("\n") + 1
    if len(text) + lines * len(wrapstring) > MAX_VALUE_CHARS:
        raise TemplateLimitError("wordwrap would produce too long a value")


def _check_tojson(*args: Any, **kwargs: Any) -> None:
    _limit(_argument(args, kwargs, 2, "indent"), MAX_JSON_INDENT, "a JSON indent")


_GUARDED_FILTERS = {
    "center": _check_center,
    "indent": _check_indent,
    "format": _check_format,
    "batch": _check_batch,
    "slice": _check_slice,
    "replace": _check_replace,
    "wordwrap": _check_wordwrap,
    "tojson": _check_tojson,
}


@pass_eval_context
def _join_filter(
    eval_ctx: EvalContext, value: Iterable[Any], d: str = "", attribute: str | int | None = None
) -> str:
    items = list(value)
    estimate = (
        _join_estimate(items, str(d)) if attribute is None else len(str(d)) * max(0, len(items) - 1)
    )
    if estimate > MAX_VALUE_CHARS:
        raise TemplateLimitError("join would produce too long a value")
    joined: str = _checked_size(FILTERS["join"](eval_ctx, items, d, attribute))
    return joined


def _check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse `*`, `**` and `%` whose result would be huge, before computing it."""
    too_big = False
    if operator == "*":
        for sequence, times in ((left, right), (right, left)):
            too_big |= (
                isinstance(sequence, str | list | tuple)
                and isinstance(times, int)
                and len(sequence) * max(times, 0) > MAX_VALUE_CHARS
            )
        too_big |= (
            isinstance(left, int)
            and isinstance(right, int)
            and left.bit_length() + right.bit_length() > MAX_INT_BITS
        )
    elif operator == "**":
        too_big = (
            isinstance(left, int)
            and isinstance(right, int)
            and abs(left) > 1
            and right > 0
            and right * math.log2(abs(left)) > MAX_INT_BITS
        )
    elif operator == "%" and isinstance(left, str):
        _check_printf(left)
    if too_big:
        raise TemplateLimitError(f"the result of {operator!r} would be too large")


def _finalize(value: Any) -> Any:
    """Every `{{ expression }}` passes through here: its text counts towards the output cap."""
    budget = _budget.get()
    if budget is not None:
        budget.step()
        budget.produce(len(value) if isinstance(value, str) else len(str(value)))
    return value


class _EmailEnvironment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, autoescape: bool) -> None:
        super().__init__(
            autoescape=autoescape,
            undefined=StrictUndefined,
            optimized=False,  # no constant folding: nothing a client wrote runs at submit time
            finalize=_finalize,
            keep_trailing_newline=True,
            auto_reload=False,
            cache_size=0,
        )
        for name, check in _GUARDED_FILTERS.items():
            self.filters[name] = _guarded_filter(name, check)
        self.filters["join"] = _join_filter
        self.filters[_ITER_FILTER] = _iter_filter
        self.filters[_SIZE_FILTER] = _checked_size

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _step()
        owner = getattr(__obj, "__self__", None)
        name = getattr(__obj, "__name__", "")
        if isinstance(owner, str):
            if name in _PADDING_METHODS:
                for argument in (*args, *kwargs.values()):
                    _limit(argument, MAX_WIDTH, f"the argument of {name}()")
            elif name == "replace" and len(args) >= 2:
                count = args[2] if len(args) > 2 else None
                if _replace_estimate(owner, str(args[0]), str(args[1]), count) > MAX_VALUE_CHARS:
                    raise TemplateLimitError("replace would produce too long a value")
            elif name == "join" and args:
                items = list(args[0])
                if _join_estimate(items, owner) > MAX_VALUE_CHARS:
                    raise TemplateLimitError("join would produce too long a value")
                args = (items, *args[1:])
        return _checked_size(super().call(__context, __obj, *args, **kwargs))

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _step()
        _check_binop(operator, left, right)
        return _checked_size(super().call_binop(context, operator, left, right))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        if super().wrap_str_format(value) is None:
            return None

        def refuse(*args: Any, **kwargs: Any) -> str:
            raise SecurityError("str.format is not available in templates; use the format filter")

        return refuse


@lru_cache(maxsize=2)
def environment(autoescape: bool) -> ImmutableSandboxedEnvironment:
    return _EmailEnvironment(autoescape)


def _autoescape(kind: TemplateKind) -> bool:
    return kind == "html"


def _literal_chars(node: nodes.Node) -> int:
    """Characters of template text inside `node`, not counting nested loops (they count theirs)."""
    if isinstance(node, nodes.TemplateData):
        return len(node.data)
    if isinstance(node, nodes.For):
        return 0
    return sum(_literal_chars(child) for child in node.iter_child_nodes())


class _Guard(NodeTransformer):
    """Refuses what an email template cannot use and puts the budget checks into the tree.

    Unknown filters and tests are refused here too, so that parsing alone (what the API
    does at submit time) finds them; compiling a large template costs far more.
    """

    def __init__(self, env: ImmutableSandboxedEnvironment) -> None:
        self._env = env

    def visit_Filter(self, node: nodes.Filter) -> nodes.Node:
        if node.name not in self._env.filters:
            raise TemplateSyntaxError(f"No filter named {node.name!r}.", node.lineno)
        return self.generic_visit(node)

    def visit_Test(self, node: nodes.Test) -> nodes.Node:
        if node.name not in self._env.tests:
            raise TemplateSyntaxError(f"No test named {node.name!r}.", node.lineno)
        return self.generic_visit(node)

    def _refuse(self, node: nodes.Node) -> nodes.Node:
        raise TemplateSyntaxError(
            "templates cannot extend, include or import other templates", node.lineno
        )

    visit_Extends = visit_Include = visit_Import = visit_FromImport = _refuse

    def visit_For(self, node: nodes.For) -> nodes.Node:
        if node.recursive:
            raise TemplateSyntaxError("recursive loops are not supported", node.lineno)
        weight = 1 + sum(_literal_chars(child) for child in (*node.body, *node.else_))
        self.generic_visit(node)
        node.iter = nodes.Filter(
            node.iter, _ITER_FILTER, [nodes.Const(weight)], [], None, None, lineno=node.lineno
        )
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Filter(node, _SIZE_FILTER, [], [], None, None, lineno=node.lineno)


def _syntax_message(error: TemplateSyntaxError) -> str:
    where = f" (line {error.lineno})" if error.lineno else ""
    return f"{error.message}{where}"


def _parse(source: str, kind: TemplateKind) -> tuple[ImmutableSandboxedEnvironment, nodes.Template]:
    tags = source.count("{{") + source.count("{%")
    if tags > MAX_TEMPLATE_TAGS:
        raise TemplateRenderError(
            kind, f"the template has {tags} tags; at most {MAX_TEMPLATE_TAGS} are allowed"
        )
    env = environment(_autoescape(kind))
    with _template_problems(kind):
        return env, _Guard(env).visit(env.parse(source))


@contextmanager
def _template_problems(kind: TemplateKind) -> Iterator[None]:
    """Whatever Jinja finds wrong with a template, raised as TemplateRenderError."""
    try:
        yield
    except TemplateSyntaxError as error:
        raise TemplateRenderError(kind, _syntax_message(error)) from error
    except TemplateError as error:
        raise TemplateRenderError(kind, str(error)) from error
    except RecursionError as error:
        raise TemplateRenderError(kind, "the template is nested too deeply") from error


def compile_template(source: str, kind: TemplateKind) -> Template:
    """Parse and compile a template; a problem with it raises TemplateRenderError."""
    env, tree = _parse(source, kind)
    with _template_problems(kind):
        return env.from_string(tree)


def check_template(source: str, kind: TemplateKind) -> str:
    """For the payload validator: the source unchanged, or ValueError saying what is wrong.

    Only parses (no code generation): cheap enough for the API, and it finds syntax
    errors, unknown filters and tests, and the tags email templates cannot use.
    """
    try:
        _parse(source, kind)
    except TemplateRenderError as error:
        raise ValueError(f"template error: {error.detail}") from error
    return source


def _template_line(traceback: TracebackType | None) -> int | None:
    """Jinja rewrites tracebacks so that template frames point at template lines."""
    line = None
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == "<template>":
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line


def _render_message(error: BaseException) -> str:
    if isinstance(error, TemplateSyntaxError):
        return _syntax_message(error)
    if isinstance(error, RecursionError):
        text = "nested too deeply (recursion)"
    elif isinstance(error, MemoryError):
        text = "out of memory"
    else:
        text = str(error) or type(error).__name__
        if not isinstance(error, TemplateError):
            text = f"{type(error).__name__}: {text}"
    line = _template_line(error.__traceback__)
    return f"{text} (line {line})" if line else text


class RenderSession:
    """Renders the templates of one message under one shared budget."""

    def __init__(self, context: Mapping[str, Any]) -> None:
        self._context = dict(context)
        self._budget = _Budget()

    def render(self, source: str, kind: TemplateKind) -> str:
        template = compile_template(source, kind)
        token = _budget.set(self._budget)
        try:
            parts: list[str] = []
            size = 0
            for chunk in template.generate(self._context):
                size += len(chunk)
                if size > MAX_OUTPUT_CHARS:
                    raise TemplateLimitError(f"the output is longer than {MAX_OUTPUT_CHARS}")
                parts.append(chunk)
            self._budget.check_deadline()
            return "".join(parts)
        except TemplateRenderError:
            raise
        except Exception as error:  # any failure inside a client's template is its own fault
            raise TemplateRenderError(kind, _render_message(error)) from error
        finally:
            _budget.reset(token)

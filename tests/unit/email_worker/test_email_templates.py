"""Email templates: sandboxed, HTML autoescaped, strict about missing variables, bounded."""

from __future__ import annotations

import time
from typing import Any

import pytest

from taskyard_common.email_templates import (
    MAX_OUTPUT_CHARS,
    RenderSession,
    TemplateKind,
    TemplateRenderError,
    check_template,
)


def render_template(source: str, kind: TemplateKind, context: dict[str, Any]) -> str:
    return RenderSession(context).render(source, kind)


def test_renders_subject_text_and_html_with_context() -> None:
    session = RenderSession({"name": "Ada", "items": [{"n": "tea", "q": 2}]})
    assert session.render("Hello {{ name }}", "subject") == "Hello Ada"
    text = "{% for i in items %}{{ i.q }} x {{ i.n }}\n{% endfor %}"
    assert session.render(text, "text") == "2 x tea\n"
    assert session.render("<b>{{ name|upper }}</b>", "html") == "<b>ADA</b>"


def test_html_autoescapes_context_values_but_text_does_not() -> None:
    context = {"name": "<script>alert('x')</script> & co", "url": 'a" onclick="x'}
    html = render_template('<p>{{ name }}</p><a href="{{ url }}">', "html", context)
    assert html == (
        "<p>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co</p>"
        '<a href="a&#34; onclick=&#34;x">'
    )
    assert render_template("{{ name }}", "text", context) == context["name"]
    assert render_template("{{ name }}", "subject", context) == context["name"]


def test_trailing_newline_is_kept() -> None:
    assert render_template("line\n", "text", {}) == "line\n"


@pytest.mark.parametrize("kind", ["subject", "text", "html"])
def test_missing_variable_is_a_clear_error(kind: str) -> None:
    with pytest.raises(TemplateRenderError) as caught:
        render_template("Hi\n{{ first_name }}", kind, {"name": "Ada"})  # type: ignore[arg-type]
    assert caught.value.kind == kind
    assert str(caught.value) == f"{kind}: 'first_name' is undefined (line 2)"


def test_missing_attribute_and_item_are_errors_too() -> None:
    with pytest.raises(TemplateRenderError, match="has no attribute 'city'"):
        render_template("{{ user.city }}", "text", {"user": {"name": "Ada"}})
    with pytest.raises(TemplateRenderError, match="is undefined"):
        render_template("{% if missing %}x{% endif %}", "text", {})


def test_defaults_still_work_for_optional_values() -> None:
    assert render_template("{{ nick|default('friend') }}", "text", {}) == "friend"
    assert render_template("{% if nick is defined %}x{% endif %}", "text", {}) == ""


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ items.append(1) }}",
        "{{ '{0.__class__}'.format(1) }}",
    ],
)
def test_sandbox_refuses_internals_and_mutation(source: str) -> None:
    with pytest.raises(TemplateRenderError):
        render_template(source, "text", {"items": [1]})


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("Hello {{ name", "unexpected end of template"),
        ("{% if x %}open", "Unexpected end of template"),
        ("{{ x|no_such_filter }}", "No filter named 'no_such_filter'"),
        ("{% include 'other.html' %}", "cannot extend, include or import"),
        ("{% extends 'base.html' %}", "cannot extend, include or import"),
        ("{% from 'm' import x %}", "cannot extend, include or import"),
        ("{% for x in y recursive %}{% endfor %}", "recursive loops are not supported"),
        ("{% if x is no_such_test %}{% endif %}", "No test named 'no_such_test'"),
        ("{% filter no_such_filter %}x{% endfilter %}", "No filter named 'no_such_filter'"),
        ("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", "nested too deeply"),
        ("{{ a }}" * 10_001, "at most 10000 are allowed"),
    ],
)
def test_check_template_reports_syntax_errors(source: str, message: str) -> None:
    with pytest.raises(ValueError, match="template error") as caught:
        check_template(source, "html")
    assert message.lower() in str(caught.value).lower()


def test_check_template_evaluates_nothing() -> None:
    started = time.monotonic()
    for source in (
        "{{ 'x' * 1000000000 }}",
        "{{ 'x'|center(1000000000) }}",
        "{{ 9 ** 1000000 }}",
        "{{ '%1000000000s'|format(1) }}",
    ):
        assert check_template(source, "text") == source
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'x' * 1000000000 }}",
        "{{ [1, 2] * 100000000 }}",
        "{{ 9 ** 1000000 }}",
        "{{ 'x'|center(1000000000) }}",
        "{{ 'x'.ljust(1000000000) }}",
        "{{ '%1000000000s'|format(1) }}",
        "{{ '%1000000000s' % 1 }}",
        "{{ range(100000)|join('x' * 100000) }}",
        "{{ ('a' * 1000)|replace('', 'y' * 10000) }}",
        "{{ value|tojson(indent=100000) }}",
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "{% set ns = namespace(s='xx') %}{% for i in range(64) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "{% macro m() %}{% for i in range(100000) %}" + "L" * 1000 + "{% endfor %}{% endmacro %}"
        "{{ m()|length }}",
        "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    ],
)
def test_resource_limits_stop_runaway_templates(source: str) -> None:
    started = time.monotonic()
    with pytest.raises(TemplateRenderError):
        render_template(source, "text", {"value": [1, 2]})
    assert time.monotonic() - started < 5


def test_output_is_capped() -> None:
    with pytest.raises(TemplateRenderError, match="more than"):
        big = "x" * (MAX_OUTPUT_CHARS // 2)
        render_template("{{ big }}{{ big }}{{ big }}", "text", {"big": big})


def test_ordinary_loops_and_filters_are_fine() -> None:
    context = {"rows": [{"sku": f"A{i}", "price": i * 1.5} for i in range(2000)]}
    source = (
        "{% for r in rows %}{{ loop.index }}. {{ r.sku|e }} {{ '%.2f'|format(r.price) }}"
        "{% if not loop.last %}\n{% endif %}{% endfor %}\n"
        "{{ rows|map(attribute='sku')|join(', ')|truncate(20) }}"
    )
    out = render_template(source, "html", context)
    assert out.splitlines()[0] == "1. A0 0.00"
    assert out.splitlines()[1999] == "2000. A1999 2998.50"

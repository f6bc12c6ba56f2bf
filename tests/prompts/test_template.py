"""Templates render strictly, insert values as they are, and the fast path is Jinja's."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sluicegate.prompts.template import ENVIRONMENT, TemplateError, compile_template

values = st.one_of(
    st.text(), st.integers(), st.floats(allow_nan=False), st.booleans(), st.none(),
    st.lists(st.integers(), max_size=3),
)


@given(
    before=st.text(alphabet=st.characters(blacklist_characters="{}%#")),
    after=st.text(alphabet=st.characters(blacklist_characters="{}%#")),
    value=values,
)
def test_a_plain_template_renders_as_jinja_does(before: str, after: str, value: object) -> None:
    source = f"{before}{{{{ name }}}}{after}{{{{name}}}}"
    template = compile_template(source)
    assert template.plain is not None  # the fast path
    assert template.render({"name": value}) == ENVIRONMENT.from_string(source).render(name=value)


def test_richer_templates_render_through_jinja() -> None:
    template = compile_template("{% for x in items %}{{ x | upper }} {% endfor %}{{ n + 1 }}")
    assert template.plain is None
    assert template.render({"items": ["a", "b"], "n": 1}) == "A B 2"
    assert template.variables == {"items", "n"}


@pytest.mark.parametrize("source", ["Hi {{ name }}.", "{% if name %}{{ name }}{% endif %}"])
def test_a_missing_variable_is_an_error_naming_it_never_an_empty_string(source: str) -> None:
    with pytest.raises(TemplateError) as err:
        compile_template(source).render({})
    assert err.value.variable == "name"


def test_a_value_with_template_syntax_is_inserted_literally() -> None:
    for source in ("{{ v }}", "{% if true %}{{ v }}{% endif %}"):
        assert compile_template(source).render({"v": "{{ secret }}{% x %}"}) == (
            "{{ secret }}{% x %}"
        )


def test_a_syntax_error_names_its_line() -> None:
    with pytest.raises(TemplateError) as err:
        compile_template("line one\nline {{ two\n")
    assert err.value.line == 2


def test_the_sandbox_keeps_templates_from_python_internals() -> None:
    template = compile_template("{{ v.__class__.__mro__ }}")
    with pytest.raises(TemplateError):
        template.render({"v": "x"})

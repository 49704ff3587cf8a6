"""The promtool helper the tests share: lint findings of a text that parses, a failure for one
that does not."""

import re

import pytest

from conftest import assert_promtool_accepts, promtool_check


def test_promtool_check_returns_the_lint_findings():
    assert promtool_check("# TYPE x counter\nx 1\n") == [
        'x counter metrics should have "_total" suffix',
        "x no help text",
    ]
    assert promtool_check("# HELP x_total X\n# TYPE x_total counter\nx_total 1\n") == []


def test_promtool_check_fails_on_text_it_cannot_parse():
    message = (
        "promtool cannot parse the text: error while linting: text format parsing error in "
        'line 2: label value "1} 1" contains unescaped new-line'
    )
    with pytest.raises(AssertionError, match=re.escape(message)):
        promtool_check('# TYPE x counter\nx{a="1} 1\n')


def test_assert_promtool_accepts_fails_on_a_lint_finding():
    with pytest.raises(AssertionError, match="promtool check metrics found .*no help text"):
        assert_promtool_accepts("# TYPE x_total counter\nx_total 1\n")

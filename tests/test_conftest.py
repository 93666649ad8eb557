"""The suite's own guard: an exception that a `nowserving` logger logged and swallowed
fails the test that caused it, unless the test says it expects one."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

TESTS = """
import logging

import pytest

from tests.conftest import _fail_on_log_exception  # noqa: F401  (the fixture under test)

log = logging.getLogger("nowserving.adapters.something")


def swallow():
    try:
        raise RuntimeError("a bug in a callback (injected)")
    except RuntimeError:
        log.exception("callback failed")


def test_swallowed():
    swallow()


@pytest.mark.expect_log_exception
def test_expected():
    swallow()


def test_a_warning_or_another_library_is_not_an_error():
    try:
        raise RuntimeError("injected")
    except RuntimeError:
        log.warning("degraded", exc_info=True)
        logging.getLogger("paho").exception("not ours")
"""


@pytest.mark.expect_log_exception  # the inner run logs on the same `nowserving` logger
def test_a_swallowed_exception_fails_the_test_unless_it_is_expected(pytester):
    pytester.makepyfile(test_guard=TESTS)
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestUnknownMarkWarning"
    )
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_swallowed*",
            "*1 exception(s) logged and swallowed*",
            "*nowserving.adapters.something: callback failed",
            "*RuntimeError: a bug in a callback (injected)",
        ]
    )

"""End-to-end tests: irkit's tools, launch scripts, the demo server in a browser, a fresh checkout,
run as processes of their own. Every test collected here is marked ``slow`` (the fast lane is
``pytest tests -m "not slow"``)."""
import os

import pytest

from tests.demo.conftest import demo_models, server  # noqa: F401  (the demo server of the browser tests)

HERE = os.path.dirname(os.path.abspath(__file__))


def pytest_collection_modifyitems(config, items):
    for item in items:
        if os.path.dirname(str(item.fspath)) == HERE:
            item.add_marker(pytest.mark.slow)

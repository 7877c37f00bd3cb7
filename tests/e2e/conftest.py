import pytest
from playwright.sync_api import sync_playwright

from tests.e2e.browser import ARGS, CHROMIUM


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test module (a launch costs about a CPU-second)."""
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()

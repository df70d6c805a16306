"""Helpers of the browser tests: the app in a thread, headless Chromium, page-load waits.

Not collected by pytest (no ``test_`` prefix). Also a command that times page loads on a
results folder (for the 2 s bar; not a timed test)::

    python -m tests.browser_support RESULTS_DIR [--run NAME] [--repeat 3]
"""

from __future__ import annotations

import argparse
import logging
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: Screenshots of the browser tests (gitignored).
OUTPUT = ROOT / "test-output" / "browser"

#: Each page and an element that exists once its figures are drawn.
PAGES: dict[str, str] = {
    "/": "#overview-energy .main-svg",
    "/grid": "#grid-map .main-svg",
    "/forecasts": "#forecast-node-figure .main-svg",
    "/market": "#market-book .main-svg",
    "/settlement": "#settlement-notice",
    "/economy": "#economy-flows .sankey-node",
    "/depin": "#depin-emission .main-svg",
    "/flex": "#flex-ev-sessions .main-svg",
    "/scenarios": "#cmp-figure .main-svg",
}


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import dash.testing  # noqa: F401
        import selenium  # noqa: F401
    except ImportError as err:
        return f"dash[testing] / selenium not installed ({err})"
    if shutil.which("chromedriver") is None:
        return "chromedriver not found (Debian: apt-get install chromium chromium-driver)"
    return None


def chrome_options() -> Any:
    """Headless Chromium that stays off the network (this machine has none)."""
    from selenium.webdriver.chrome.options import Options

    options = Options()
    chromium = shutil.which("chromium")
    if chromium:
        options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--window-size=1440,1000",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--no-first-run",
        "--disable-extensions",
    ):
        options.add_argument(flag)
    return options


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def dash_browser(app: Any) -> Iterator[Any]:
    """``app`` served in a thread and a headless Chromium on it (a dash ``DashComposite``)."""
    from dash.testing.application_runners import ThreadedRunner
    from dash.testing.composite import DashComposite

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request

    with (
        ThreadedRunner() as runner,
        DashComposite(
            server=runner,
            browser="Chrome",
            headless=False,  # chrome_options() sets --headless=new
            options=[chrome_options()],
            percy_run=False,
            wait_timeout=20,
        ) as dc,
    ):
        dc.start_server(app, port=free_port())
        yield dc


def wait_loaded(dc: Any, path: str, timeout_s: float = 30.0) -> None:
    """Wait until the page's ready element exists and no callback is pending."""
    driver = dc.driver
    ready = PAGES.get(path, "#react-entry-point")
    deadline = time.monotonic() + timeout_s
    quiet = 0
    while time.monotonic() < deadline:
        state = driver.execute_script(
            """
            const ready = document.querySelector(arguments[0]) !== null;
            const busy = document.querySelector('[data-dash-is-loading="true"]') !== null
                || document.title === 'Updating...'
                || document.querySelector('._dash-loading') !== null;
            return [ready, busy];
            """,
            ready,
        )
        quiet = quiet + 1 if state[0] and not state[1] else 0
        if quiet >= 2:
            return
        time.sleep(0.05)
    raise TimeoutError(f"{path}: not loaded within {timeout_s} s (waiting for {ready})")


def visit(dc: Any, path: str, timeout_s: float = 30.0) -> float:
    """Load ``path`` afresh and wait until it is drawn; the seconds it took."""
    t0 = time.perf_counter()
    dc.driver.get(dc.server_url.rstrip("/") + path)
    wait_loaded(dc, path, timeout_s)
    return time.perf_counter() - t0


def screenshot(dc: Any, name: str, folder: Path = OUTPUT) -> Path:
    """A full-page PNG of the current page under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    driver = dc.driver
    height = int(
        driver.execute_script(
            "const root = document.querySelector('#react-entry-point');"
            "return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight,"
            " root ? root.getBoundingClientRect().bottom + window.scrollY : 0)"
            " + window.outerHeight - window.innerHeight;"
        )
    )
    driver.set_window_size(1440, max(1000, min(height + 20, 8000)))
    time.sleep(0.3)
    path = folder / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(1440, 1000)
    return path


def severe_logs(dc: Any) -> list[dict[str, Any]]:
    """The browser's SEVERE console entries since the last call."""
    entries = list(dc.get_logs())
    dc.reset_log_timestamp()
    return entries


def choose_run(dc: Any, name: str) -> None:
    """Choose run ``name`` in the header's run chooser (the session keeps it)."""
    dc.select_dcc_dropdown("#run", value=name)


def main(argv: list[str] | None = None) -> None:
    """Time every page's load and print a table.

    Cold: the server's caches emptied just before (the run opened first on that page);
    warm: visits after that. Both from navigation until every callback has drawn.
    """
    parser = argparse.ArgumentParser(description="time the dashboard's page loads")
    parser.add_argument("results", type=Path)
    parser.add_argument("--run", help="run to choose (default: the newest)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    from app import create_app

    app = create_app(args.results)
    with dash_browser(app) as dc:
        wait_loaded(dc, "/")
        if args.run:
            choose_run(dc, args.run)
            wait_loaded(dc, "/")
        from pages import _store

        cold: dict[str, float] = {}
        warm: dict[str, list[float]] = {p: [] for p in PAGES}
        for path in PAGES:
            _store.clear_caches()  # as if the run were opened first on this page
            cold[path] = visit(dc, path)
        for _ in range(args.repeat):
            for path in PAGES:
                warm[path].append(visit(dc, path))
        print(f"{'page':<12} {'cold [s]':>9} {'warm best [s]':>14} {'warm worst [s]':>15}")
        for path in PAGES:
            print(
                f"{path:<12} {cold[path]:>9.2f} {min(warm[path]):>14.2f} {max(warm[path]):>15.2f}"
            )
        logs = severe_logs(dc)
        print(f"SEVERE console entries: {len(logs)}")
        for entry in logs:
            print("  ", entry.get("message"))


if __name__ == "__main__":
    main()

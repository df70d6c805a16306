"""gridtwin dashboard: ``python app.py [--results DIR] [--host 127.0.0.1] [--port 8050]``.

A Dash app with one page per view under ``pages/`` (Dash Pages): ``/`` overview, ``/grid``,
``/forecasts``, ``/market``, ``/settlement``, ``/economy``, ``/depin``, ``/flex``,
``/scenarios``. The header's run
chooser is shared by every page. Callbacks read the results store (``pages/_store.py``,
cached per run folder) or call ``twin``, build a figure with the ``figures`` builders and
return. Runs started from the Scenarios page execute as Dash background callbacks (diskcache
manager, cache in ``DIR/.dashboard-cache``) and land in the results folder served.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import dash
import diskcache
from dash import Dash, DiskcacheManager, Input, Output, State, dcc, html

HERE = Path(__file__).resolve().parent

#: Order of the pages in the navigation bar.
NAV_ORDER = (
    "/",
    "/grid",
    "/forecasts",
    "/market",
    "/settlement",
    "/economy",
    "/depin",
    "/flex",
    "/scenarios",
)


def create_app(results_dir: str | Path = "results") -> Dash:
    """The Dash app, reading runs from ``results_dir``.

    Parameters
    ----------
    results_dir : str or Path
        Folder of run folders; the Scenarios page writes its runs there too.
    """
    if str(HERE) not in sys.path:  # pages/ sits beside app.py, not in the installed packages
        sys.path.insert(0, str(HERE))
    results = Path(results_dir).resolve()
    os.environ["GRIDTWIN_RESULTS"] = str(results)
    cache_dir = results / ".dashboard-cache"
    cache_dir.mkdir(parents=True, exist_ok=True)
    app = Dash(
        __name__,
        use_pages=True,
        pages_folder=str(HERE / "pages"),
        assets_folder=str(HERE / "assets"),
        title="gridtwin",
        suppress_callback_exceptions=True,
        background_callback_manager=DiskcacheManager(diskcache.Cache(str(cache_dir))),
    )
    app.layout = serve_layout
    app.callback(
        Output("run", "options"),
        Output("run", "value"),
        Input("url", "pathname"),
        State("run", "value"),
    )(refresh_runs)
    return app


def _run_options() -> tuple[list[dict[str, str]], str | None]:
    from pages._store import runs

    names = [run.path.name for run in runs()]
    return [{"label": n, "value": n} for n in names], (names[0] if names else None)


def serve_layout() -> html.Div:
    """Header (title, navigation, run chooser) above the current page."""
    options, newest = _run_options()
    pages = sorted(
        dash.page_registry.values(),
        key=lambda p: NAV_ORDER.index(p["path"]) if p["path"] in NAV_ORDER else 99,
    )
    return html.Div(
        [
            dcc.Location(id="url"),
            html.Header(
                [
                    html.Div(
                        [
                            html.Span("gridtwin", className="brand"),
                            html.Span(" a digital twin of a community energy grid"),
                        ],
                        className="title",
                    ),
                    html.Nav(
                        [
                            dcc.Link(
                                p["name"],
                                href=p["path"],
                                id="nav-" + p["name"].lower().replace(" ", "-"),
                            )
                            for p in pages
                        ],
                        className="nav",
                    ),
                    html.Div(
                        [
                            html.Label("run", htmlFor="run"),
                            dcc.Dropdown(
                                id="run",
                                options=options,
                                value=newest,
                                clearable=False,
                                placeholder="no runs yet",
                                persistence=True,
                                persistence_type="session",
                            ),
                        ],
                        className="run-chooser",
                    ),
                ],
                className="header",
            ),
            html.Main(dash.page_container, className="page"),
        ],
        className="app",
    )


def refresh_runs(_pathname: str | None, current: str | None) -> tuple[Any, Any]:
    """Re-list the runs on every navigation; keep the chosen run while it exists."""
    options, newest = _run_options()
    names = {o["value"] for o in options}
    if current in names:
        return options, dash.no_update
    return options, newest


def main(argv: list[str] | None = None) -> None:
    """Serve the dashboard (debug off)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--results", default="results", help="folder of run folders")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8050)
    args = parser.parse_args(argv)
    create_app(args.results).run(host=args.host, port=args.port, debug=False)


if __name__ == "__main__":
    main()

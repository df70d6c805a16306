"""gridtwin dashboard: ``python app.py [--results DIR] [--host 127.0.0.1] [--port 8050]``.

A Dash app with one page per view under ``pages/`` (Dash Pages). Callbacks only read the
results store and call figure builders (``twin.figures``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import dash
from dash import Dash, html

HERE = Path(__file__).resolve().parent


def create_app(results_dir: str | Path = "results") -> Dash:
    """The Dash app, reading runs from ``results_dir``."""
    os.environ["GRIDTWIN_RESULTS"] = str(Path(results_dir).resolve())
    app = Dash(
        __name__,
        use_pages=True,
        pages_folder=str(HERE / "pages"),
        title="gridtwin",
        suppress_callback_exceptions=True,
    )
    app.layout = html.Div(
        [
            html.Header(
                [
                    html.H2("gridtwin", style={"margin": "0"}),
                    html.Span(
                        " a digital twin of a community energy grid", style={"color": "#666"}
                    ),
                ],
                style={"padding": "8px 16px", "borderBottom": "1px solid #ddd"},
            ),
            html.Main(dash.page_container, style={"padding": "16px"}),
        ],
        style={"fontFamily": "system-ui, sans-serif"},
    )
    return app


def main(argv: list[str] | None = None) -> None:
    """Serve the dashboard (debug off)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="results", help="folder of run folders")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8050)
    args = parser.parse_args(argv)
    create_app(args.results).run(host=args.host, port=args.port, debug=False)


if __name__ == "__main__":
    main()

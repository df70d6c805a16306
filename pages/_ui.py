"""Small layout pieces shared by the pages (not a page: the name starts with ``_``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dash import dcc, html
from dash.dash_table.DataTable import DataTable

#: Graph config of every figure: no plotly logo, no editing.
GRAPH_CONFIG: Any = {"displaylogo": False, "responsive": True}


def cards(items: Sequence[Mapping[str, str]]) -> list[html.Div]:
    """KPI cards from ``{"label", "value", "unit"}`` items."""
    return [
        html.Div(
            [
                html.Div(item["label"], className="card-label"),
                html.Div(
                    [item["value"], html.Span(f" {item['unit']}", className="card-unit")],
                    className="card-value",
                ),
            ],
            className="card",
        )
        for item in items
    ]


def notice(text: str, kind: str = "info") -> html.Div:
    """A boxed message (``info`` or ``warning``)."""
    return html.Div(text, className=f"notice notice-{kind}")


def graph(graph_id: str, height: int = 420, **kwargs: Any) -> dcc.Graph:
    """A graph with the dashboard's config, ``height`` [px] tall."""
    return dcc.Graph(id=graph_id, config=GRAPH_CONFIG, style={"height": f"{height}px"}, **kwargs)


def table(table_id: str, page_size: int = 15, **kwargs: Any) -> DataTable:
    """A sortable, paged DataTable in the dashboard's style."""
    return DataTable(
        id=table_id,
        sort_action="native",
        page_size=page_size,
        style_table={"overflowX": "auto"},
        style_cell={"fontSize": 13, "padding": "4px 8px", "textAlign": "left"},
        style_header={"fontWeight": "600", "backgroundColor": "#f3f4f6"},
        **kwargs,
    )


def columns(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """DataTable columns of ``rows`` (those of the first row)."""
    return [{"name": str(k), "id": str(k)} for k in (rows[0] if rows else {})]

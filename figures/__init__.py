"""Pure plotly figure builders: run tables in, figure out (dashboard and notebooks)."""

"""Forecasters and the dispatch that uses them (lands with the forecasting issue)."""

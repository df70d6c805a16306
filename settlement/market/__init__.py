"""The market: auctions, grid fees, tariffs and bills (pure functions on integers)."""

"""Market, ledger, chain and rewards: how energy becomes money and tokens."""

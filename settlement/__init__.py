"""How energy becomes money and tokens: the market, the chain, the DePIN devices."""

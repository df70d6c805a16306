"""The composition root: scenario, engine, results store and command line."""

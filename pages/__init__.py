"""The dashboard's pages (Dash Pages: one module a view; ``_``-modules are helpers)."""

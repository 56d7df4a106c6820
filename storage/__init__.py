"""PostgreSQL storage: tables, migrations, the engine, and one module per aggregate.

Functions here take an `Engine` (or a `Connection` inside a caller's transaction) and return
the dataclasses of `kurilwatch.model`; rows never leave this package.
"""

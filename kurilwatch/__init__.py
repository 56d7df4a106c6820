"""kurilwatch: a self-hosted news monitor that alerts on Kuril Islands protests and exercises.

This package holds what every layer shares: the frozen value types (`model`), the typed
configuration (`config`) and the error tree (`errors`). It imports nothing else of ours.
"""

from __future__ import annotations

__version__ = "0.1.0"

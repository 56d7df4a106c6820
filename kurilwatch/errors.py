"""The one error tree of kurilwatch.

    KurilwatchError
    ├── ConfigError                 the YAML file or the environment is wrong (exit 2)
    ├── RuleError (ConfigError)     a rule or the topic query does not parse
    ├── DatabaseError               the database cannot be reached or set up
    │   └── EmbeddedDatabaseError   the embedded PostgreSQL could not start
    ├── ExtractionError             a page gave no article text
    ├── SourceNotFound (LookupError)
    ├── StoryNotFound (LookupError)
    └── DeliveryError               an alert could not be delivered
        ├── DeliveryRetryable       transport error, timeout, 5xx, 429: try again later
        └── DeliveryRejected        the receiver refused it for good: dead-letter it

The class docstring is the default message. Exceptions never log themselves; the shell that
catches them decides.
"""

from __future__ import annotations


class KurilwatchError(Exception):
    """kurilwatch failed."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class ConfigError(KurilwatchError, ValueError):
    """The configuration is invalid."""


class RuleError(ConfigError):
    """A rule query is invalid."""


class DatabaseError(KurilwatchError):
    """The database is not reachable."""


class EmbeddedDatabaseError(DatabaseError):
    """The embedded PostgreSQL could not be started."""


class ExtractionError(KurilwatchError):
    """No article text could be extracted from the page."""


class SourceNotFound(KurilwatchError, LookupError):
    """No such source."""


class StoryNotFound(KurilwatchError, LookupError):
    """No such story."""


class DeliveryError(KurilwatchError):
    """The alert could not be delivered."""


class DeliveryRetryable(DeliveryError):
    """The receiver could not take the alert now; it will be tried again."""

    def __init__(self, message: str | None = None, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DeliveryRejected(DeliveryError):
    """The receiver refused the alert for good."""

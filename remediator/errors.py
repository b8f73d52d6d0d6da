"""The package's exceptions. Adapters translate botocore errors into these."""


class RemediatorError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigurationError(RemediatorError):
    """The environment does not describe a valid configuration."""


class EventRejectedError(RemediatorError):
    """The event is malformed, forged or not ours. Never retried, never acted on."""


class PermanentError(RemediatorError):
    """Retrying cannot help (access denied, missing role). Audited, counted, not retried."""


class TransientError(RemediatorError):
    """Throttling or a service fault that botocore's retries did not absorb. Left to the Lambda retry."""

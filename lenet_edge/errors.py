"""The toolkit's exception types. The library raises them; only the CLI turns them into one line."""


class LenetEdgeError(Exception):
    """Base class: str(error) is a complete one-line message for the user."""


class DataError(LenetEdgeError):
    """A dataset file is missing, truncated, corrupt or cannot be downloaded."""


class ModelError(LenetEdgeError):
    """An unknown model name, or a model that cannot be built or converted."""


class RunError(LenetEdgeError):
    """A run folder that is missing, incomplete or of the wrong kind."""


class UsageError(LenetEdgeError):
    """A flag value out of range."""

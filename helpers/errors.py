"""The project's own exception types: every bad input is reported through one of these."""


class ToolkitError(Exception):
    """Base class: a problem with the user's data, settings or folders, explained in the message."""


class DataLayoutError(ToolkitError):
    """A data folder or file name does not follow the layout of its DCASE Task 2 edition (2020 to 2026)."""


class ClipError(ToolkitError):
    """One audio clip cannot be used (unreadable, empty, too short); callers skip it and go on."""

    def __init__(self, path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


class ConfigError(ToolkitError):
    """A setting is unknown, misspelt or of the wrong type or value."""

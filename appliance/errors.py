"""Exceptions of the core. The CLI turns any EspaceError into one line and an exit code."""


class EspaceError(Exception):
    """Base of every error Espace expects and can explain to a person.

    ``fix`` says what to do about it; the CLI prints it after the message.
    """

    exit_code = 1

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.fix = fix

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text} (fix: {self.fix})" if self.fix else text


class UsageError(EspaceError):
    """The command was called wrongly: exit code 2, as click does."""

    exit_code = 2


class ConfigError(EspaceError):
    """One or more bad values in a site config; ``problems`` lists each one."""

    exit_code = 2

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("\n".join(problems))


class DatabaseError(EspaceError):
    """The database cannot be opened or migrated."""

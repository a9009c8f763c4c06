"""The one exception type for problems an analyst can fix in their input or config."""


class UserInputError(ValueError):
    """Bad input or configuration.

    The message names the file, sheet, column or rows involved and says what to do,
    so that the CLI and the app can show it as it is, without a traceback.
    """

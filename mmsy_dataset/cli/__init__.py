"""The `mmsy` command line (console script `mmsy = mmsy_dataset.cli:main`); see `cli/main.py`."""

from mmsy_dataset.cli.main import USER_ERRORS, error_message, main, parser, print_error

__all__ = ["USER_ERRORS", "error_message", "main", "parser", "print_error"]

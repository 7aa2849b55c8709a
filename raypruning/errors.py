"""Errors the command line turns into exit codes.

`InputError` means the user gave something wrong (a config, a data file, an
argument): the CLI prints its lines and exits with 2. `StudyIncomplete` and anything
else exit 1.
"""

from __future__ import annotations


class InputError(Exception):
    """Bad input. Carries one line per problem, each naming the file and key or line."""

    def __init__(self, problems: str | list[str]):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class StudyIncomplete(Exception):
    """A study ended with trials left undone (failed, or the study was interrupted). Its tables
    hold what finished; the message says how many and how to finish it with --resume."""

"""Exit codes and the exceptions that carry them."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit status of every ``digit-ocr`` command (documented in README.md)."""

    OK = 0
    NO_DIGITS = 1
    BAD_ARGS = 2
    UNREADABLE_INPUT = 3
    MISSING_DEPENDENCY = 4
    BAD_MODEL = 5
    UNCERTAIN = 6
    #: The external OCR engine (Tesseract) crashed, hung past --timeout or wrote unreadable output:
    #: not a digit-ocr bug (that is 70), and often worth a retry or a look at the Tesseract install.
    ENGINE_FAILED = 7
    INTERNAL_ERROR = 70
    SOME_FILES_FAILED = 123
    INTERRUPTED = 130


class DigitOcrError(Exception):
    """Base error: a one-line message, the exit code it maps to, and an optional fix-it hint."""

    exit_code: ExitCode = ExitCode.INTERNAL_ERROR

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class BadArgumentsError(DigitOcrError):
    """The command line asks for something impossible."""

    exit_code = ExitCode.BAD_ARGS


class UnreadableInputError(DigitOcrError):
    """An input file is missing, unreadable or not a decodable image."""

    exit_code = ExitCode.UNREADABLE_INPUT


class MissingDependencyError(DigitOcrError):
    """An external program or optional package is not installed or too old."""

    exit_code = ExitCode.MISSING_DEPENDENCY


class BadModelError(DigitOcrError):
    """A model file is missing, corrupt, untrusted or of an incompatible format."""

    exit_code = ExitCode.BAD_MODEL

"""Sub-commands of ``interviewer``. Each module defines

    NAME: str                       the sub-command
    HELP: str                       one line for ``interviewer --help``
    def add_arguments(parser) -> None
    def run(args) -> int            exit status; errors are one clear line on stderr

and is listed in ``COMMANDS`` below. Modules import heavy things only inside
``run`` so that ``interviewer --help`` stays instant. A command that cannot do
what was asked raises ``CommandError``; ``interviewer.cli`` prints it.
"""

COMMANDS = [
    "practice",
    "rapid",
    "review",
    "score",
    "bank",
    "export",
    "doctor",
    "data",
]


class CommandError(Exception):
    """A failure reported to the user as one line, exit status 2."""

"""One clear line and a non-zero exit for the user's mistakes."""

import contextlib
import sys


class RunError(Exception):
    """A user-facing problem with a run; its message is one line with the fix."""


def one_line(error):
    """The first line of an error's message (TensorFlow appends graph traces)."""
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    return message.strip().splitlines()[0].strip()


@contextlib.contextmanager
def exit_on_user_error():
    """Turns the errors a user can fix into `error: ...` on stderr and exit
    status 1; bugs keep their traceback. Also keeps TensorFlow's INFO
    logging (SavedModel writing, ...) out of the scripts' output."""
    import tensorflow as tf
    from absl import logging

    logging.set_verbosity(logging.WARNING)

    try:
        yield
    except (
        RunError,
        ValueError,
        FileNotFoundError,  # DataSourceMissingError too; a missing folder or TFRecord glob.
        FileExistsError,
        tf.errors.InvalidArgumentError,
    ) as error:
        print(f"error: {one_line(error)}", file=sys.stderr, flush=True)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume", file=sys.stderr, flush=True)
        sys.exit(130)

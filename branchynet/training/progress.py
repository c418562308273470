"""Training progress that reads well in a log file as on a terminal.

On a terminal, Chainer's ProgressBar and PrintReport do the job. In a log
(``nohup``, ``get_results.sh > log``) the bar is off, PrintReport's cursor
codes (``ESC[J``) are noise, and nothing would be printed between epochs,
which for ResNet-110 on a CPU are hours apart. :class:`ProgressLines` prints
one plain line every few minutes instead, and :class:`PlainStream` drops the
cursor codes.
"""
import os
import re
import sys
import time

from chainer import training

_CURSOR_CODES = re.compile(r'\x1b\[[0-9;]*[A-Za-z]')


#: set by MPI launchers in every process they start (Open MPI; MPICH/Hydra)
_MPI_ENVIRONMENT = ('OMPI_COMM_WORLD_SIZE', 'PMI_SIZE')


def is_terminal(stream=None):
    """Whether ``stream`` (default: stdout) shows on a terminal.

    Under ``mpiexec`` a rank's stdout is a pseudo-terminal that Open MPI
    forwards to wherever mpiexec's output goes, usually a log: not a
    terminal for this purpose.
    """
    stream = stream or sys.stdout
    if any(name in os.environ for name in _MPI_ENVIRONMENT):
        return False
    return hasattr(stream, 'isatty') and stream.isatty()


class PlainStream:
    """A text stream that drops terminal cursor codes when not a terminal
    (:func:`is_terminal`)."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout
        self.strip = not is_terminal(self.stream)

    def write(self, text):
        if self.strip:
            text = _CURSOR_CODES.sub('', text)
        return self.stream.write(text)

    def flush(self):
        self.stream.flush()


class ProgressLines(training.Extension):
    """Every ``seconds``, one line: epoch, iteration, speed, time left.

    Called at every iteration but prints only when ``seconds`` have passed;
    keeps no state that a snapshot would need.

    Args:
        seconds (float): time between two lines.
        stream: where to write (default: standard output).
    """
    trigger = (1, 'iteration')
    priority = training.PRIORITY_READER

    def __init__(self, seconds=300, stream=None):
        self.seconds = seconds
        self.stream = stream or sys.stdout
        self._last = None
        self._start = None

    def initialize(self, trainer):
        now, updater = time.time(), trainer.updater
        self._last = (now, updater.iteration)
        self._start = (now, updater.epoch_detail)

    def __call__(self, trainer):
        now = time.time()
        if now - self._last[0] < self.seconds:
            return
        updater = trainer.updater
        done = updater.epoch_detail
        stop = trainer.stop_trigger
        total = stop.period if getattr(stop, 'unit', None) == 'epoch' \
            else None
        rate = (updater.iteration - self._last[1]) / (now - self._last[0])
        line = 'progress: epoch %.2f' % done
        if total and done > self._start[1]:
            per_epoch = (now - self._start[0]) / (done - self._start[1])
            line += ' of %g, about %s left in this phase' % (
                total, _duration((total - done) * per_epoch))
        line += ', iteration %d, %.2f iterations/s' % (updater.iteration, rate)
        self.stream.write(line + '\n')
        self.stream.flush()
        self._last = (now, updater.iteration)


def _duration(seconds):
    seconds = int(seconds)
    if seconds >= 3600:
        return '%dh%02dm' % (seconds // 3600, seconds % 3600 // 60)
    return '%dm%02ds' % (seconds // 60, seconds % 60)

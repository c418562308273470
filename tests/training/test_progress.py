"""Progress output for log files: plain lines, no cursor codes."""
import io

import chainer
import numpy

from branchynet.training.progress import PlainStream, ProgressLines


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_cursor_codes_are_dropped_only_off_a_terminal():
    log = io.StringIO()
    PlainStream(log).write('\x1b[J1   108   0.63\x1b[2A\n')
    assert log.getvalue() == '1   108   0.63\n'
    tty = _Tty()
    PlainStream(tty).write('\x1b[Jx')
    assert tty.getvalue() == '\x1b[Jx'


def test_a_rank_under_mpiexec_is_not_on_a_terminal(monkeypatch):
    # Open MPI hands each rank a pseudo-terminal that ends in a log
    monkeypatch.setenv('OMPI_COMM_WORLD_SIZE', '2')
    tty = _Tty()
    PlainStream(tty).write('\x1b[J1   118\n')
    assert tty.getvalue() == '1   118\n'


def test_progress_lines_appear_between_epochs(monkeypatch):
    x = numpy.zeros((20, 3), numpy.float32)
    t = numpy.zeros(20, numpy.int32)
    model = chainer.links.Classifier(chainer.links.Linear(3, 2))
    optimizer = chainer.optimizers.SGD()
    optimizer.setup(model)
    iterator = chainer.iterators.SerialIterator(
        chainer.datasets.TupleDataset(x, t), 5)
    trainer = chainer.training.Trainer(
        chainer.training.StandardUpdater(iterator, optimizer), (2, 'epoch'))
    clock = iter(range(0, 1000, 100))          # 100 s per call
    monkeypatch.setattr('branchynet.training.progress.time.time', lambda: next(clock))
    out = io.StringIO()
    trainer.extend(ProgressLines(seconds=150, stream=out))
    trainer.run()
    lines = out.getvalue().splitlines()
    # 8 iterations, a clock step of 100 s each: a line every other call
    assert len(lines) == 4
    assert lines[0].startswith('progress: epoch 0.50 of 2, about ')
    assert 'iteration 2, 0.01 iterations/s' in lines[0]
    assert lines[-1].startswith('progress: epoch 2.00 of 2')

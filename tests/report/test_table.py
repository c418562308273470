"""Table I takes its network and runtime names from the registries."""
import json

import pytest

from branchynet.networks import REGISTRY as NETWORK_REGISTRY
from branchynet.networks import NetworkSpec, b_lenet, register
from branchynet.report import table
from branchynet.runtimes import REGISTRY as RUNTIME_REGISTRY
from branchynet.runtimes import Runtime
from branchynet.runtimes import register as register_runtime
from test_schema import summary


def rows_of(tmp_path, *summaries):
    rows = table.write_table(list(summaries), str(tmp_path))
    return rows, (tmp_path / 'table1.md').read_text()


@pytest.mark.parametrize('name', list(NETWORK_REGISTRY))
def test_every_registered_networks_names_reach_table_1(tmp_path, name):
    spec = NETWORK_REGISTRY[name]
    rows, markdown = rows_of(tmp_path, summary(network=name))
    assert [row['network'] for row in rows] == [spec.baseline_display,
                                                spec.display]
    assert '| %s |' % spec.display in markdown
    assert '| %s |' % spec.baseline_display in markdown
    assert table.DISPLAY[name] == (spec.baseline_display, spec.display)


def test_the_papers_names():
    assert dict(list(table.DISPLAY.items())[:3]) == {
        'b_lenet': ('LeNet', 'B-LeNet'),
        'b_alexnet': ('AlexNet', 'B-AlexNet'),
        'b_resnet110': ('ResNet-110', 'B-ResNet')}
    assert dict(list(table.RUNTIMES.items())[:2]) == {
        'chainer': 'Chainer', 'onnxruntime': 'ONNX Runtime'}


def test_a_registered_network_reaches_table_1_unchanged(tmp_path):
    """A new network is a spec and a register line: the table, its order
    and the schema check know it."""
    register(NetworkSpec('b_tiny', b_lenet, (1, 28, 28), 2,
                         display='B-Tiny', baseline_display='Tiny'))
    try:
        rows, markdown = rows_of(tmp_path, summary(network='b_tiny'),
                                 summary(network='b_lenet'))
        assert [row['network'] for row in rows] == [
            'LeNet', 'B-LeNet', 'Tiny', 'B-Tiny']
        (tmp_path / 'r').mkdir()
        (tmp_path / 'r' / 'sweep.json').write_text(
            json.dumps(summary(network='b_tiny')))
        assert table.load_results(str(tmp_path))[0]['network'] == 'b_tiny'
    finally:
        NETWORK_REGISTRY.unregister('b_tiny')


class Fake(Runtime):
    name = 'fake'
    display = 'Fake Engine'

    @staticmethod
    def note(settings):
        return 'Fake Engine %s, %s lanes' % (settings.get('fake', ''),
                                            settings.get('lanes', '?'))


def test_every_registered_runtime_and_its_note_reach_table_1(tmp_path):
    register_runtime(Fake)
    try:
        # the built-ins' and the fake's settings; a runtime added to the
        # package is shown under its display name with the note its class
        # makes of no settings, and needs no edit here
        settings = {'chainer': {'chainer': '7.8.1'},
                    'onnxruntime': {'onnxruntime': '1.2',
                                    'intra_op_num_threads': 1,
                                    'providers': ['CPUExecutionProvider']},
                    'fake': {'fake': '0.1', 'lanes': 4}}
        names = list(reversed(list(RUNTIME_REGISTRY)))
        rows, markdown = rows_of(tmp_path, *[
            summary(runtime=name, runtime_settings=settings.get(name, {}))
            for name in names])
        shown = [row['runtime'] for row in rows]
        assert shown == [RUNTIME_REGISTRY[n].display for n in reversed(names)
                         for _ in range(2)]
        assert shown[:4] == ['Chainer'] * 2 + ['ONNX Runtime'] * 2
        assert shown[-2:] == ['Fake Engine'] * 2
        for note in ('(Chainer 7.8.1)', '(ONNX Runtime 1.2, 1 intra-op '
                     'thread(s), CPUExecutionProvider)',
                     '(Fake Engine 0.1, 4 lanes)'):
            assert note in markdown
    finally:
        RUNTIME_REGISTRY.unregister('fake')


def test_a_result_from_before_the_runtime_option_is_chainer():
    assert table.runtime_note({}) == 'Chainer '
    assert table.table_rows(summary())[0]['runtime'] == 'Chainer'

"""sweep.json checks for the fields the scores and the alpha figure add."""
import copy

import pytest

from branchynet.errors import BranchyNetError
from branchynet.report.table import DISPLAY
from branchynet.report.schema import check_sweep_result
from test_figures import summary as figure_summary


def summary(**changes):
    s = copy.deepcopy(figure_summary())
    s['sweep_tune'] = copy.deepcopy(s['sweep_test'])     # not one list
    s = dict(s, experiment='lenet_mnist',
             device='@numpy', rule='knee', n_test=10, chosen_index=1,
             baseline={'ms': 4.0, 'test_accuracy': 0.99},
             macs={'baseline': 2e6, 'path': [1e6, 2e6]}, validation=[])
    s.update(changes)
    return s


def test_a_good_result_with_and_without_score_and_tuning_rows():
    check_sweep_result(summary(), 'x', DISPLAY)
    check_sweep_result(summary(score='energy'), 'x', DISPLAY)
    old = summary()
    del old['sweep_tune']                  # results from before the figure
    check_sweep_result(old, 'x', DISPLAY)


@pytest.mark.parametrize('changes, match', [
    (dict(score='confidence'), "unknown score 'confidence'"),
    (dict(score=['entropy']), 'unknown score'),
    (dict(sweep_tune=[]), 'sweep_tune has 0 rows, sweep_test 4'),
    (dict(sweep_tune='rows'), 'sweep_tune should be list'),
])
def test_bad_score_and_tuning_rows_are_named(changes, match):
    with pytest.raises(BranchyNetError, match=match):
        check_sweep_result(summary(**changes), 'x', DISPLAY)


def test_a_bad_tuning_row_is_named():
    s = summary()
    s['sweep_tune'][2] = dict(s['sweep_tune'][2], ms=-1)
    with pytest.raises(BranchyNetError, match=r'sweep_tune\[2\]\.ms'):
        check_sweep_result(s, 'x', DISPLAY)


@pytest.mark.parametrize('index, match', [
    (4, 'chosen_index 4 is outside the 4 sweep points'),
    (5, 'chosen_index 5 is outside the 4 sweep points'),
    (-1, 'chosen_index'), (True, 'chosen_index'), (1.0, 'chosen_index')])
def test_a_chosen_index_of_no_sweep_point_is_refused(index, match):
    assert len(summary()['sweep_test']) == 4
    with pytest.raises(BranchyNetError, match=match):
        check_sweep_result(summary(chosen_index=index), 'x', DISPLAY)


def test_the_last_sweep_point_may_be_chosen():
    check_sweep_result(summary(chosen_index=3), 'x', DISPLAY)


DATA = {'dataset': 'pcifar10',
        'origin': {'built_from': 'an image folder', 'recipe': 'zca'},
        'sha256': {'test': 'a' * 64, 'tune': '0' * 64}}


def test_what_the_data_were_is_checked_when_recorded():
    check_sweep_result(summary(data=DATA), 'x', DISPLAY)
    check_sweep_result(summary(data=dict(DATA, origin=None)), 'x', DISPLAY)


@pytest.mark.parametrize('data, match', [
    ('pcifar10', 'data should be an object'),
    (dict(DATA, dataset=None), 'data.dataset should be text'),
    (dict(DATA, origin='images'), 'data.origin should be an object'),
    (dict(DATA, sha256=None), 'data.sha256 should be an object'),
    (dict(DATA, sha256={'test': 'A' * 64}),
     'data.sha256.test should be 64 hex digits'),
    (dict(DATA, sha256={'test': 'a' * 64, 'tune': 'a' * 63}),
     'data.sha256.tune should be'),
    (dict(DATA, sha256={'test': 'a' * 64}), 'data.sha256.tune should be'),
    (dict(DATA, origin={'built_from': 3}),
     'data.origin.built_from should be text or null'),
    (dict(DATA, origin={'built_from': 'x', 'recipe': ['zca']}),
     'data.origin.recipe should be text or null'),
])
def test_a_bad_data_record_is_named(data, match):
    with pytest.raises(BranchyNetError, match=match):
        check_sweep_result(summary(data=data), 'x', DISPLAY)

"""Latency profiler and multiply-add counts."""
import numpy

from branchynet.networks import b_lenet
from branchynet.profiling import (count_macs, forcing_thresholds,
                                  profile_paths, run_one)


def test_forcing_thresholds_send_every_sample_to_exit_k():
    model = b_lenet()
    x = numpy.random.RandomState(0).rand(5, 1, 28, 28).astype(numpy.float32)
    for k in range(model.n_exits):
        t = forcing_thresholds(model.n_exits, k)
        assert [run_one(model, x[i:i + 1], t)[1] for i in range(5)] == [k] * 5
    assert run_one(model, x[:1], None)[1] == model.n_exits - 1


def test_exit_path_costs_increase_with_k():
    model = b_lenet()
    x = numpy.random.RandomState(0).rand(10, 1, 28, 28).astype(numpy.float32)
    profile = profile_paths(model, x, n_samples=30, n_warmup=3)
    # exit 2's path holds exit 1's path plus stage 2, five times its MACs
    assert profile.exit_ms_median[0] < profile.exit_ms_median[1]
    assert profile.trunk_ms[0] < profile.trunk_ms[1]
    assert len(profile.stage_ms) == 2
    assert all(p10 <= med <= p90 for p10, med, p90 in zip(
        profile.exit_ms_p10, profile.exit_ms_median, profile.exit_ms_p90))
    # trunk-only accounting of a path leaves out its heads and decisions
    assert profile.trunk_ms[0] < profile.exit_ms_median[0]


def test_multiply_adds_match_the_layer_table():
    macs = count_macs(b_lenet(), numpy.zeros((1, 1, 28, 28), numpy.float32))
    conv1 = 5 * 1 * 25 * 30 * 30               # conv(5, 1->5) on 30x30
    exit1 = 10 * 5 * 9 * 15 * 15 + 640 * 10    # conv(3, 5->10) on 15x15
    stage2 = (10 * 5 * 25 * 17 * 17 + 20 * 10 * 25 * 11 * 11 + 720 * 84)
    assert macs['stage'] == [conv1, stage2]
    assert macs['exit'] == [exit1, 84 * 10]
    assert macs['path'] == [conv1 + exit1, conv1 + stage2 + exit1 + 840]
    assert macs['baseline'] == conv1 + stage2 + 840


def test_profile_on_onnxruntime():
    from branchynet.runtime import make_runtime
    model = b_lenet()
    runtime = make_runtime(model, 'b_lenet', 'onnxruntime')
    x = numpy.random.RandomState(0).rand(10, 1, 28, 28).astype(numpy.float32)
    for k in range(model.n_exits):
        t = forcing_thresholds(model.n_exits, k)
        assert [run_one(runtime, runtime.send(x[i:i + 1]), t)[1]
                for i in range(5)] == [k] * 5
    profile = profile_paths(runtime, x, n_samples=30, n_warmup=3)
    assert profile.runtime == 'onnxruntime'
    assert profile.settings['intra_op_num_threads'] == 1
    assert profile.exit_ms_median[0] < profile.exit_ms_median[1]
    # the trunk alone (cut out of each segment's graph) costs less than the
    # whole exit path
    assert len(profile.stage_ms) == 2
    assert profile.trunk_ms[0] < profile.exit_ms_median[0]

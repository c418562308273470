"""Benchmark: Chainer against ONNX Runtime, at batch size 1 and batched.

One process, one interleaved run (for every sample, every network, runtime
and path in turn, so that a slow drift of the machine touches all alike):

* **Batch-1 latency**, end to end, ms per sample (trimmed mean; each timed
  call right after an untimed identical one, so caches are warm): the main
  network (the baseline), every exit path (forced), and the real early
  exit, for LeNet/B-LeNet (the trained MODEL_DIR, on MNIST test images, at
  its chosen T), AlexNet/B-AlexNet (random weights, random images) and,
  with ``--resnet``, ResNet-110/B-ResNet-110. The CIFAR networks run at the
  paper's exit shares (B-AlexNet 65.6/25.2/9.2 %, B-ResNet 41.5/13.8/44.7 %):
  their thresholds are set between the samples' own entropies so that
  exactly those shares leave at each exit. Reported: the speed-up of ONNX
  Runtime over Chainer per path, and the early-exit gain under each runtime
  beside the multiply-add bound at the same shares.
* **Batched throughput** at ``--batch`` (256): the batched early exit
  against the baseline, samples per second, both runtimes: B-LeNet at its
  real exit shares, B-AlexNet at the paper's (forced as above).

Threads: ONNX Runtime gets ``--threads`` intra-op threads (default 1), and
unless already set, ``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS``/
``MKL_NUM_THREADS`` are set to the same number before NumPy loads, so that
Chainer's arithmetic runs on as many threads: like for like.

The sweep-speed comparison is ``scripts/bench/bench_sweep.py MODEL_DIR --runtime
onnxruntime`` (printed at the end).

    python scripts/bench/bench_runtimes.py _models/lenet_mnist [--samples 500]
        [--warmup 30] [--resnet] [--resnet-samples 50] [--batch 256]
        [--batch-samples 1024] [--repeats 3] [--threads 1]
        [--threshold T] [--data-dir auto] [--json results/bench_runtimes.json]
"""
import argparse
import os
import sys


def _early_threads():
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument('--threads', type=int, default=1)
    return max(1, parser.parse_known_args()[0].threads)


# before NumPy loads its BLAS, which reads these once
for _name in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ.setdefault(_name, str(_early_threads()))

import dataclasses  # noqa: E402
import json  # noqa: E402
import shlex  # noqa: E402
import time  # noqa: E402

import branchynet  # noqa: E402,F401  (first: patches NumPy 2 before chainer)
import chainer  # noqa: E402
import numpy  # noqa: E402

from branchynet.utils.atomic import write_json_atomic  # noqa: E402
from branchynet.utils.device import tune_malloc  # noqa: E402
from branchynet.measurement.evaluation import evaluation_split  # noqa: E402
from branchynet.exits.inference import choose_exits  # noqa: E402
from branchynet.networks import INPUT_SHAPES, get_network, random_network  # noqa: E402
from branchynet.measurement.profiling import (count_macs, forcing_thresholds,  # noqa: E402
                                  robust_ms)
from branchynet.runtimes import RUNTIMES, get_runtime, make_runtime  # noqa: E402
from branchynet.experiments import load_trained  # noqa: E402

#: the paper's exit shares (Table I), per network
PAPER_SHARES = {'b_alexnet': (0.656, 0.252, 0.092),
                'b_resnet110': (0.415, 0.138, 0.447)}


@dataclasses.dataclass
class Case:
    """One network under both runtimes, with its inputs and thresholds."""
    network: str
    how: str               # how T was chosen
    x: numpy.ndarray       # batch-1 samples
    y: numpy.ndarray       # their labels (None: random inputs)
    thresholds: tuple
    runtimes: dict         # runtime -> (baseline runtime, B-net runtime)
    macs: dict
    n: int = 0             # batch-1 samples timed

    def paths(self, runtime):
        """Path name -> (runtime object, thresholds or None)."""
        base, bnet = self.runtimes[runtime]
        k = bnet.n_exits
        paths = {'main network': (base, None)}
        for j in range(k):
            paths['exit %d path' % (j + 1)] = (bnet, forcing_thresholds(k, j))
        paths['early exit'] = (bnet, self.thresholds)
        return paths


def thresholds_for_shares(entropies, shares):
    """Thresholds that send exactly ``shares`` of these samples to each exit.

    Each threshold lies halfway between two neighbouring entropies of the
    samples still in at that exit, so no sample sits on it.

    Args:
        entropies (numpy.ndarray): float32 ``(N, K)``.
        shares (sequence of float): ``K`` fractions summing to 1.
    """
    remaining = numpy.arange(len(entropies))
    left, thresholds = 1.0, []
    for k, share in enumerate(shares[:-1]):
        h = numpy.sort(entropies[remaining, k].astype(numpy.float64))
        n_leave = int(round(share / left * len(h))) if left > 0 else 0
        if n_leave == 0:
            t = 0.0
        elif n_leave >= len(h):
            t = float(h[-1]) + 1.0
        else:
            t = float(h[n_leave - 1] + h[n_leave]) / 2
        thresholds.append(t)
        remaining = remaining[entropies[remaining, k] >= t]
        left -= share
    return tuple(thresholds)


def both_runtimes(model, baseline, network, threads):
    return {r: (make_runtime(baseline, network, r, threads=threads,
                             main_only=True),
                make_runtime(model, network, r, threads=threads))
            for r in RUNTIMES}


def chosen_thresholds(model_dir, given):
    """``--threshold``, or the sweep's choice in results/NAME/sweep.json."""
    if given:
        return tuple(float(t) for t in given.split(',')), '--threshold'
    path = os.path.join('results', os.path.basename(
        os.path.normpath(model_dir)), 'sweep.json')
    if not os.path.exists(path):
        sys.exit('bench_runtimes: no %s; run `branchynet sweep %s` first or '
                 'pass --threshold T' % (path, model_dir))
    with open(path) as f:
        summary = json.load(f)
    chosen = summary['sweep_test'][summary['chosen_index']]
    return tuple(chosen['thresholds']), 'chosen by the sweep (%s)' % path


def lenet_case(args):
    model, info = load_trained(os.path.join(args.model_dir, 'branchynet'))
    # Table I's baseline: the main network after phase 2, as the reference
    # measured it (older model folders have only the phase-1 one)
    name = 'baseline_after_joint'
    if not os.path.exists(os.path.join(args.model_dir, name + '.json')):
        name = 'baseline'
    baseline, _ = load_trained(os.path.join(args.model_dir, name))
    x, y = evaluation_split(info, 'test', args.data_dir)
    t, how = chosen_thresholds(args.model_dir, args.threshold)
    macs = count_macs(model, x[:1])
    return Case(info['network'], 'T=%s, %s' % (
        ','.join('%g' % v for v in t), how), x, y, t,
        both_runtimes(model, baseline, info['network'], args.threads), macs)


def random_case(network, n, threads, seed=0):
    model = random_network(network, seed)
    x = numpy.random.RandomState(seed + 2).rand(
        n, *INPUT_SHAPES[network]).astype(numpy.float32)
    runtimes = both_runtimes(model, model, network, threads)
    entropies, _ = runtimes['chainer'][1].exit_records(x)
    t = thresholds_for_shares(entropies, PAPER_SHARES[network])
    return Case(network, "the paper's exit shares, forced", x, None, t,
                runtimes, count_macs(model, x[:1]))


def _timed_ms(rt, x1, thresholds):
    """One timed call, right after an untimed identical one.

    In the interleaved order the previous call ran another network (or
    runtime), whose weights pushed this one's out of the caches; without the
    warm call the first path of each block would pay for that alone.
    """
    rt.run_one(x1, thresholds)
    rt.synchronize()
    start = time.perf_counter()
    outcome = rt.run_one(x1, thresholds)
    rt.synchronize()
    return 1000 * (time.perf_counter() - start), outcome


def run_batch1(cases, n_samples, n_warmup):
    """Interleaved batch-1 timings.

    Returns:
        dict: (network, runtime, path) -> list of ms; and
        (network, runtime, 'outcomes') -> list of (prediction, exit).
    """
    out = {}
    # a fresh random order of the runtimes and paths for every sample: at
    # tens of microseconds a fixed order biases the path that follows
    # another session (B-LeNet's ONNX Runtime gain read 2.08x in one fixed
    # order, 1.56x in another)
    order = numpy.random.RandomState(0)
    for i in range(n_warmup + n_samples):
        for case in cases:
            if i >= n_warmup + case.n:
                continue
            j = i % len(case.x)
            runs = [(runtime, path, rt_t) for runtime in RUNTIMES
                    for path, rt_t in case.paths(runtime).items()]
            for r in order.permutation(len(runs)):
                runtime, path, (rt, t) = runs[r]
                ms, outcome = _timed_ms(rt, rt.send(case.x[j:j + 1]), t)
                if i < n_warmup:
                    continue
                out.setdefault((case.network, runtime, path), []).append(ms)
                if path == 'early exit':
                    out.setdefault((case.network, runtime, 'outcomes'),
                                   []).append(outcome + (j,))
    return out


def batch1_summary(case, times):
    """Per runtime: ms per path, early-exit shares, gain; the MAC bound."""
    rows = {}
    for runtime in RUNTIMES:
        ms = {p: robust_ms(times[(case.network, runtime, p)])
              for p in case.paths(runtime)}
        outcomes = numpy.array(times[(case.network, runtime, 'outcomes')])
        k = case.runtimes[runtime][1].n_exits
        shares = numpy.bincount(outcomes[:, 1], minlength=k) / len(outcomes)
        row = {'ms': ms, 'exit_shares': shares.tolist(),
               'gain': ms['main network'] / ms['early exit'],
               'settings': case.runtimes[runtime][1].settings}
        if case.y is not None:
            row['accuracy'] = float((outcomes[:, 0] ==
                                     case.y[outcomes[:, 2]]).mean())
        rows[runtime] = row
    shares = numpy.array(rows['chainer']['exit_shares'])
    bound = case.macs['baseline'] / float(shares @ case.macs['path'])
    return {'network': case.network, 'how': case.how,
            'thresholds': list(case.thresholds), 'n_samples': case.n,
            'runtimes': rows, 'mac_bound': bound, 'macs': case.macs}


def full_test_accuracy(case):
    """Accuracy of the baseline and of the early exit at T on every test
    image, under each runtime (from one batched pass)."""
    result = {}
    for runtime in RUNTIMES:
        base, bnet = case.runtimes[runtime]
        entropies, predictions = bnet.exit_records(case.x)
        exits = choose_exits(entropies, case.thresholds)
        early = predictions[numpy.arange(len(exits)), exits]
        result[runtime] = {
            'baseline': float((base.predict_main(case.x) == case.y).mean()),
            'early_exit': float((early == case.y).mean()),
            'exit_shares': (numpy.bincount(exits, minlength=bnet.n_exits)
                            / len(exits)).tolist()}
    return result


def run_batched(cases, batch, repeats):
    """Samples per second (median of ``repeats`` interleaved passes)."""
    out = {}
    for r in range(repeats + 1):                 # pass 0 warms up
        for case in cases:
            for runtime in RUNTIMES:
                base, bnet = case.runtimes[runtime]
                jobs = {'main network': lambda xb: base.predict_main(xb),
                        'early exit': lambda xb: bnet.early_exit(
                            xb, case.thresholds)}
                for path, job in jobs.items():
                    start = time.perf_counter()
                    for i in range(0, len(case.x), batch):
                        job(case.x[i:i + batch])
                    base.synchronize()
                    seconds = time.perf_counter() - start
                    if r:
                        out.setdefault((case.network, runtime, path),
                                       []).append(len(case.x) / seconds)
    return {key: float(numpy.median(v)) for key, v in out.items()}


def _name(network, path):
    spec = get_network(network)
    return spec.baseline_display if path == 'main network' else spec.display


def print_batch1(summaries):
    print('\n## Batch size 1: ms per sample, end to end (trimmed mean)\n')
    print('| network | path | Chainer ms | ONNX Runtime ms | ORT speed-up |')
    print('| --- | --- | --- | --- | --- |')
    for s in summaries:
        c, o = s['runtimes']['chainer'], s['runtimes']['onnxruntime']
        for path in c['ms']:
            label = path
            if path == 'early exit':
                label = 'early exit (%s; exits %s %%)' % (s['how'], ' / '.join(
                    '%.1f' % (100 * f) for f in c['exit_shares']))
            print('| %s | %s | %.4f | %.4f | %.1fx |' % (
                _name(s['network'], path), label, c['ms'][path],
                o['ms'][path], c['ms'][path] / o['ms'][path]))
    print('\n## Early-exit gain (main network ms / early exit ms)\n')
    print('| network | exit shares % (Chainer / ORT) | Chainer gain | '
          'ONNX Runtime gain | MAC bound | ORT gain / MAC bound |')
    print('| --- | --- | --- | --- | --- | --- |')
    for s in summaries:
        c, o = s['runtimes']['chainer'], s['runtimes']['onnxruntime']
        print('| %s | %s / %s | %.2fx | %.2fx | %.2fx | %.2f |' % (
            get_network(s['network']).display,
            ', '.join('%.1f' % (100 * f) for f in c['exit_shares']),
            ', '.join('%.1f' % (100 * f) for f in o['exit_shares']),
            c['gain'], o['gain'], s['mac_bound'], o['gain'] / s['mac_bound']))


def print_batched(rates, batch, cases):
    print('\n## Batched (batch %d): samples per second (median)\n' % batch)
    print('| network | exit shares | runtime | main network | early exit | '
          'gain |')
    print('| --- | --- | --- | --- | --- | --- |')
    for case in cases:
        for runtime in RUNTIMES:
            base = rates[(case.network, runtime, 'main network')]
            early = rates[(case.network, runtime, 'early exit')]
            print('| %s | %s | %s | %.0f | %.0f | %.2fx |' % (
                get_network(case.network).display, case.how,
                get_runtime(runtime).display, base,
                early, early / base))


def goals(summaries, rates, accuracy):
    """The issue's goals, each with its measured value."""
    by = {s['network']: s for s in summaries}
    lines = []
    lenet = by['b_lenet']['runtimes']
    lines.append(('B-LeNet gain under ONNX Runtime >= 2.5x',
                  '%.2fx' % lenet['onnxruntime']['gain'],
                  lenet['onnxruntime']['gain'] >= 2.5))
    acc = accuracy['onnxruntime']
    lines.append(('... at accuracy >= the baseline (all test images)',
                  '%.2f%% vs %.2f%%' % (100 * acc['early_exit'],
                                        100 * acc['baseline']),
                  acc['early_exit'] >= acc['baseline']))
    ratio = (lenet['chainer']['ms']['early exit']
             / lenet['onnxruntime']['ms']['early exit'])
    lines.append(('B-LeNet early exit >= 20x faster under ONNX Runtime',
                  '%.1fx' % ratio, ratio >= 20))
    for network in ('b_alexnet', 'b_resnet110'):
        if network in by:
            s = by[network]
            r = s['runtimes']['onnxruntime']['gain'] / s['mac_bound']
            lines.append(('%s ORT gain >= 0.8 x MAC bound'
                          % get_network(network).display, '%.2f x bound' % r, r >= 0.8))
    key = ('b_alexnet', 'onnxruntime')
    if key + ('early exit',) in rates:
        g = rates[key + ('early exit',)] / rates[key + ('main network',)]
        lines.append(('B-AlexNet batched gain >= 1.5x (ONNX Runtime)',
                      '%.2fx' % g, g >= 1.5))
    return lines


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('model_dir', help='trained lenet_mnist folder')
    parser.add_argument('--samples', type=int, default=500,
                        help='timed samples per path at batch size 1')
    parser.add_argument('--warmup', type=int, default=30)
    parser.add_argument('--resnet', action='store_true',
                        help='also ResNet-110/B-ResNet-110 (slow in Chainer)')
    parser.add_argument('--resnet-samples', type=int, default=50)
    parser.add_argument('--batch', type=int, default=256)
    parser.add_argument('--batch-samples', type=int, default=1024,
                        help='samples per batched pass')
    parser.add_argument('--repeats', type=int, default=3,
                        help='timed batched passes per path')
    parser.add_argument('--threads', type=int, default=1,
                        help='threads of both runtimes (default 1)')
    parser.add_argument('--threshold',
                        help="B-LeNet's T (default: the sweep's choice in "
                             'results/NAME/sweep.json)')
    parser.add_argument('--data-dir', default='auto')
    parser.add_argument('--json', help='also write every number here')
    return parser.parse_args(argv)


def main():
    args = parse_args()
    tune_malloc()
    command = 'python ' + ' '.join(shlex.quote(a) for a in sys.argv)
    print('command: %s' % command)
    print('threads: onnxruntime intra-op %d; %s' % (args.threads, ', '.join(
        '%s=%s' % (v, os.environ.get(v)) for v in
        ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'))))

    lenet = lenet_case(args)
    cases = [lenet, random_case('b_alexnet', args.samples, args.threads)]
    if args.resnet:
        cases.append(random_case('b_resnet110', args.resnet_samples,
                                 args.threads))
    for case in cases:
        case.n = args.resnet_samples if case.network == 'b_resnet110' \
            else args.samples
    start = time.perf_counter()
    times = run_batch1(cases, args.samples, args.warmup)
    summaries = [batch1_summary(c, times) for c in cases]
    batch1_s = time.perf_counter() - start
    accuracy = full_test_accuracy(lenet)
    print_batch1(summaries)
    print('\nB-LeNet on all %d test images at T: %s' % (len(lenet.y), '; '.join(
        '%s: early exit %.2f%%, LeNet %.2f%%, exits %s %%' % (
            get_runtime(r).display, 100 * a['early_exit'], 100 * a['baseline'],
            ' / '.join('%.1f' % (100 * f) for f in a['exit_shares']))
        for r, a in accuracy.items())))

    batched = [dataclasses.replace(lenet, x=lenet.x[:args.batch_samples])]
    batched.append(random_case('b_alexnet', args.batch_samples, args.threads,
                               seed=1))
    rates = run_batched(batched, args.batch, args.repeats)
    print_batched(rates, args.batch, batched)

    print('\n## Goals\n')
    lines = goals(summaries, rates, accuracy)
    for goal, value, met in lines:
        print('- %s: %s (%s)' % (goal, value, 'met' if met else 'NOT met'))
    print('\nbatch-1 part: %.0f s; sweep speed: python scripts/bench/bench_sweep.py '
          '%s --runtime onnxruntime' % (batch1_s, args.model_dir))
    if args.json:
        write_json_atomic(args.json, {
            'command': command, 'threads': args.threads,
            'batch1': summaries, 'full_test_accuracy': accuracy,
            'batched': [{'network': k[0], 'runtime': k[1], 'path': k[2],
                         'samples_per_s': v} for k, v in rates.items()],
            'goals': [{'goal': g, 'value': v, 'met': m}
                      for g, v, m in lines]})
    return 0


if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/env python3
"""PyTorch peer benchmark: training-step time of the distillation MLPs and the convnet students.

Times SGD training steps of two MLPs on random MNIST-shaped data, and of the convnet students
(ResNet-8 and MobileNet, batch norm in train mode) on random 1x28x28 and 3x32x32 images, for
comparison with the toolkit's own engine benchmark run on the same machine in the same session.
The net "gemm" times a float32 1024x1024x1024 matmul instead (the machine's GEMM floor).

  teacher: 784-1200-1200-10 ReLU, dropout 0.2 on the inputs and 0.5 on each hidden
           layer, SGD lr 0.01 momentum 0.9, then a max-norm constraint (each hidden
           unit's incoming weight row renormed to L2 norm <= 3.5) after every step,
           inside torch.no_grad(). The output layer is not constrained, exactly as in
           kd (max-norm on hidden units only, as the dropout paper words it).
  student: 784-800-800-10 ReLU, no dropout, SGD lr 0.01 momentum 0.9.
  resnet8-CxHxW, mobilenet-CxHxW: kd's resnet:8 and mobilenet:1 layer for layer (bias-free convs
           before BatchNorm2d, see resnet8() and mobilenet()), SGD lr 0.01 momentum 0.9. Each
           record carries the trainable parameter count, which kd's bench checks against its own.

Loss is cross-entropy with integer labels. Inputs are float32 uniform in [0, 1],
labels uniform in 0..9, pre-generated as a pool of batches that is cycled, so data
generation is not timed.

Usage:
  python3 bench/torch_bench.py [--threads N ...] [--steps S] [--warmup W]
                               [--batch 128] [--json] [--openblas-env keep|unset]

Each (threads, net) configuration runs in a fresh child process, so that the peak
RSS (getrusage ru_maxrss) belongs to that configuration alone and thread pools do
not carry over. The thread count is applied both to torch's intra-op pool
(torch.set_num_threads) and to OpenBLAS's own pthread pool
(openblas_set_num_threads), because Debian's torch does its matmuls in the system
OpenBLAS, whose pool torch.set_num_threads does not control.

OMP_WAIT_POLICY: torch's OpenMP pool (libgomp) spin-waits between parallel regions by
default, and on a small machine those spinning threads fight OpenBLAS's own threads for
the cores (measured on 2 cores: teacher 16 ms/step becomes ~65 ms/step at 2 threads).
The children therefore get OMP_WAIT_POLICY=PASSIVE unless the environment already sets
it or --omp-wait-policy says otherwise. Only the children's environment is changed.

With --json, stdout carries only one JSON object per line and the human table goes
to stderr. This script installs nothing. If torch is missing it prints one line and
exits 2. If the running interpreter lacks torch but /usr/bin/python3 has it (Debian's
python3-torch), it re-runs itself under /usr/bin/python3.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

MISSING_MSG = (
    "torch_bench: python3-torch is not installed "
    "(apt-get install python3-torch libopenblas0-pthread)"
)
SYSTEM_PYTHON = "/usr/bin/python3"
REEXEC_GUARD = "TORCH_BENCH_REEXEC"
OPENBLAS_QUIRK_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
BLOCK = 10  # steps per timing block
POOL = 20  # pre-generated batches, cycled
MAX_NORM = 3.5
LR = 0.01
MOMENTUM = 0.9


def import_torch_or_exit():
    try:
        import torch  # noqa: F401

        return torch
    except ImportError:
        pass
    # The pyenv python3 on PATH has no torch; Debian's python3-torch lives under the
    # system interpreter. Re-run there once (nothing is installed).
    if (
        os.environ.get(REEXEC_GUARD) != "1"
        and os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON)
        and os.access(SYSTEM_PYTHON, os.X_OK)
    ):
        env = dict(os.environ, **{REEXEC_GUARD: "1"})
        probe = subprocess.run(
            [SYSTEM_PYTHON, "-c", "import torch"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if probe.returncode == 0:
            sys.stdout.flush()
            sys.stderr.flush()
            os.execve(SYSTEM_PYTHON, [SYSTEM_PYTHON, os.path.abspath(__file__)] + sys.argv[1:], env)
    print(MISSING_MSG, file=sys.stderr)
    sys.exit(2)


def usable_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_threads():
    n = usable_cpus()
    ts = set()
    t = 1
    while t <= n:
        ts.add(t)
        t *= 2
    ts.add(n)
    return sorted(ts)


# ---------------------------------------------------------------- BLAS introspection


def openblas_handle():
    """ctypes handle to the OpenBLAS torch has loaded, or None."""
    import ctypes

    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "libopenblas" in line}
    except OSError:
        paths = set()
    for p in sorted(paths):
        try:
            lib = ctypes.CDLL(p)
            lib.openblas_get_config.restype = ctypes.c_char_p
            lib.openblas_get_corename.restype = ctypes.c_char_p
            lib.openblas_set_num_threads.argtypes = [ctypes.c_int]
            return lib, p
        except (OSError, AttributeError):
            continue
    return None, None


def blas_info(torch):
    lib, path = openblas_handle()
    if lib is None:
        cfg = torch.__config__.show()
        blas = "unknown"
        for tok in cfg.replace(",", " ").split():
            if tok.startswith("BLAS_INFO="):
                blas = tok.split("=", 1)[1]
        return {"blas": blas, "blas_core": None, "blas_lib": None}, None
    return (
        {
            "blas": lib.openblas_get_config().decode(),
            "blas_core": lib.openblas_get_corename().decode(),
            "blas_lib": path,
        },
        lib,
    )


# ---------------------------------------------------------------- the benchmark (child)


def resnet8(torch, cin, width=16, classes=10):
    """kd's resnet:8: stem 3x3 conv+BN+ReLU, one basic block per stage (widths w, 2w, 4w; stride 2
    entering stages 2 and 3, 1x1 conv+BN projection shortcut there), global average pool, linear."""
    nn = torch.nn

    def conv_bn(ci, co, k, stride=1):
        return [nn.Conv2d(ci, co, k, stride, (k - 1) // 2, bias=False), nn.BatchNorm2d(co)]

    class Block(nn.Module):
        def __init__(self, ci, co, stride):
            super().__init__()
            self.branch = nn.Sequential(*conv_bn(ci, co, 3, stride), nn.ReLU(), *conv_bn(co, co, 3))
            projects = stride != 1 or ci != co
            self.shortcut = nn.Sequential(*conv_bn(ci, co, 1, stride)) if projects else nn.Identity()

        def forward(self, x):
            return torch.relu(self.branch(x) + self.shortcut(x))

    w = width
    return nn.Sequential(
        *conv_bn(cin, w, 3), nn.ReLU(),
        Block(w, w, 1), Block(w, 2 * w, 2), Block(2 * w, 4 * w, 2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * w, classes),
    )


def mobilenet(torch, cin, channels=(32, 64, 128, 128), strides=(1, 2, 2, 1), classes=10):
    """kd's mobilenet:1: stem 3x3 conv+BN+ReLU6, then per block depthwise 3x3 (stride s)+BN+ReLU6
    and pointwise 1x1+BN+ReLU6, global average pool, linear."""
    nn = torch.nn

    def conv_bn_relu6(ci, co, k, stride=1, groups=1):
        return [nn.Conv2d(ci, co, k, stride, (k - 1) // 2, groups=groups, bias=False),
                nn.BatchNorm2d(co), nn.ReLU6()]

    layers = conv_bn_relu6(cin, channels[0], 3, strides[0])
    for ci, co, s in zip(channels, channels[1:], strides[1:]):
        layers += conv_bn_relu6(ci, ci, 3, s, groups=ci) + conv_bn_relu6(ci, co, 1)
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels[-1], classes))


# The convnet students: builder and input shape, named as kd's bench names them.
CONVNETS = {
    "resnet8-1x28x28": (resnet8, (1, 28, 28)),
    "resnet8-3x32x32": (resnet8, (3, 32, 32)),
    "mobilenet-1x28x28": (mobilenet, (1, 28, 28)),
    "mobilenet-3x32x32": (mobilenet, (3, 32, 32)),
}
NETS = ["teacher", "student", *CONVNETS, "gemm"]
GEMM_N = 1024


def input_shape(net):
    return CONVNETS[net][1] if net in CONVNETS else (784,)


def build(torch, net):
    nn = torch.nn
    if net in CONVNETS:
        make, shape = CONVNETS[net]
        model = make(torch, shape[0])
        return model, torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM), []
    if net == "teacher":
        model = nn.Sequential(
            nn.Dropout(0.2),
            nn.Linear(784, 1200),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(1200, 1200),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(1200, 10),
        )
        hidden = [model[1], model[4]]  # layers whose rows are hidden units' incoming weights
    elif net == "student":
        model = nn.Sequential(
            nn.Linear(784, 800),
            nn.ReLU(),
            nn.Linear(800, 800),
            nn.ReLU(),
            nn.Linear(800, 10),
        )
        hidden = []
    else:
        raise ValueError(net)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    return model, opt, hidden


def gemm_gflops(torch, reps=10, n=GEMM_N):
    """Median GFLOP/s (2n^3 per product) of a float32 n x n matmul, after one warm-up."""
    a, b = torch.rand(n, n), torch.rand(n, n)
    c = torch.empty(n, n)
    torch.mm(a, b, out=c)
    ms = []
    for _ in range(reps):
        t0 = time.perf_counter()
        torch.mm(a, b, out=c)
        ms.append((time.perf_counter() - t0) * 1e3)
    return 2 * n**3 / (statistics.median(ms) * 1e6)


def run_child(net, threads, steps, warmup, batch):
    torch = import_torch_or_exit()
    F = torch.nn.functional
    info, lib = blas_info(torch)
    torch.set_num_threads(threads)
    if lib is not None:
        lib.openblas_set_num_threads(threads)
    torch.manual_seed(0)
    if net == "gemm":
        print(json.dumps({"peer": "pytorch", "torch": torch.__version__, "net": net, "threads": threads,
                          "n": GEMM_N, "gflops": round(gemm_gflops(torch), 2), "blas": info["blas"],
                          "blas_core": info["blas_core"],
                          "openblas_env": {k: os.environ.get(k) for k in OPENBLAS_QUIRK_VARS},
                          "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")}), flush=True)
        return

    model, opt, hidden = build(torch, net)
    model.train()
    xs = [torch.rand(batch, *input_shape(net), dtype=torch.float32) for _ in range(POOL)]
    ys = [torch.randint(0, 10, (batch,), dtype=torch.int64) for _ in range(POOL)]

    i = 0

    def step():
        nonlocal i
        x, y = xs[i % POOL], ys[i % POOL]
        i += 1
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        if hidden:
            with torch.no_grad():
                for lin in hidden:
                    # rows of W (out x in) are each hidden unit's incoming weights
                    lin.weight.renorm_(2, 0, MAX_NORM)
        return loss

    for _ in range(warmup):
        step()

    blocks = []
    loss = None
    for _ in range(steps // BLOCK):
        t0 = time.perf_counter()
        for _ in range(BLOCK):
            loss = step()
        blocks.append((time.perf_counter() - t0) * 1e3 / BLOCK)

    final_loss = float(loss.item()) if loss is not None else float("nan")
    if hidden:
        with torch.no_grad():
            max_row_norm = max(float(lin.weight.norm(dim=1).max()) for lin in hidden)
        assert max_row_norm <= MAX_NORM * (1 + 1e-5), max_row_norm
    med = statistics.median(blocks)
    mean = statistics.fmean(blocks)
    rec = {
        "peer": "pytorch",
        "torch": torch.__version__,
        "net": net,
        "threads": threads,
        "batch": batch,
        "params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "ms_per_step_median": round(med, 4),
        "ms_per_step_mean": round(mean, 4),
        "examples_per_s": round(batch * 1000.0 / med, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        "steps": len(blocks) * BLOCK,
        "warmup": warmup,
        "ms_per_step_min": round(min(blocks), 4),
        "blas": info["blas"],
        "blas_core": info["blas_core"],
        "openblas_env": {k: os.environ.get(k) for k in OPENBLAS_QUIRK_VARS},
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "final_loss": round(final_loss, 5),
    }
    print(json.dumps(rec), flush=True)


# ---------------------------------------------------------------- driver (parent)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, nargs="+", default=None,
                    help="thread counts to run (default: 1, 2, 4, ... up to the usable CPUs)")
    ap.add_argument("--steps", type=int, default=200, help="timed steps (rounded up to blocks of 10)")
    ap.add_argument("--warmup", type=int, default=20, help="untimed warmup steps")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--nets", nargs="+", choices=NETS, default=["teacher", "student"],
                    help="nets to time; 'gemm' times a float32 %dx%d matmul instead" % (GEMM_N, GEMM_N))
    ap.add_argument("--json", action="store_true",
                    help="print one JSON object per line on stdout (table goes to stderr)")
    ap.add_argument("--openblas-env", choices=["keep", "unset"], default="keep",
                    help="'unset' runs the children without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE "
                         "(this process's environment is not changed)")
    ap.add_argument("--omp-wait-policy", choices=["passive", "active", "inherit"], default=None,
                    help="OMP_WAIT_POLICY for the children (default: keep the environment's value, "
                         "else PASSIVE; see the note at the top)")
    ap.add_argument("--_child", nargs=2, metavar=("NET", "THREADS"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)

    if a.steps < 1 or a.warmup < 0 or a.batch < 1:
        ap.error("--steps must be >= 1, --warmup >= 0, --batch >= 1")
    steps = -(-a.steps // BLOCK) * BLOCK

    if a._child:
        run_child(a._child[0], int(a._child[1]), steps, a.warmup, a.batch)
        return 0

    import_torch_or_exit()  # fail fast (or re-exec under the system python) before spawning
    threads = a.threads or default_threads()
    if any(t < 1 for t in threads):
        ap.error("--threads must be >= 1")

    env = dict(os.environ)
    if a.openblas_env == "unset":
        for k in OPENBLAS_QUIRK_VARS:
            env.pop(k, None)
    if a.omp_wait_policy in ("passive", "active"):
        env["OMP_WAIT_POLICY"] = a.omp_wait_policy.upper()
    elif a.omp_wait_policy is None and "OMP_WAIT_POLICY" not in env:
        env["OMP_WAIT_POLICY"] = "PASSIVE"

    table = sys.stderr if a.json else sys.stdout
    hdr = f"{'net':17} {'thr':>3} {'batch':>5} {'params':>8} {'ms/step med':>11} {'ms/step mean':>12} {'ex/s':>9} {'RSS MiB':>8}"
    first = True
    rc = 0
    for t in threads:
        for net in a.nets:
            cmd = [sys.executable, os.path.abspath(__file__), "--_child", net, str(t),
                   "--steps", str(steps), "--warmup", str(a.warmup), "--batch", str(a.batch)]
            p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True)
            if p.returncode != 0:
                print(f"torch_bench: {net} threads={t} failed (exit {p.returncode})", file=sys.stderr)
                rc = p.returncode if p.returncode == 2 else 1
                if p.returncode == 2:
                    return rc
                continue
            rec = json.loads(p.stdout.strip().splitlines()[-1])
            if net == "gemm":
                print(f"# gemm {GEMM_N}x{GEMM_N}x{GEMM_N} float32, {t} threads: {rec['gflops']:.1f} GFLOP/s",
                      file=table, flush=True)
                if a.json:
                    print(json.dumps(rec), flush=True)
                continue
            if first:
                ob = rec["openblas_env"]
                print(f"# pytorch {rec['torch']}  BLAS: {rec['blas']}  core: {rec['blas_core']}  "
                      f"OPENBLAS_CORETYPE={ob.get('OPENBLAS_CORETYPE')} "
                      f"OPENBLAS_L2_SIZE={ob.get('OPENBLAS_L2_SIZE')}  "
                      f"OMP_WAIT_POLICY={rec['omp_wait_policy']}  "
                      f"steps={rec['steps']} warmup={rec['warmup']}", file=table)
                print(hdr, file=table)
                first = False
            print(f"{net:17} {t:>3} {a.batch:>5} {rec['params']:>8} {rec['ms_per_step_median']:>11.3f} "
                  f"{rec['ms_per_step_mean']:>12.3f} {rec['examples_per_s']:>9.0f} "
                  f"{rec['peak_rss_mib']:>8.1f}", file=table, flush=True)
            if a.json:
                print(json.dumps(rec), flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())

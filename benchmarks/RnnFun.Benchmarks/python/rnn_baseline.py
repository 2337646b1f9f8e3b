"""Python PyTorch baselines for RnnFun's benchmark (benchmarks/RnnFun.Benchmarks, PresetPath.fs).

    python3 rnn_baseline.py steps      serve timed training steps: torch.nn.RNN + Linear + Adam
    python3 rnn_baseline.py flipflop S  the flip-flop preset's logic, seed S, in plain PyTorch

The benchmark sets OPENBLAS_NUM_THREADS and OMP_NUM_THREADS to the thread count under test before
starting this process (Debian's OpenBLAS ignores torch.set_num_threads). The first line printed is a
JSON description of the runtime (torch version, the BLAS library actually loaded, threads).

steps: each request on stdin is "N K" (N units, K steps); the answer is the seconds the K steps took
(B = 64, T = 100, 3 inputs and outputs, all weights trained, mse_loss, the loss read back, as the
TorchSharp baseline does). "quit" ends the process.

flipflop: 64 units, T = 64, pulse probability 0.2, 640 fresh trials per epoch in batches of 64, Adam
lr 1e-2, global-norm clipping at 1, validation on 256 held-out trials after every epoch (no grad),
the best weights kept, stop when an epoch's mean training loss is <= 5e-4, at most 40 epochs. Prints
one JSON line: validation losses and the end time of every epoch (seconds since training started).
"""
import json
import os
import sys
import time

import numpy as np
import torch

B, T, IO = 64, 100, 3


def describe():
    libs = sorted({line.split()[-1] for line in open("/proc/self/maps") if "blas" in line.lower() and line.split()[-1].startswith("/")})
    return {
        "torch": torch.__version__,
        "blas": libs,
        "blas_info": next((p.split("=")[1] for p in torch.__config__.show().replace(",", " ").split() if p.startswith("BLAS_INFO=")), "unknown"),
        "torch_threads": torch.get_num_threads(),
        "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "omp_threads": os.environ.get("OMP_NUM_THREADS"),
    }


def flipflop(rng, trials, time_steps, bits=3, p=0.2):
    """FixedPointFinder's form: each step and bit pulses with probability p (t = 0 always), random sign."""
    pulse = rng.random((trials, time_steps, bits)) < p
    pulse[:, 0, :] = True
    sign = np.where(rng.random((trials, time_steps, bits)) < 0.5, -1.0, 1.0)
    x = (pulse * sign).astype(np.float32)
    # Target: the sign of the last pulse (a forward fill of the non-zero inputs).
    idx = np.where(x != 0, np.arange(time_steps)[None, :, None], 0)
    np.maximum.accumulate(idx, axis=1, out=idx)
    y = np.take_along_axis(x, idx, axis=1)
    return torch.from_numpy(x), torch.from_numpy(y)


def serve_steps():
    torch.manual_seed(0)
    rng = np.random.default_rng(1000)
    data = [flipflop(rng, B, T) for _ in range(8)]
    models = {}
    for line in sys.stdin:
        parts = line.split()
        if not parts or parts[0] == "quit":
            break
        n, k = int(parts[0]), int(parts[1])
        if n not in models:
            rnn = torch.nn.RNN(IO, n, nonlinearity="tanh", batch_first=True)
            linear = torch.nn.Linear(n, IO)
            opt = torch.optim.Adam(list(rnn.parameters()) + list(linear.parameters()), lr=1e-3)
            models[n] = (rnn, linear, opt)
        rnn, linear, opt = models[n]
        start = time.perf_counter()
        for i in range(k):
            x, y = data[i % len(data)]
            opt.zero_grad()
            h0 = torch.zeros(1, B, n)
            states, _ = rnn(x, h0)
            loss = torch.nn.functional.mse_loss(linear(states), y)
            if loss.item() != loss.item():
                raise RuntimeError("loss is NaN")
            loss.backward()
            opt.step()
        print(time.perf_counter() - start, flush=True)


def train_flipflop(seed):
    torch.manual_seed(seed)
    units, time_steps, batch, per_epoch, epochs, stop = 64, 64, 64, 640, 40, 5e-4
    validation = flipflop(np.random.default_rng(-(seed + 1) % 2**32), 256, time_steps)
    start = time.perf_counter()
    rnn = torch.nn.RNN(IO, units, nonlinearity="tanh", batch_first=True)
    linear = torch.nn.Linear(units, IO, bias=False)
    params = list(rnn.parameters()) + list(linear.parameters())
    opt = torch.optim.Adam(params, lr=1e-2)
    losses, validation_losses, ends = [], [], []
    best, best_loss, reason = None, float("inf"), "completed"
    for epoch in range(epochs):
        total = 0.0
        for k in range(per_epoch // batch):
            x, y = flipflop(np.random.default_rng(seed * 1000003 + epoch * 10007 + k), batch, time_steps)
            opt.zero_grad()
            states, _ = rnn(x)
            loss = torch.nn.functional.mse_loss(linear(states), y)
            value = loss.item()
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
            if not torch.isfinite(norm):
                raise RuntimeError("gradient norm is not finite")
            opt.step()
            total += value
        losses.append(total / (per_epoch // batch))
        with torch.no_grad():
            states, _ = rnn(validation[0])
            v = torch.nn.functional.mse_loss(linear(states), validation[1]).item()
        validation_losses.append(v)
        if v < best_loss:
            best_loss = v
            best = [p.detach().clone() for p in params]
        ends.append(time.perf_counter() - start)
        if losses[-1] <= stop:
            reason = "stop-loss"
            break
    print(json.dumps({"loss": losses, "validation_loss": validation_losses, "epoch_end_s": ends,
                      "stop_reason": reason, "best_validation_loss": best_loss, "kept": best is not None}), flush=True)


if __name__ == "__main__":
    print(json.dumps(describe()), flush=True)
    if sys.argv[1] == "steps":
        serve_steps()
    elif sys.argv[1] == "flipflop":
        train_flipflop(int(sys.argv[2]))
    else:
        sys.exit("usage: rnn_baseline.py steps | flipflop SEED")

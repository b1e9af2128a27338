"""Does the pool's damping hold business series back? M3 / M4 training windows only.

Run::

    .venv/bin/python benchmarks/train_damping.py [--m4-limit 2300] [--sims 1000]

The engine's centre keeps the share of the models' projected change that the pooled *social*
back-tests bore out (``PooledCalibration.damping``). On the held-out end of the M3 and M4
yearly training parts (their last 6 training points, as ``accuracy.py``'s design check; the
test parts are not read), this prints the sMAPE, MASE and OWA of the engine's median with the
shipped damping and with every damping factor set to one value (0.75, and 1.0 = none), so
one can see whether business series want more of the trend than the social pool; with
``--statsforecast-python``, statsforecast's AutoETS, AutoTheta and their combination on the same
windows, as ``accuracy.py`` runs them on the test part. For reporting only: nothing shipped is
chosen from it.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys

import numpy as np

from accuracy import (H, SEED, load, mase, mase_scale, naive, scores, smape,  # benchmarks/
                      statsforecast_rows)
from khforecast.engine.predictive import (PooledCalibration, load_pooled_calibration,
                                          predictive_paths)

UNIFORM = (0.75, 1.0)


def medians(train: list[np.ndarray], sims: int, cal: PooledCalibration) -> np.ndarray:
    """``(n, H)`` medians of the calibrated engine's paths (the seeds of accuracy.py's step 3)."""
    seeds = np.random.SeedSequence([SEED, 1]).spawn(len(train))
    return np.array([np.median(predictive_paths(y, H, sims, np.random.default_rng(ss),
                                                domain="positive", calibration=cal).paths,
                               axis=0) for y, ss in zip(train, seeds)])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--m4-limit", type=int, default=2300, help="M4 series, evenly spaced")
    p.add_argument("--sims", type=int, default=1000)
    p.add_argument("--statsforecast-python", default=None,
                   help="a Python with statsforecast: its references on the same windows")
    args = p.parse_args(argv)
    print("command: python benchmarks/train_damping.py "
          + " ".join(sys.argv[1:] if argv is None else argv))
    cal = load_pooled_calibration()
    variants = {"shipped damping": cal, **{
        f"every factor {d}": dataclasses.replace(
            cal, damping={k: (d,) * len(v) for k, v in cal.damping.items()}) for d in UNIFORM}}
    for dataset, limit in (("m3", None), ("m4", args.m4_limit)):
        # as accuracy.py's design check: a series constant before its held-out end has no scale
        full = [d[1] for d in load(dataset, limit)]
        usable = [t for t in full if np.any(np.diff(t[:-H]) != 0)]
        train, held = [t[:-H] for t in usable], np.array([t[-H:] for t in usable])
        scale = mase_scale(train)
        nf, _, _ = naive(train)
        ref = (float(np.mean(smape(held, nf))), float(np.mean(mase(held, nf, scale))))
        print(f"\n{dataset.upper()} yearly training parts, last {H} points held out "
              f"({len(train)} series): naive sMAPE {ref[0]:.3f}, MASE {ref[1]:.3f}")
        for name, c in variants.items():
            s = scores(held, medians(train, args.sims, c), None, None, scale, ref)
            print(f"  {name:24s} sMAPE {s['sMAPE']:7.3f}  MASE {s['MASE']:6.3f}  OWA {s['OWA']:.3f}",
                  flush=True)
        if args.statsforecast_python:
            for name, s in statsforecast_rows(args.statsforecast_python, train, held, scale,
                                              ref).items():
                print(f"  {name:24s} sMAPE {s['sMAPE']:7.3f}  MASE {s['MASE']:6.3f}  "
                      f"OWA {s['OWA']:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

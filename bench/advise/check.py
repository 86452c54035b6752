"""The advisor's plans measured against its predictions (see bench/advise/run)."""
import argparse
import json
import os
import statistics
import subprocess
import sys

import numpy as np


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"advise: {' '.join(cmd)}\n{r.stderr.strip()}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    for a in ("--build", "--work", "--weights", "--images"):
        ap.add_argument(a, required=True)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--sparsity", default="0.5,0.6,0.7,0.75,0.8,0.85,0.9,0.95")
    args = ap.parse_args()
    grid = sorted(float(v) for v in args.sparsity.split(","))
    b, w = args.build, args.work
    x = np.load(args.images)[: args.count]
    images = os.path.join(w, "images.npy")
    np.save(images, x)
    profile = os.path.join(w, "profile.json")
    if os.path.exists(profile):
        # kept only when it measured every sparsity of the grid (else tuned again, atomically)
        with open(profile) as f:
            have = {round(m["sparsity"], 6) for m in json.load(f)["measurements"]}
        if not all(round(v, 6) in have for v in grid):
            print(f"advise: {profile} lacks sparsities of {args.sparsity}: tuning again", flush=True)
            os.remove(profile)
    if not os.path.exists(profile):
        print("advise: tuning (gapp-tune) ...", flush=True)
        # the plans use the preset (gapp-advise's default): its measurements are all they need
        run([f"{b}/gapp-tune", "--weights", args.weights, "--batch", str(args.batch), "--techniques",
             "dense,simd,tile,simd-balanced", "--sparsity", ",".join(f"{v:g}" for v in grid), "--preset-only",
             "--out", profile])
    vgg = [f"{b}/gapp-vgg16", "--weights", args.weights, "--images", images]
    dense_run = os.path.join(w, "dense_run.json")
    # the dense run gives the time outside the GEMMs to every prediction: three runs, the
    # median one kept, so that one run on a slow stretch does not shift them all
    ds = sorted((run(vgg + ["--batch", str(args.batch), "--layer-times"]) for _ in range(3)), key=lambda o: o["batch_ms"])
    d = ds[1]
    with open(dense_run, "w") as f:
        json.dump(d, f)
    adv = [f"{b}/gapp-advise", "--weights", args.weights, "--profile", profile, "--batch", str(args.batch),
           "--dense-run", dense_run]
    plans = {
        "uniform simd 0.75": ["--uniform", "simd@0.75"],
        "uniform tile 0.75": ["--uniform", "tile@0.75"],
        "plan: kept L2 of simd 0.75": ["--kept-l2", "simd@0.75", "--plot", os.path.join(w, "plan_l2.svg")],
        "plan: kept L2 of simd 0.75, SIMD units only": ["--kept-l2", "simd@0.75", "--techniques", "simd,simd-balanced"],
        "plan: 2x over dense": ["--speedup", "2"],
    }
    made = {}
    for i, (name, extra) in enumerate(plans.items()):
        path = os.path.join(w, f"plan{i}.json")
        made[name] = (path, run(adv + extra + ["--plan", path]))
    # the other side of the same comparison: the plan at the predicted latency of uniform SIMD
    # units at 0.75, and how much more of the weights' L2 it keeps
    name = "plan: latency of simd 0.75"
    path = os.path.join(w, f"plan{len(made)}.json")
    plans[name] = ["--latency-ms", f"{made['uniform simd 0.75'][1]['predicted_ms']:.4f}"]
    made[name] = (path, run(adv + plans[name] + ["--plan", path]))
    times = {name: [] for name in ["dense", *plans]}
    out = {}
    for r in range(args.rounds):
        print(f"advise: round {r + 1}/{args.rounds}", flush=True)
        times["dense"].append(run(vgg + ["--batch", str(args.batch)])["batch_ms"])
        for name, (path, _) in made.items():
            o = run(vgg + ["--plan", path])
            times[name].append(o["batch_ms"])
            out[name] = o
    dense = statistics.median(times["dense"])
    uni = statistics.median(times["uniform simd 0.75"])
    cpu = d["device"]
    print(f"\ndevice: {cpu}; batch {args.batch}; {args.count} images; medians of {args.rounds} rounds")
    # each round runs every plan once, back to back: the ratio per round pairs runs made close
    # together, so its median is steadier than a ratio of medians when the machine drifts
    def paired(name, base="uniform simd 0.75"):
        return statistics.median(u / m for u, m in zip(times[base], times[name]))

    # "error": the predicted time against the measured one. The prediction rests on the dense
    # run made before the rounds, so when the machine drifts between them every plan's error
    # moves with the dense row's. "vs dense": the predicted time over the predicted dense time,
    # against the measured (paired) ratio of the two in the rounds — the model's error with
    # the drift taken out.
    dense_pred = made["uniform simd 0.75"][1]["dense_ms"]

    def drift_free(pred, name):
        return pred / dense_pred * paired(name, "dense") - 1

    print(f"{'':46s} {'kept L2':>8s} {'sparsity':>8s} {'predicted':>10s} {'measured':>9s} {'error':>7s} "
          f"{'vs dense':>8s} {'speedup':>8s} {'vs simd':>8s} {'paired':>7s}")
    print(f"{'dense':46s} {1.0:8.4f} {0.0:8.4f} {dense_pred:10.1f} {dense:9.1f} "
          f"{dense_pred / dense - 1:+7.1%} {0.0:+8.1%} {1.0:8.2f} {uni / dense:8.2f} {paired('dense'):7.2f}")
    rows = {}
    for name, (path, p) in made.items():
        m = statistics.median(times[name])
        rows[name] = {"plan": path, "kept_l2": p["kept_l2_fraction"], "sparsity": p["sparsity"],
                      "predicted_ms": p["predicted_ms"], "measured_ms": m, "layers": p["layers"],
                      "vs_uniform_simd_paired": paired(name),
                      "error_vs_dense": drift_free(p["predicted_ms"], name)}
        print(f"{name:46s} {p['kept_l2_fraction']:8.4f} {p['sparsity']:8.4f} {p['predicted_ms']:10.1f} {m:9.1f} "
              f"{p['predicted_ms'] / m - 1:+7.1%} {drift_free(p['predicted_ms'], name):+8.1%} {dense / m:8.2f} "
              f"{uni / m:8.2f} {paired(name):7.2f}")
    # per layer: each plan once more with its kernels' device times, beside the profile's
    # prediction for the layer's GEMM (what a whole-network error is made of)
    print("\nper layer (one pass with --layer-times; device time of each GEMM against the profile's median):")
    for name, (path, p) in made.items():
        o = run(vgg + ["--plan", path, "--layer-times"])
        per = []
        with open(path) as f:
            plan = json.load(f)
        for l in plan["layers"]:
            got = o["layer_ms"].get(f"{l['display']} gemm")
            if not l["modelled"] or got is None:
                continue
            per.append({"layer": l["display"], "technique": l["technique"], "sparsity": l["sparsity"],
                        "predicted_ms": l["predicted_ms"], "measured_ms": got})
        rows[name]["per_layer"] = per
        pred, meas = sum(x["predicted_ms"] for x in per), sum(x["measured_ms"] for x in per)
        print(f"  {name}: GEMMs predicted {pred:.1f} ms, measured {meas:.1f} ms ({pred / meas - 1:+.1%})")
        for x in per:
            err = x["predicted_ms"] / x["measured_ms"] - 1
            if abs(err) > 0.15 and abs(x["predicted_ms"] - x["measured_ms"]) > 0.2:
                print(f"    {x['layer']:8s} {x['technique']}@{x['sparsity']:.2f}: predicted {x['predicted_ms']:.2f} ms, "
                      f"measured {x['measured_ms']:.2f} ms ({err:+.0%})")
    with open(os.path.join(w, "check.json"), "w") as f:
        json.dump({"device": cpu, "batch": args.batch, "dense_ms": dense, "times": times, "plans": rows}, f, indent=1)


if __name__ == "__main__":
    main()

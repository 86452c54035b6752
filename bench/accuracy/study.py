#!/usr/bin/python3
"""gapp accuracy study: VGG16-D on Fashion-MNIST, pruned with gapp-prune, fine-tuned with the
masks fixed, and run through gapp's OpenCL VGG16 runner (gapp-vgg16).

Called by bench/accuracy/run, which installs the Debian packages and builds the two tools.
Every step writes its result into the work directory and is skipped when that result is
already there, so an interrupted study continues where it stopped.
"""
import argparse
import gzip
import json
import math
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA_DIR = "/usr/share/datasets/fashion-mnist"
PLAN = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
# (technique name, gapp-prune arguments, sparsities)
TECHNIQUES = {
    "element": (["--unit", "element"], None),
    "filter": (["--unit", "filter"], None),
    "channel": (["--unit", "channel"], None),
    "nm:2:4": (["--unit", "nm:2:4"], [0.5]),
    "simd": (["--unit", "simd"], None),
    "tile": (["--unit", "tile"], None),
    "multi": (["--unit", "multi"], None),
    "simd-balanced": (["--unit", "simd", "--balanced"], None),
}


def log(msg):
    print(time.strftime("%H:%M:%S"), msg, flush=True)


# ---------------------------------------------------------------- data

def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic = int.from_bytes(raw[0:4], "big")
    dims = magic & 0xFF
    if magic >> 8 != 0x08 or dims not in (1, 3):
        raise SystemExit(f"study: {path}: not an idx ubyte file")
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims)
    if data.size != int(np.prod(shape)):
        raise SystemExit(f"study: {path}: size does not match its header")
    return data.reshape(shape)


MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST training-set pixel mean and deviation (of x / 255)


def load_split(name):
    x = read_idx(f"{DATA_DIR}/{name}-images-idx3-ubyte.gz").astype(np.float32) / 255.0
    y = read_idx(f"{DATA_DIR}/{name}-labels-idx1-ubyte.gz").astype(np.int64)
    x = np.pad(x, ((0, 0), (2, 2), (2, 2)))              # 28×28 → 32×32, zero border
    x = ((x - MEAN) / STD).astype(np.float32)[:, None]    # N×1×32×32, normalised
    return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y)


def augment(x, g):
    """Random horizontal flip and random shift by up to 2 pixels (the padding border)."""
    n = x.shape[0]
    flip = torch.rand(n, generator=g) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    pad = F.pad(x, (2, 2, 2, 2), value=-MEAN / STD)
    dx, dy = torch.randint(0, 5, (2,), generator=g).tolist()
    return pad[:, :, dy:dy + 32, dx:dx + 32]


# ---------------------------------------------------------------- model

class VGG16(nn.Module):
    """VGG16-D with batch norm after every conv; the classifier has the torchvision layout
    (Linear, ReLU, Dropout, Linear, ReLU, Dropout, Linear)."""

    def __init__(self, width, hidden, classes=10, in_channels=1):
        super().__init__()
        self.convs, self.bns, self.pool_after = nn.ModuleList(), nn.ModuleList(), []
        c = in_channels
        for p in PLAN:
            if p == "M":
                self.pool_after[-1] = True
                continue
            oc = max(1, round(p * width))
            self.convs.append(nn.Conv2d(c, oc, 3, padding=1, bias=False))
            self.bns.append(nn.BatchNorm2d(oc))
            self.pool_after.append(False)
            c = oc
        self.fcs = nn.ModuleList([nn.Linear(c, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, classes)])
        self.drop = nn.Dropout(0.5)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        for conv, bn, pool in zip(self.convs, self.bns, self.pool_after):
            x = F.relu(bn(conv(x)))
            if pool:
                x = F.max_pool2d(x, 2)
        x = torch.flatten(x, 1)
        x = self.drop(F.relu(self.fcs[0](x)))
        x = self.drop(F.relu(self.fcs[1](x)))
        return self.fcs[2](x)

    def weight_layers(self):
        """(gapp / torchvision state_dict name, weight parameter) of the 16 weight layers."""
        out, index = [], 0
        convs = iter(self.convs)
        for p in PLAN:
            if p == "M":
                index += 1
                continue
            out.append((f"features.{index}", next(convs).weight))
            index += 2
        for i, fc in zip((0, 3, 6), self.fcs):
            out.append((f"classifier.{i}", fc.weight))
        return out

    def folded(self):
        """Weights and biases with each batch norm folded into its conv, as numpy arrays keyed
        by the gapp names (what gapp-vgg16 loads)."""
        out = {}
        names = [n for n, _ in self.weight_layers()]
        for name, conv, bn in zip(names, self.convs, self.bns):
            scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
            out[name + ".weight"] = (conv.weight.detach() * scale[:, None, None, None]).numpy()
            out[name + ".bias"] = (bn.bias.detach() - bn.running_mean * scale).numpy()
        for name, fc in zip(names[-3:], self.fcs):
            out[name + ".weight"] = fc.weight.detach().numpy()
            out[name + ".bias"] = fc.bias.detach().numpy()
        return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}


# ---------------------------------------------------------------- training

def run_epochs(model, data, steps, lr, g, masks=None, desc="", start_step=0, save=None, before_step=None,
               teacher=None, kd=(0.5, 4.0)):
    """SGD (Nesterov momentum 0.9, weight decay 5e-4, batch 128), cosine learning rate from
    `lr` to 0 over `steps` steps. With masks (a list of (parameter, mask) pairs, which
    `before_step(step)` may replace in place), removed weights are zeroed after every step.
    With a teacher, the loss is (1 − α)·CE + α·T²·KL(teacher ‖ student) at temperature T,
    (α, T) = kd (distillation)."""
    x, y = data
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    if save and start_step:
        opt.load_state_dict(torch.load(save["opt"]))
        gen_state, global_state = torch.load(save["gen"])
        g.set_state(gen_state)
        torch.set_rng_state(global_state)  # dropout
    model.train()
    n, bs = x.shape[0], 128
    per_epoch = n // bs
    step, t0, seen, correct, loss_sum = start_step, time.time(), 0, 0, 0.0
    while step < steps:
        perm = torch.randperm(n, generator=g)
        for b in range(per_epoch):
            if step >= steps:
                break
            if before_step:
                before_step(step)
            idx = perm[b * bs:(b + 1) * bs]
            xb, yb = augment(x[idx], g), y[idx]
            for group in opt.param_groups:
                group["lr"] = 0.5 * lr * (1 + math.cos(math.pi * step / steps))
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            if teacher is not None:
                with torch.no_grad():
                    t_out = teacher(xb)
                a, T = kd
                kd_loss = F.kl_div(F.log_softmax(out / T, 1), F.softmax(t_out / T, 1), reduction="batchmean") * T * T
                loss = (1 - a) * loss + a * kd_loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if masks:
                with torch.no_grad():
                    for p, m in masks:
                        p.mul_(m)
            step += 1
            seen += len(yb)
            correct += (out.argmax(1) == yb).sum().item()
            loss_sum += loss.item() * len(yb)
            if step % 50 == 0 or step == steps:
                rate = (time.time() - t0) / max(1, seen) * bs
                log(f"{desc} step {step}/{steps}  loss {loss_sum / seen:.4f}  train acc {correct / seen:.4f}"
                    f"  ({rate:.2f} s/step, {rate * (steps - step) / 60:.1f} min left)")
        if save and step < steps:  # checkpoint at the end of every epoch
            torch.save(model.state_dict(), save["model"] + ".tmp")
            torch.save(opt.state_dict(), save["opt"] + ".tmp")
            torch.save((g.get_state(), torch.get_rng_state()), save["gen"] + ".tmp")
            with open(save["step"] + ".tmp", "w") as f:
                f.write(str(step))
            for k in ("model", "opt", "gen", "step"):
                os.replace(save[k] + ".tmp", save[k])
            acc, _, _ = evaluate(model, save["test"])
            log(f"{desc} epoch {step // per_epoch}: test accuracy {acc:.4f}")
            model.train()
    model.eval()


@torch.no_grad()
def evaluate(model, data, bs=500):
    model.eval()
    x, y = data
    logits = torch.cat([model(x[i:i + bs]) for i in range(0, x.shape[0], bs)])
    pred = logits.argmax(1)
    return (pred == y).float().mean().item(), pred.numpy(), logits.numpy()


# ---------------------------------------------------------------- files

def atomic_json(path, obj):
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f, indent=1)
    os.replace(path + ".tmp", path)


def save_npy(path, arr):
    # np.save appends ".npy" to a name without it, so the temporary name keeps the suffix
    tmp = path[:-4] + ".tmp.npy"
    np.save(tmp, arr)
    os.replace(tmp, path)


def export_onnx(model, path, shape=(1, 1, 32, 32)):
    """The model as ONNX (opset 11, batch norms as nodes of their own, input "input", output
    "logits"), for engines such as OpenCV DNN (docs/integrations.md); atomic."""
    model.eval()
    tmp = path + ".tmp"
    torch.onnx.export(model, torch.zeros(*shape), tmp, opset_version=11, input_names=["input"],
                      output_names=["logits"], do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE)
    os.replace(tmp, path)


def export_dir(model, d, masks=None):
    os.makedirs(d, exist_ok=True)
    for k, v in model.folded().items():
        save_npy(f"{d}/{k}.npy", v)
    for name, m in (masks or {}).items():
        save_npy(f"{d}/{name}.mask.npy", m.astype(np.uint8))


def gapp_eval(args, tech, d, work):
    """Runs the exported model through gapp-vgg16 on the whole test set; returns its JSON and
    its logits."""
    logits = f"{d}/gapp_logits.npy"
    cmd = [args.gapp_vgg16, "--policy", args.policy, "--technique", tech, "--weights", d,
           "--width", str(args.width), "--hidden", str(args.hidden), "--classes", "10", "--input", "32",
           "--in-channels", "1", "--images", f"{work}/test_images.npy", "--labels", f"{work}/test_labels.npy",
           "--batch", str(args.gapp_batch), "--logits", logits]
    if tech != "dense":
        cmd += ["--masks", d]
    info = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    return info, np.load(logits)


# ---------------------------------------------------------------- gradual pruning

def cubic(step, final, end):
    """Zhu & Gupta's cubic schedule from 0 at step 0 to `final` at `end`
    (gapp::cubic_schedule with initial sparsity 0, begin 0)."""
    if step >= end:
        return final
    f = 1.0 - step / end
    return final * (1.0 - f * f * f)


def gapp_masks(args, m, names, tech, sparsity, d, reorder=False):
    """Masks of the layers `names` of model m at `sparsity` from gapp-prune (the product's own
    selection under the study's policy). With `reorder`, each layer's rows are first put in
    the order gapp-prune --reorder finds — with --reorder-next when the next layer is pruned
    too, so that the order also groups that layer's inputs for units wider than a channel
    (tile, multi-level) — and the model is permuted to match (the layer's rows, its batch
    norm, the next layer's inputs), layer by layer, so that each search sees its inputs
    already in their new order. Returns {name: mask} and per-layer information (the layer's
    kept L2 with and without the order, and the next layer's)."""
    masks, infos = {}, []
    params = dict(m.weight_layers())
    order = [n for n, _ in m.weight_layers()]
    for name in names:
        p = params[name]
        raw, mask = f"{d}/{name}.raw.npy", f"{d}/{name}.gmask.npy"
        save_npy(raw, p.detach().numpy())
        cmd = [args.gapp_prune, "--policy", args.policy, *TECHNIQUES[tech][0], "--sparsity", f"{sparsity:.6f}",
               "--mask", mask, raw]
        nxt = None
        if reorder:
            cmd += ["--reorder", f"{d}/{name}.perm.npy", "--reorder-evaluations", str(args.reorder_evaluations)]
            following = order[order.index(name) + 1]
            if following in names:  # one order for this layer's rows and the next layer's inputs
                nxt = f"{d}/{following}.next.npy"
                save_npy(nxt, params[following].detach().numpy())
                cmd += ["--reorder-next", nxt]
        info = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        os.remove(raw)
        if nxt:
            os.remove(nxt)
        if reorder:
            perm = np.load(f"{d}/{name}.perm.npy")
            permute_model(m, order.index(name), torch.from_numpy(perm.astype(np.int64)))
            ro = info["reorder"]
            infos.append(dict(name=name, kept_l2=ro.get("layer_kept_l2", ro["kept_l2"]),
                              identity_kept_l2=ro.get("layer_identity_kept_l2", ro["identity_kept_l2"]),
                              next=following if nxt else None, next_kept_l2=ro.get("next_kept_l2"),
                              next_identity_kept_l2=ro.get("next_identity_kept_l2"),
                              boundary_kept_l2=ro["kept_l2"], boundary_identity_kept_l2=ro["identity_kept_l2"]))
        masks[name] = np.load(mask)
        os.remove(mask)
        os.remove(mask[:-4] + ".json")
    return masks, infos


@torch.no_grad()
def permute_model(m, li, perm):
    """Output channels of weight layer li in order perm (new i = old perm[i]) and the next
    layer's inputs to match: the network computes the same function (the gapp-prune --permute
    and nn::permute_channels rule, here on the PyTorch model with its batch norms)."""
    nconv = len(m.convs)
    if li < nconv:
        conv, bn = m.convs[li], m.bns[li]
        conv.weight.copy_(conv.weight[perm])
        for t in (bn.weight, bn.bias, bn.running_mean, bn.running_var):
            t.copy_(t[perm])
        if li + 1 < nconv:
            nxt = m.convs[li + 1].weight
            nxt.copy_(nxt[:, perm])
        else:  # the classifier's flattened C·H·W inputs
            fc = m.fcs[0].weight
            c = perm.numel()
            v = fc.view(fc.shape[0], c, -1)
            fc.copy_(v[:, perm, :].reshape(fc.shape))
    else:
        j = li - nconv
        if j + 1 >= len(m.fcs):
            raise SystemExit("study: the output layer's classes cannot be permuted")
        fc = m.fcs[j]
        fc.weight.copy_(fc.weight[perm])
        fc.bias.copy_(fc.bias[perm])
        nxt = m.fcs[j + 1].weight
        nxt.copy_(nxt[:, perm])


def run_gradual(args, m, data, tech, sparsity, names, d, g, lr, teacher=None, desc=""):
    """Gradual magnitude pruning over `args.gradual_steps` steps: gapp-prune masks recomputed
    `args.prune_updates` times on the cubic schedule, reaching `sparsity` at
    `args.prune_end` of the budget, then training on with the masks fixed. SGD (Nesterov 0.9,
    weight decay 5e-4, batch 128) with one cosine cycle from `lr` to 0 over the whole budget:
    with `lr` the dense training's initial rate this is learning-rate rewinding (Renda et al.:
    retrain with the original schedule), compressed into the budget. With a teacher, the loss
    is (1 − α)·CE + α·T²·KL(teacher ‖ student) at temperature T (distillation)."""
    steps = args.gradual_steps
    end = max(1, int(args.prune_end * steps))
    updates = sorted({max(1, round(k * end / args.prune_updates)) for k in range(1, args.prune_updates + 1)})
    params = dict(m.weight_layers())
    pairs, masks = [], {}

    def update(step):  # masks before this step's update
        nonlocal masks
        if step + 1 not in updates:
            return
        s_now = cubic(step + 1, sparsity, end)
        masks, _ = gapp_masks(args, m, names, tech, s_now, d)
        pairs[:] = [(params[k], torch.from_numpy(v.astype(np.float32))) for k, v in masks.items()]
        with torch.no_grad():
            for p_, mk in pairs:
                p_.mul_(mk)
        m.train()
        log(f"{desc} step {step + 1}: masks at sparsity {s_now:.4f}")

    run_epochs(m, data, steps, lr, g, masks=pairs, desc=desc, before_step=update, teacher=teacher,
               kd=(args.kd_alpha, args.kd_temperature))
    return masks


def gradual_key(args, tech, sparsity, reorder, kd, lr):
    """results.json's key of a gradual model, e.g. g:simd@0.75+reorder+kd@lr0.01."""
    return f"g:{tech}@{sparsity}" + ("+reorder" if reorder else "") + ("+kd" if kd else "") + \
        ("" if lr == args.lr else f"@lr{lr}")


def gradual_phase(args, work, model_path, train, test, results, results_path, finish):
    """The gradual study: every technique at every sparsity with the same budget; the unit
    techniques of args.reorder_techniques with and without reordering; and, for SIMD units
    at 0.75, the ablation (schedule alone, + rewinding, + reordering, + distillation).
    Resumable per model: a finished model's result is in results.json and is skipped."""
    pruned_layers = [n for n, _ in VGG16(args.width, args.hidden).weight_layers()][1:-1]
    configs = []
    for t in args.gradual_techniques.split(","):
        for s_ in (TECHNIQUES[t][1] or [float(v) for v in args.gradual_sparsities.split(",")]):
            configs.append((t, s_, False, False, args.lr))
            if t in args.reorder_techniques.split(","):
                configs.append((t, s_, True, False, args.lr))
    if args.ablation:
        a = args.ablation_technique, args.ablation_sparsity
        configs += [(a[0], a[1], False, False, args.finetune_lr),  # schedule alone
                    (a[0], a[1], True, True, args.lr)]            # + rewinding + reordering + distillation
    teacher = None
    todo = sum(1 for c in configs if gradual_key(args, *c) not in results)
    done, t_start = 0, time.time()
    for i, (tech, sparsity, reorder, kd, lr) in enumerate(configs):
        key = gradual_key(args, tech, sparsity, reorder, kd, lr)
        if key in results:
            continue
        left = f", about {(time.time() - t_start) / done * (todo - done) / 60:.0f} min left in this phase" if done else ""
        log(f"[gradual {i + 1}/{len(configs)}] {key}: {args.gradual_steps} steps, lr {lr}, masks from gapp-prune"
            f" ({todo - done} models to train{left})")
        m = VGG16(args.width, args.hidden)
        m.load_state_dict(torch.load(model_path))
        d = f"{work}/g-{tech.replace(':', '_')}-{sparsity}" + ("-reorder" if reorder else "") + ("-kd" if kd else "") + \
            ("" if lr == args.lr else f"-lr{lr}")
        os.makedirs(d, exist_ok=True)
        kept_info = []
        if reorder:  # the row orders at the final sparsity, folded into the model before training
            _, kept_info = gapp_masks(args, m, pruned_layers, tech, sparsity, d, reorder=True)
            log(f"{key}: reordered; kept L2 per layer " +
                ", ".join(f"{r['identity_kept_l2']:.3f}->{r['kept_l2']:.3f}" for r in kept_info))
        if kd and teacher is None:
            teacher = VGG16(args.width, args.hidden)
            teacher.load_state_dict(torch.load(model_path))
            teacher.eval()
        g = torch.Generator().manual_seed(args.seed + 1000 + i)
        masks = run_gradual(args, m, train, tech, sparsity, pruned_layers, d, g, lr,
                            teacher=teacher if kd else None, desc=key)
        kept = sum(int(v.sum()) for v in masks.values())
        total = sum(v.size for v in masks.values())
        all_weights = sum(p.numel() for _, p in m.weight_layers())
        export_dir(m, d, masks)
        finish(key, tech, sparsity, m, d,
               dict(achieved_sparsity=(total - kept) / all_weights, method="gradual", reorder=reorder,
                    distillation=kd, lr=lr, steps=args.gradual_steps, prune_updates=args.prune_updates,
                    reorder_kept_l2=kept_info))
        done += 1


# ---------------------------------------------------------------- study

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--gapp-prune", required=True)
    ap.add_argument("--gapp-vgg16", required=True)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--policy", default="arm-mali-valhall")
    ap.add_argument("--width", type=float, default=0.5)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--epochs", type=float, default=10)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--finetune-steps", type=int, default=200)
    ap.add_argument("--finetune-lr", type=float, default=0.01)
    ap.add_argument("--gapp-batch", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--speed-rounds", type=int, default=3)
    ap.add_argument("--speed-images", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--techniques", default=",".join(TECHNIQUES))
    ap.add_argument("--sparsities", default="0.5,0.75,0.9")
    ap.add_argument("--gradual", action=argparse.BooleanOptionalAction, default=True,
                    help="the gradual-pruning phase (after the one-shot one)")
    ap.add_argument("--gradual-techniques", default="element,filter,channel,simd,simd-balanced,multi,tile")
    ap.add_argument("--gradual-sparsities", default="0.75,0.9")
    ap.add_argument("--gradual-steps", type=int, default=600, help="budget of every gradual model (1.28 epochs)")
    ap.add_argument("--prune-updates", type=int, default=12)
    ap.add_argument("--prune-end", type=float, default=0.6, help="fraction of the budget where the final sparsity is reached")
    ap.add_argument("--reorder-techniques", default="simd,simd-balanced,multi,tile")
    ap.add_argument("--reorder-evaluations", type=int, default=200)
    ap.add_argument("--ablation", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--ablation-technique", default="simd")
    ap.add_argument("--ablation-sparsity", type=float, default=0.75)
    ap.add_argument("--kd-alpha", type=float, default=0.5)
    ap.add_argument("--kd-temperature", type=float, default=4.0)
    ap.add_argument("--summary-only", action="store_true",
                    help="write the gradual summaries from {work}/results.json (as they stand) and stop")
    ap.add_argument("--dense-only", action="store_true",
                    help="train, export ({work}/dense/*.npy) and check the dense model, then stop")
    args = ap.parse_args()

    if args.summary_only:
        results = json.load(open(f"{args.work}/results.json"))
        write_gradual_summary(args.work, results)
        log(f"summary: {args.work}/summary_gradual.md and {args.work}/summary_reorder.md")
        return 0
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    work = args.work
    os.makedirs(work, exist_ok=True)

    train, test = load_split("train"), load_split("t10k")
    if args.smoke:
        # a small network trained on 8192 images for 4 epochs (under a minute on 2 cores):
        # clearly above chance, with predictions spread over the classes, so that agreement
        # with PyTorch means something; two techniques, 500 test images
        train, test = (train[0][:8192], train[1][:8192]), (test[0][:500], test[1][:500])
        args.width, args.hidden = 0.125, 64
        args.epochs, args.finetune_steps, args.speed_rounds = 4, 96, 1
        # gradual: SIMD units at 0.5 with reordering, 96 steps, 3 mask updates, no ablation
        args.gradual_techniques, args.gradual_sparsities, args.reorder_techniques = "simd", "0.5", "simd"
        args.gradual_steps, args.prune_updates, args.reorder_evaluations, args.ablation = 96, 3, 20, False
    if not os.path.exists(f"{work}/test_labels.npy"):
        save_npy(f"{work}/test_images.npy", test[0].numpy())
        save_npy(f"{work}/test_labels.npy", test[1].numpy().astype(np.uint8))
    log(f"data: {train[0].shape[0]} training and {test[0].shape[0]} test images, 1×32×32 (28×28 zero-padded)")

    # 1. the dense network
    dense_path = f"{work}/dense.pt"
    model = VGG16(args.width, args.hidden)
    n_params = sum(p.numel() for _, p in model.weight_layers())
    steps = max(1, int(args.epochs * (train[0].shape[0] // 128)))
    if not os.path.exists(dense_path):
        save = {"model": f"{work}/train.pt", "opt": f"{work}/train.opt.pt", "gen": f"{work}/train.gen.pt",
                "step": f"{work}/train.step", "test": test}
        start = 0
        if os.path.exists(save["step"]):
            start = int(open(save["step"]).read())
            model.load_state_dict(torch.load(save["model"]))
            log(f"dense: resuming at step {start}")
        g = torch.Generator().manual_seed(args.seed)
        log(f"dense: training VGG16-D width {args.width}, hidden {args.hidden} ({n_params} weights), {steps} steps")
        run_epochs(model, train, steps, args.lr, g, desc="dense", start_step=start, save=save)
        torch.save(model.state_dict(), dense_path + ".tmp")
        os.replace(dense_path + ".tmp", dense_path)
    model.load_state_dict(torch.load(dense_path))
    if not os.path.exists(f"{work}/dense.onnx"):  # the trained network for inference engines
        export_onnx(model, f"{work}/dense.onnx")
        log(f"dense: exported {work}/dense.onnx")
    if args.smoke:
        acc, pred, _ = evaluate(model, test)
        classes = len(set(pred.tolist()))
        log(f"smoke: the dense model scores {acc:.4f} on {len(pred)} test images, predicting {classes} classes")
        if acc < 0.5 or classes < 6:
            log("FAILED: the smoke model is too close to chance (needs accuracy >= 0.5 and at least 6 predicted "
                "classes) for agreement with PyTorch to mean anything")
            return 1

    results_path = f"{work}/results.json"
    results = json.load(open(results_path)) if os.path.exists(results_path) else {}

    def finish(key, tech, sparsity, m, d, extra):
        acc, pred, tlog = evaluate(m, test)
        info, glog = gapp_eval(args, tech, d, work)
        gpred = glog.argmax(1)
        diff, scale = float(np.abs(glog - tlog).max()), float(np.abs(tlog).max())
        agree = float((gpred == pred).mean())
        gacc = float((gpred == test[1].numpy()).mean())
        r = dict(technique=tech, target_sparsity=sparsity, torch_accuracy=acc, gapp_accuracy=gacc,
                 agreement=agree, disagreements=int((gpred != pred).sum()), images=int(len(pred)),
                 max_logit_diff=diff, max_logit=scale,
                 gapp_ms_per_image=info["ms_per_image"], kernels=info.get("kernels"), **extra)
        results[key] = r
        atomic_json(results_path, results)
        classes = len(set(gpred.tolist()))
        if args.smoke and (acc < 0.4 or classes < 5):
            log(f"FAILED: the smoke model {key} scores {acc:.4f} predicting {classes} classes: too close to chance "
                "(needs 0.4 and 5) for agreement with PyTorch to mean anything")
            sys.exit(1)
        log(f"{key}: torch {acc:.4f}  gapp {gacc:.4f}  agreement {agree:.4f}  max |Δlogit| {diff:.2e}"
            f" (largest |logit| {scale:.2f})")

    if "dense" not in results:
        d = f"{work}/dense"
        export_dir(model, d)
        finish("dense", "dense", 0.0, model, d, dict(achieved_sparsity=0.0, layers=[]))
    if args.dense_only:
        r = results["dense"]
        log(f"dense: torch {r['torch_accuracy']:.4f}, gapp {r['gapp_accuracy']:.4f}, agreement {r['agreement']:.4f};"
            f" weights in {work}/dense")
        return 0 if r["agreement"] >= 0.999 and r["max_logit_diff"] <= 1e-4 * r["max_logit"] + 1e-7 else 1

    techs = args.techniques.split(",")
    sparsities = [float(s) for s in args.sparsities.split(",")]
    if args.smoke:
        techs, sparsities = ["tile", "filter"], [0.5]
    # conv1_1 (1×3×3 inputs) and the output layer stay dense: they hold 0.2% of the weights
    # and pruning whole output classes (filter units of the last layer) is not meaningful
    pruned_layers = [n for n, _ in model.weight_layers()][1:-1]
    configs = [(t, s) for t in techs for s in (TECHNIQUES[t][1] or sparsities)]
    for i, (tech, sparsity) in enumerate(configs):
        key = f"{tech}@{sparsity}"
        if key in results:
            continue
        log(f"[{i + 1}/{len(configs)}] {key}: masks with gapp-prune --policy {args.policy}")
        m = VGG16(args.width, args.hidden)
        m.load_state_dict(torch.load(dense_path))
        d = f"{work}/{tech.replace(':', '_')}-{sparsity}"
        os.makedirs(d, exist_ok=True)
        masks, pairs, layers, kept, total = {}, [], [], 0, 0
        params = dict(m.weight_layers())
        for name in pruned_layers:
            p = params[name]
            save_npy(f"{d}/{name}.raw.npy", p.detach().numpy())
            cmd = [args.gapp_prune, "--policy", args.policy, *TECHNIQUES[tech][0], "--sparsity", str(sparsity),
                   "--mask", f"{d}/{name}.mask.npy", f"{d}/{name}.raw.npy"]
            info = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            os.remove(f"{d}/{name}.raw.npy")
            mk = np.load(f"{d}/{name}.mask.npy")
            masks[name] = mk
            mt = torch.from_numpy(mk.astype(np.float32))
            pairs.append((p, mt))
            with torch.no_grad():
                p.mul_(mt)
            kept += int(mk.sum())
            total += mk.size
            layers.append(dict(name=name, unit=info["unit"], achieved_sparsity=info["achieved_sparsity"]))
        all_weights = sum(p.numel() for _, p in m.weight_layers())
        achieved = (total - kept) / all_weights
        before, _, _ = evaluate(m, test)
        log(f"{key}: {total - kept} of {all_weights} weights removed ({achieved:.4f}); before fine-tuning {before:.4f}")
        g = torch.Generator().manual_seed(args.seed + 1 + i)
        run_epochs(m, train, args.finetune_steps, args.finetune_lr, g, masks=pairs, desc=f"{key} fine-tune")
        export_dir(m, d, masks)
        finish(key, tech, sparsity, m, d,
               dict(achieved_sparsity=achieved, accuracy_before_finetune=before, layers=layers))

    if args.gradual:
        gradual_phase(args, work, dense_path, train, test, results, results_path, finish)
        write_gradual_summary(work, results)

    speed = speed_phase(args, work, results, test[0].shape[0])
    write_summary(args, work, results, speed)

    log("model                          torch    gapp     agreement  speedup")
    for k, r in results.items():
        sp = speed.get(k, {}).get("speedup", 1.0 if k == "dense" else float("nan"))
        log(f"{k:<30} {r['torch_accuracy']:.4f}  {r['gapp_accuracy']:.4f}  {r['agreement']:.4f}     {sp:.2f}")
    worst = min(r["agreement"] for r in results.values())
    if worst < 0.999:
        log(f"FAILED: gapp and PyTorch agree on only {worst:.4f} of the test images (need 0.999)")
        return 1
    # float32 sums in another order differ by ~1e-6 of the logits' scale; 1e-4 of it is a
    # wrong result (a dropped unit, a wrong bias); the scale is each model's largest |logit|
    bad = [k for k, r in results.items() if not r["max_logit_diff"] <= 1e-4 * r["max_logit"] + 1e-7]
    if bad:
        log(f"FAILED: gapp's logits differ from PyTorch's by more than 1e-4 of the largest |logit| in {', '.join(bad)}")
        return 1
    log(f"agreement between gapp-vgg16 and PyTorch: at least {worst:.4f} in every configuration")
    log(f"summary: {work}/summary.md and {work}/summary.csv")
    return 0


def speed_phase(args, work, results, n_test):
    """Speed of each pruned model against the dense one, measured by gapp-vgg16 on the same
    device in one run: `--speed-rounds` rounds over every model, interleaved, on the first
    `--speed-images` test images; the speedup is the median over rounds of dense / model."""
    path = f"{work}/speed.json"
    speed = json.load(open(path)) if os.path.exists(path) else {}
    keys = [k for k in results if k != "dense" and not k.startswith("g:")]  # gradual models: same kernels
    if all(k in speed for k in keys) or args.speed_rounds == 0:
        return speed
    n = min(args.speed_images, n_test)
    imgs, labels = f"{work}/speed_images.npy", f"{work}/speed_labels.npy"
    save_npy(imgs, np.load(f"{work}/test_images.npy")[:n])
    save_npy(labels, np.load(f"{work}/test_labels.npy")[:n])
    times = {k: [] for k in ["dense"] + keys}
    for rnd in range(args.speed_rounds):
        for k in times:
            r = results[k]
            d = f"{work}/dense" if k == "dense" else f"{work}/{r['technique'].replace(':', '_')}-{r['target_sparsity']}"
            info = json.loads(subprocess.run(
                [args.gapp_vgg16, "--policy", args.policy, "--technique", r["technique"], "--weights", d,
                 *(["--masks", d] if k != "dense" else []), "--width", str(args.width), "--hidden", str(args.hidden),
                 "--classes", "10", "--input", "32", "--in-channels", "1", "--images", imgs, "--labels", labels,
                 "--batch", str(args.gapp_batch)], check=True, capture_output=True, text=True).stdout)
            times[k].append(info["ms_per_image"])
        log(f"speed round {rnd + 1}/{args.speed_rounds}: dense {times['dense'][-1]:.2f} ms/image")
    for k in keys:
        ratios = sorted(a / b for a, b in zip(times["dense"], times[k]))
        speed[k] = dict(ms_per_image=times[k], dense_ms_per_image=times["dense"], speedup=ratios[len(ratios) // 2])
    atomic_json(path, speed)
    return speed


def write_summary(args, work, results, speed):
    dense = results["dense"]
    rows = ["technique,target_sparsity,achieved_sparsity,torch_accuracy,gapp_accuracy,accuracy_drop,"
            "accuracy_before_finetune,agreement,disagreements,max_logit_diff,speedup_vs_dense"]
    md = ["| technique | sparsity | accuracy (PyTorch) | accuracy (gapp OpenCL) | drop vs dense | before fine-tuning"
          " | agreement | speedup vs dense |", "|---|---|---|---|---|---|---|---|"]
    for k, r in results.items():
        if k.startswith("g:"):
            continue  # summary_gradual
        sp = speed.get(k, {}).get("speedup", 1.0 if k == "dense" else float("nan"))
        drop = dense["gapp_accuracy"] - r["gapp_accuracy"]
        before = r.get("accuracy_before_finetune", r["torch_accuracy"])
        rows.append(f"{r['technique']},{r['target_sparsity']},{r['achieved_sparsity']:.4f},{r['torch_accuracy']:.4f},"
                    f"{r['gapp_accuracy']:.4f},{drop:.4f},{before:.4f},{r['agreement']:.5f},{r['disagreements']},"
                    f"{r['max_logit_diff']:.3g},{sp:.3f}")
        md.append(f"| {r['technique']} | {r['target_sparsity']} ({r['achieved_sparsity']:.3f}) | "
                  f"{100 * r['torch_accuracy']:.2f}% | {100 * r['gapp_accuracy']:.2f}% | {-100 * drop:+.2f} pt | "
                  f"{100 * before:.2f}% | {100 * r['agreement']:.2f}% ({r['disagreements']}) | {sp:.2f}× |")
    with open(f"{work}/summary.csv.tmp", "w") as f:
        f.write("\n".join(rows) + "\n")
    os.replace(f"{work}/summary.csv.tmp", f"{work}/summary.csv")
    with open(f"{work}/summary.md.tmp", "w") as f:
        f.write("\n".join(md) + "\n")
    os.replace(f"{work}/summary.md.tmp", f"{work}/summary.md")

def write_gradual_summary(work, results):
    """summary_gradual.md/.csv: each gradual model beside the one-shot result of the same
    technique and sparsity, and its gap to gradual element-wise pruning at that sparsity;
    summary_reorder.md/.csv: each reordered model's kept L2 per layer with and without its
    order (and, where the order was searched with the next layer, that layer's inputs')."""
    dense = results["dense"]["gapp_accuracy"]
    rows = ["key,technique,target_sparsity,achieved_sparsity,reorder,distillation,lr,steps,gapp_accuracy,drop_vs_dense,"
            "gap_to_element,one_shot_accuracy,agreement,disagreements"]
    md = ["| model | sparsity | accuracy (gapp OpenCL) | drop vs dense | gap to element-wise | one-shot |"
          " agreement |", "|---|---|---|---|---|---|---|"]
    for k, r in results.items():
        if not k.startswith("g:"):
            continue
        el = results.get(f"g:element@{r['target_sparsity']}")
        gap = (el["gapp_accuracy"] - r["gapp_accuracy"]) if el else float("nan")
        one = results.get(f"{r['technique']}@{r['target_sparsity']}", {}).get("gapp_accuracy", float("nan"))
        rows.append(f"{k},{r['technique']},{r['target_sparsity']},{r['achieved_sparsity']:.4f},{int(r['reorder'])},"
                    f"{int(r['distillation'])},{r['lr']},{r['steps']},{r['gapp_accuracy']:.4f},"
                    f"{dense - r['gapp_accuracy']:.4f},{gap:.4f},{one:.4f},{r['agreement']:.5f},{r['disagreements']}")
        gap_md = "—" if r["technique"] == "element" or math.isnan(gap) else f"{-100 * gap:+.2f} pt"
        one_md = "—" if math.isnan(one) else f"{100 * one:.2f}%"
        md.append(f"| {k[2:]} | {r['target_sparsity']} ({r['achieved_sparsity']:.3f}) | {100 * r['gapp_accuracy']:.2f}% |"
                  f" {-100 * (dense - r['gapp_accuracy']):+.2f} pt | {gap_md} | {one_md} |"
                  f" {100 * r['agreement']:.2f}% ({r['disagreements']}) |")
    # kept L2 per layer with and without reordering (at the final sparsity, before training)
    krows = ["key,layer,identity_kept_l2,kept_l2,next,next_identity_kept_l2,next_kept_l2"]
    kmd = ["| model | layer | kept L2, identity | kept L2, reordered | next layer's inputs: identity → reordered |",
           "|---|---|---|---|---|"]
    for k, r in results.items():
        for L in r.get("reorder_kept_l2") or []:
            nxt = L.get("next")
            f = (lambda v: "" if v is None else f"{v:.4f}")
            krows.append(f"{k},{L['name']},{L['identity_kept_l2']:.4f},{L['kept_l2']:.4f},{nxt or ''},"
                         f"{f(L.get('next_identity_kept_l2'))},{f(L.get('next_kept_l2'))}")
            kmd.append(f"| {k[2:]} | {L['name']} | {L['identity_kept_l2']:.3f} | {L['kept_l2']:.3f} | " +
                       (f"{L['next_identity_kept_l2']:.3f} → {L['next_kept_l2']:.3f} ({nxt})"
                        if nxt and L.get("next_kept_l2") is not None else "—") + " |")
    for name, text in (("summary_gradual.csv", rows), ("summary_gradual.md", md), ("summary_reorder.csv", krows),
                       ("summary_reorder.md", kmd)):
        with open(f"{work}/{name}.tmp", "w") as f:
            f.write("\n".join(text) + "\n")
        os.replace(f"{work}/{name}.tmp", f"{work}/{name}")


if __name__ == "__main__":
    sys.exit(main())

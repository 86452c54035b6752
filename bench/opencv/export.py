#!/usr/bin/env python3
"""Exports the ONNX models that OpenCV DNN runs with gapp's layers (examples/opencv_dnn.cpp,
bench/opencv/run), with Debian's PyTorch and torchvision only.

    python3 bench/opencv/export.py --study build/accuracy --out build/opencv

Writes into --out:
  vgg16_study.onnx    the accuracy study's trained dense VGG16-D (width 0.5, 1x32x32,
                      batch norms as nodes of their own) as the study exported it
                      ({study}/dense.onnx), when it exists
  resnet18_fm.onnx    torchvision's ResNet-18 (10 classes) trained for --resnet-epochs on
                      Fashion-MNIST (32x32, the grey image on 3 channels); the training is
                      kept in resnet18_fm.pt and reused
  vgg16_224.onnx      torchvision's VGG16 and ResNet-18 at 3x224x224, 1000 classes, weights
  resnet18_224.onnx   from a fixed seed (for latency: values do not change the work)
  images.npy, labels.npy   the first --images study test images (N x 1 x 32 x 32, normalised)
Each file is written to a temporary name and renamed, so an interrupted run leaves none
half-written; existing files are kept (delete one to export it again)."""
import argparse
import os
import shutil
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "accuracy"))
import study  # noqa: E402  (the study's model, data loading and constants)


def log(msg):
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def export(model, shape, path):
    if os.path.exists(path):
        log(f"{path}: exists, kept")
        return
    study.export_onnx(model, path, shape)
    log(f"{path}: {os.path.getsize(path) / 1e6:.1f} MB, input {'x'.join(map(str, shape))}")


class Grey3(nn.Module):
    """The grey image repeated on three channels, then the network."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(torch.cat([x, x, x], 1))


def distinct(model, seed):
    """torchvision initialises every bias to 0 and every batch norm to the identity; the ONNX
    exporter then shares equal initializers through Identity nodes, which OpenCV 4.6 cannot
    import. Small random biases and batch-norm statistics keep every initializer distinct."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)) and m.bias is not None:
                m.bias.copy_(0.02 * torch.randn(m.bias.shape, generator=g))
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(1 + 0.1 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.05 * torch.randn(m.bias.shape, generator=g))
                m.running_mean.copy_(0.05 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(1 + 0.1 * torch.rand(m.running_var.shape, generator=g))
    return model


def unshare(net):
    """In a trained ResNet, a block's bn2 bias and its downsample batch norm's bias are equal:
    both start at 0 and get the same gradient (their outputs are added). The exporter would
    share them through an Identity node that OpenCV 4.6 cannot import; moving 1e-3 from one
    to the other keeps their sum, and so the network's function, and the two apart."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torchvision.models.resnet.BasicBlock) and m.downsample is not None:
                m.bn2.bias += 1e-3
                m.downsample[1].bias -= 1e-3
    return net


def train_resnet(out, epochs, threads):
    path = f"{out}/resnet18_fm.pt"
    net = torchvision.models.resnet18(num_classes=10)
    if os.path.exists(path):
        net.load_state_dict(torch.load(path))
        return net
    torch.set_num_threads(threads)
    torch.manual_seed(3)
    x, y = study.load_split("train")
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    steps = max(1, int(epochs * (x.shape[0] // 128)))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=steps)
    g = torch.Generator().manual_seed(3)
    net.train()
    log(f"ResNet-18: training {steps} steps on Fashion-MNIST")
    step = 0
    while step < steps:
        perm = torch.randperm(x.shape[0], generator=g)
        for i in range(0, x.shape[0] - 127, 128):
            if step >= steps:
                break
            idx = perm[i:i + 128]
            xb = study.augment(x[idx], g).expand(-1, 3, -1, -1)
            loss = F.cross_entropy(net(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if step % 50 == 0 or step == steps:
                log(f"ResNet-18: step {step}/{steps}, loss {loss.item():.3f}")
    torch.save(net.state_dict(), path + ".tmp")
    os.replace(path + ".tmp", path)
    return net


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--study", default="build/accuracy")
    ap.add_argument("--out", default="build/opencv")
    ap.add_argument("--images", type=int, default=500)
    ap.add_argument("--resnet-epochs", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-224", action="store_true", help="only the 32x32 models and the images")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    x, y = study.load_split("t10k")
    if not os.path.exists(f"{args.out}/labels.npy"):
        study.save_npy(f"{args.out}/images.npy", x[:args.images].numpy())
        study.save_npy(f"{args.out}/labels.npy", y[:args.images].numpy().astype(np.uint8))

    # the study's own export of its trained dense network (bench/accuracy/run writes it)
    dense = f"{args.study}/dense.onnx"
    if os.path.exists(dense) and not os.path.exists(f"{args.out}/vgg16_study.onnx"):
        shutil.copyfile(dense, f"{args.out}/vgg16_study.onnx.tmp")
        os.replace(f"{args.out}/vgg16_study.onnx.tmp", f"{args.out}/vgg16_study.onnx")
        log(f"{args.out}/vgg16_study.onnx: the study's {dense}")
    elif not os.path.exists(dense):
        log(f"{dense}: not found (bench/accuracy/run --dense-only trains and exports it): vgg16_study.onnx not made")

    net = unshare(train_resnet(args.out, args.resnet_epochs, args.threads))
    net.eval()
    with torch.no_grad():
        acc = float((Grey3(net)(x[:2000]).argmax(1) == y[:2000]).float().mean())
    log(f"ResNet-18 (Fashion-MNIST): PyTorch top-1 {acc:.4f} on 2000 test images")
    export(Grey3(net), (1, 1, 32, 32), f"{args.out}/resnet18_fm.onnx")

    if not args.skip_224:
        torch.manual_seed(0)
        export(distinct(torchvision.models.vgg16(), 1), (1, 3, 224, 224), f"{args.out}/vgg16_224.onnx")
        torch.manual_seed(0)
        export(distinct(torchvision.models.resnet18(), 2), (1, 3, 224, 224), f"{args.out}/resnet18_224.onnx")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes the small ONNX model of the OpenCV DNN integration test and its expected outputs.

    /usr/bin/python3 tests/opencv/make_model.py tests/opencv/data

The network is not a plain chain and covers what the integration must handle: a 3x3 "same"
convolution with batch norm and ReLU (gapp, implicit), a strided convolution (gapp, im2col),
a 1x1 convolution on a residual branch added back, a grouped and a dilated convolution (both
left to OpenCV), global average pooling and two fully connected layers. Weights come from a
fixed seed; the batch norms get non-trivial statistics so that folding them matters.
Outputs: small.onnx, input.npy (2 x 3 x 12 x 12) and expected.npy (PyTorch's logits).
Needs only Debian's python3-torch (torch.onnx needs no onnx package to export)."""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 40, 3, stride=2, padding=1)
        self.short = nn.Conv2d(40, 40, 1)
        self.grouped = nn.Conv2d(40, 40, 3, padding=1, groups=2)
        self.dilated = nn.Conv2d(40, 48, 3, padding=2, dilation=2)
        self.fc1 = nn.Linear(48, 36)
        self.fc2 = nn.Linear(36, 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.conv2(x))
        x = F.relu(self.short(x) + x)
        x = F.relu(self.grouped(x))
        x = F.relu(self.dilated(x))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc2(F.relu(self.fc1(x)))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "data")
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(7)
    m = Small()
    with torch.no_grad():
        m.bn1.weight.uniform_(0.5, 1.5)
        m.bn1.bias.uniform_(-0.2, 0.2)
        m.bn1.running_mean.uniform_(-0.1, 0.1)
        m.bn1.running_var.uniform_(0.5, 2.0)
    m.eval()
    x = torch.randn(2, 3, 12, 12, generator=torch.Generator().manual_seed(11))
    with torch.no_grad():
        y = m(x)
    # BN stays a node of its own (OpenCV folds it into the layer before it)
    torch.onnx.export(m, x, os.path.join(out, "small.onnx"), opset_version=11, input_names=["input"],
                      output_names=["logits"], do_constant_folding=False,
                      training=torch.onnx.TrainingMode.PRESERVE)
    np.save(os.path.join(out, "input.npy"), x.numpy().astype(np.float32))
    np.save(os.path.join(out, "expected.npy"), y.numpy().astype(np.float32))
    print(f"wrote {out}/small.onnx ({os.path.getsize(os.path.join(out, 'small.onnx'))} bytes), input.npy, expected.npy")


if __name__ == "__main__":
    main()

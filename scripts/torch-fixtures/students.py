"""PyTorch reference training of kd's batch-norm students (test/nn/students-torch.test.ts reads it).

A ResNet-8 (`resnet:8,2`), a small MobileNet (`mobilenet:1[4,8,8;1,2,1]`) and a `layers` list
with batch norm after a conv, after relu and on a dense layer's flat features (BatchNorm1d), written
here layer for layer in kd's order and under kd's parameter names, start from weights and running statistics
drawn in PyTorch, take three SGD-momentum steps (lr 0.1, momentum 0.9, no weight decay, mean
cross-entropy) in training mode on three fixed batches, then run `model.eval()` on a fourth.
Writes test/fixtures/torch/students_<kind>.json: the batches, the parameters and buffers before
and after, and the evaluation logits, all float32. Dense weights are written in kd's [in, out]
layout (PyTorch's Linear keeps [out, in]). CI needs no PyTorch: the JSON files are committed. To
regenerate them (Debian: apt-get install python3-torch):

    /usr/bin/python3 scripts/torch-fixtures/students.py

from the repository root; it then formats them with the repository's biome (npx).
"""

import json
import os
import subprocess

import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "torch")
BATCH, STEPS, CLASSES, LR, MOMENTUM = 4, 3, 3, 0.1, 0.9


def tensor(t):
    t = t.detach().to(torch.float32).contiguous()
    # 9 significant digits round-trip any float32.
    return {"shape": list(t.shape), "data": [float("%.9g" % v) for v in t.flatten().tolist()]}


class ConvBn(nn.Module):
    """kd's convBn: a bias-free k×k conv (padding (k-1)/2) `<name>.conv`, then BatchNorm2d `<name>.bn`."""

    def __init__(self, cin, cout, k, stride=1, groups=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=(k - 1) // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1)

    def forward(self, x):
        return self.bn(self.conv(x))


class Basic(nn.Module):
    """kd's resnet basic block: relu(b(relu(a(x))) + shortcut(x)), a 1×1 conv-BN projection where the shape changes."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.a = ConvBn(cin, cout, 3, stride)
        self.b = ConvBn(cout, cout, 3)
        self.shortcut = ConvBn(cin, cout, 1, stride) if stride != 1 or cin != cout else None

    def forward(self, x):
        h = self.b(F.relu(self.a(x)))
        return F.relu(h + (self.shortcut(x) if self.shortcut is not None else x))


class ResNet8(nn.Module):
    def __init__(self, c0, width):
        super().__init__()
        self.stem = ConvBn(c0, width, 3)
        widths = [width, 2 * width, 4 * width]
        c = width
        for s, w in enumerate(widths):
            stage = nn.Module()
            stage.block1 = Basic(c, w, 2 if s > 0 else 1)
            setattr(self, "stage%d" % (s + 1), stage)
            c = w
        self.out = nn.Linear(c, CLASSES)

    def forward(self, x):
        h = F.relu(self.stem(x))
        for s in (self.stage1, self.stage2, self.stage3):
            h = s.block1(h)
        return self.out(h.mean(dim=(2, 3)))


class Separable(nn.Module):
    """kd's mobilenet block: depthwise 3×3 conv-BN `dw`, ReLU6, pointwise 1×1 conv-BN `pw`, ReLU6."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.dw = ConvBn(cin, cin, 3, stride, groups=cin)
        self.pw = ConvBn(cin, cout, 1)

    def forward(self, x):
        return F.relu6(self.pw(F.relu6(self.dw(x))))


class MobileNet(nn.Module):
    def __init__(self, c0, channels, strides):
        super().__init__()
        self.stem = ConvBn(c0, channels[0], 3, strides[0])
        self.blocks = len(channels) - 1
        for i in range(1, len(channels)):
            setattr(self, "block%d" % i, Separable(channels[i - 1], channels[i], strides[i]))
        self.out = nn.Linear(channels[-1], CLASSES)

    def forward(self, x):
        h = F.relu6(self.stem(x))
        for i in range(1, self.blocks + 1):
            h = getattr(self, "block%d" % i)(h)
        return self.out(h.mean(dim=(2, 3)))


class Layers(nn.Module):
    """kd's `layers` list LAYERS on 3×8×8: entry i is module `l<i>`; a conv or dense before a bn has no bias."""

    def __init__(self):
        super().__init__()
        self.l1 = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.l2 = nn.BatchNorm2d(4, eps=1e-5, momentum=0.1)
        self.l4 = nn.BatchNorm2d(4, eps=1e-5, momentum=0.1)
        self.l7 = nn.Linear(64, 6, bias=False)
        self.l8 = nn.BatchNorm1d(6, eps=1e-5, momentum=0.1)
        self.l10 = nn.BatchNorm1d(6, eps=1e-5, momentum=0.1)
        self.out = nn.Linear(6, CLASSES)

    def forward(self, x):
        h = F.max_pool2d(self.l4(F.relu(self.l2(self.l1(x)))), 2)
        return self.out(self.l10(F.relu(self.l8(self.l7(h.flatten(1))))))


LAYERS = [
    {"conv": {"out": 4, "kernel": 3}},
    "bn",
    "relu",
    "bn",
    {"maxpool": 2},
    "flatten",
    {"dense": 6},
    "bn",
    "relu",
    "bn",
]


def state(model):
    """Parameters and running statistics under kd's names, dense weights as [in, out]."""
    out = {}
    for name, t in model.state_dict().items():
        if name.endswith("num_batches_tracked"):
            continue
        dense = isinstance(model.get_submodule(name.rsplit(".", 1)[0]), nn.Linear)
        out[name] = tensor(t.t() if dense and name.endswith(".weight") else t)
    return out


def case(name, model, shape, spec, seed):
    torch.manual_seed(seed)
    with torch.no_grad():
        # Batch norm away from its defaults (γ 1, β 0, running 0 and 1), so that every term shows.
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.weight.copy_(torch.rand(m.num_features) + 0.5)
                m.bias.copy_(torch.randn(m.num_features) * 0.2)
                m.running_mean.copy_(torch.randn(m.num_features) * 0.2)
                m.running_var.copy_(torch.rand(m.num_features) + 0.5)
    tensors = {"init/" + k: v for k, v in state(model).items()}
    xs = [torch.randn(BATCH, *shape) for _ in range(STEPS + 1)]
    labels = [torch.randint(0, CLASSES, (BATCH,)) for _ in range(STEPS)]
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=0)
    model.train()
    losses = []
    for j in range(STEPS):
        opt.zero_grad()
        loss = F.cross_entropy(model(xs[j]), labels[j])  # mean over the batch
        loss.backward()
        opt.step()
        losses.append(float("%.9g" % loss.item()))
        tensors["x/%d" % j] = tensor(xs[j])
    tensors.update({"final/" + k: v for k, v in state(model).items()})
    model.eval()
    with torch.no_grad():
        tensors["eval/x"] = tensor(xs[STEPS])
        tensors["eval/logits"] = tensor(model(xs[STEPS]))
    config = {
        "arch": spec,
        "inputShape": list(shape),
        "classes": CLASSES,
        "lr": LR,
        "momentum": MOMENTUM,
        "labels": [l.tolist() for l in labels],
        "losses": losses,
    }
    path = os.path.join(OUT, "students_%s.json" % name)
    with open(path, "w") as f:
        json.dump({"torch": torch.__version__, "config": config, "tensors": tensors}, f, separators=(",", ":"))
        f.write("\n")
    return path


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(8)
    resnet = ResNet8(3, 2)
    torch.manual_seed(1)
    mobilenet = MobileNet(3, [4, 8, 8], [1, 2, 1])
    paths = [
        case("resnet", resnet, (3, 8, 8), {"kind": "resnet", "depth": 8, "width": 2}, 80),
        case(
            "mobilenet",
            mobilenet,
            (3, 8, 8),
            {"kind": "mobilenet", "multiplier": 1, "channels": [4, 8, 8], "strides": [1, 2, 1]},
            10,
        ),
    ]
    torch.manual_seed(2)
    paths.append(case("layers", Layers(), (3, 8, 8), {"kind": "layers", "layers": LAYERS}, 20))
    subprocess.run(["npx", "biome", "format", "--write", *paths], check=True, stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    main()

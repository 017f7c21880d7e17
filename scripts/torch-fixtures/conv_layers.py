"""PyTorch reference values for kd's convnet layers (test/nn/conv-layers.test.ts reads them).

Writes test/fixtures/torch/<case>.json: inputs, parameters, a random cotangent `c`, the forward
output and the gradients of sum(output * c), all float32, from fixed seeds. CI needs no PyTorch:
the JSON files are committed. To regenerate them (Debian: apt-get install python3-torch):

    /usr/bin/python3 scripts/torch-fixtures/conv_layers.py

from the repository root; it then formats them with the repository's biome (npx, so that
`biome check` passes). Rerunning with the same PyTorch rewrites identical files.
"""

import json
import os
import subprocess

import torch

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "torch")


def tensor(t):
    t = t.detach().to(torch.float32).contiguous()
    # 9 significant digits round-trip any float32.
    return {"shape": list(t.shape), "data": [float("%.9g" % v) for v in t.flatten().tolist()]}


def run(module, x, params):
    """Forward and backward of sum(module(x) * c); returns the tensors to record."""
    x = x.clone().requires_grad_(True)
    y = module(x)
    c = torch.randn_like(y)
    (y * c).sum().backward()
    out = {"x": tensor(x), "c": tensor(c), "y": tensor(y), "grad.x": tensor(x.grad)}
    for name in params:
        p = getattr(module, name)
        out[name] = tensor(p)
        out["grad." + name] = tensor(p.grad)
    return out


def write(name, config, tensors):
    path = os.path.join(OUT, name + ".json")
    with open(path, "w") as f:
        json.dump({"torch": torch.__version__, "config": config, "tensors": tensors}, f, separators=(",", ":"))
        f.write("\n")


def conv(name, shape, cout, kernel, stride, padding, groups, bias):
    torch.manual_seed(len(name))
    m = torch.nn.Conv2d(shape[1], cout, kernel, stride=stride, padding=padding, groups=groups, bias=bias)
    config = {"stride": stride, "padding": padding, "groups": groups, "bias": bias}
    write(name, config, run(m, torch.randn(*shape), ["weight", "bias"] if bias else ["weight"]))


def batch_norm(name, shape, train):
    torch.manual_seed(len(name))
    m = torch.nn.BatchNorm2d(shape[1], eps=1e-5, momentum=0.1)
    with torch.no_grad():
        m.weight.copy_(torch.rand(shape[1]) + 0.5)
        m.bias.copy_(torch.randn(shape[1]))
        m.running_mean.copy_(torch.randn(shape[1]))
        m.running_var.copy_(torch.rand(shape[1]) + 0.5)
    before = {"running_mean": tensor(m.running_mean), "running_var": tensor(m.running_var)}
    m.train(train)
    x = torch.randn(*shape) * 2 + 0.5
    tensors = run(m, x, ["weight", "bias"])
    tensors.update(before)
    if train:
        # After one forward with momentum 0.1; PyTorch keeps the unbiased batch variance.
        tensors["running_mean.after"] = tensor(m.running_mean)
        tensors["running_var.after"] = tensor(m.running_var)
    write(name, {"train": train, "eps": 1e-5, "momentum": 0.1}, tensors)


def elementwise(name, module, shape, scale, config=None):
    torch.manual_seed(len(name))
    write(name, config or {}, run(module, torch.randn(*shape) * scale, []))


def main():
    os.makedirs(OUT, exist_ok=True)
    # 8 + 2 - 3 = 7 is odd in width: the last padded column is never read (the 28/32-pixel case).
    conv("conv2d_3x3_s2_p1", [2, 2, 7, 8], 3, 3, 2, 1, 1, True)
    conv("conv2d_1x1_s2_shortcut", [2, 3, 8, 8], 4, 1, 2, 0, 1, False)
    conv("conv2d_depthwise_s2", [2, 4, 8, 8], 4, 3, 2, 1, 4, True)
    conv("conv2d_groups2", [2, 4, 5, 5], 6, 3, 1, 1, 2, True)
    batch_norm("batchnorm2d_train", [4, 3, 5, 5], True)
    batch_norm("batchnorm2d_eval", [4, 3, 5, 5], False)
    pool = torch.nn.AvgPool2d(3, stride=2, padding=1)
    elementwise("avgpool2d_3x3_s2_p1", pool, [2, 3, 7, 8], 1, {"kernel": 3, "stride": 2, "padding": 1})
    elementwise("avgpool2d_2x2", torch.nn.AvgPool2d(2), [2, 3, 6, 4], 1, {"kernel": 2, "stride": 2, "padding": 0})
    elementwise("adaptiveavgpool2d_1", torch.nn.AdaptiveAvgPool2d(1), [2, 3, 5, 4], 1)
    elementwise("relu6", torch.nn.ReLU6(), [2, 3, 4, 4], 5)
    elementwise("hardswish", torch.nn.Hardswish(), [2, 3, 4, 4], 4)
    subprocess.run(["npx", "biome", "format", "--write", OUT], check=True, stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    main()

"""PyTorch (CUDA, fp32, TF32 off) twins of bench/gpu/gpu.ts, run in the same device lease.

1. fp32 matmul 1024-4096^2 through cuBLAS;
2. the same MoCo training step: ResNet-18 (CIFAR form, width 64) on 3x32x32 views, batch 256,
   K 4096, MLP head (512-512-128), plain BN with a shuffled key batch, momentum update, queue
   enqueue, SGD (lr 0.06, momentum 0.9, wd 5e-4), on pre-made views; eager mode.
Writes JSON to argv[1] (or stdout). Usage: python3 bench/gpu/torch_ref.py [out.json] [--quick]
"""
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "test", "nn"))
from torch_models import ResNet, SmallConvNet  # noqa: E402  (wgrad's encoders, same layout)

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
quick = "--quick" in sys.argv
out = next((a for a in sys.argv[1:] if not a.startswith("--")), None)
result = {"device": torch.cuda.get_device_name() if dev.type == "cuda" else "cpu", "torch": torch.__version__, "matmul": [], "moco": []}


def sync():
    if dev.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, iters, samples=5):
    fn()
    sync()
    ms = []
    for _ in range(samples):
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        sync()
        ms.append((time.perf_counter() - t0) * 1000 / iters)
    return sorted(ms)[samples // 2]


for n in ([256] if quick else [1024, 2048, 4096]):
    a = torch.rand(n, n, device=dev)
    b = torch.rand(n, n, device=dev)
    ms = timed(lambda: torch.mm(a, b), max(2, round(2e10 / n**3)))
    result["matmul"].append({"n": n, "ms": ms, "tflops": 2 * n**3 / ms / 1e9})
    print(f"torch matmul {n}^2: {2 * n**3 / ms / 1e9:.2f} TFLOP/s ({ms:.3f} ms)", flush=True)


class Head(torch.nn.Module):
    def __init__(self, backbone, feat, dim=128):
        super().__init__()
        self.backbone = backbone
        self.head = torch.nn.Sequential(torch.nn.Linear(feat, feat), torch.nn.ReLU(), torch.nn.Linear(feat, dim))

    def forward(self, x):
        return F.normalize(self.head(self.backbone(x)), dim=1)


def moco_step_bench(name, make_backbone, feat, shape, steps):
    torch.manual_seed(0)
    enc_q = Head(make_backbone(), feat).to(dev)
    enc_k = Head(make_backbone(), feat).to(dev)
    enc_k.load_state_dict(enc_q.state_dict())
    for p in enc_k.parameters():
        p.requires_grad = False
    queue = F.normalize(torch.randn(128, 4096, device=dev), dim=0)
    ptr = [0]
    opt = torch.optim.SGD(enc_q.parameters(), lr=0.06, momentum=0.9, weight_decay=5e-4)
    xq = torch.rand(*shape, device=dev)
    xk = torch.rand(*shape, device=dev)
    B = shape[0]

    def step():
        q = enc_q(xq)
        with torch.no_grad():
            for pq, pk in zip(enc_q.parameters(), enc_k.parameters()):
                pk.mul_(0.99).add_(pq, alpha=0.01)
            perm = torch.randperm(B, device=dev)
            k = enc_k(xk[perm])[torch.argsort(perm)]
        logits = torch.cat([(q * k).sum(1, keepdim=True), q @ queue], 1) / 0.1
        loss = F.cross_entropy(logits, torch.zeros(B, dtype=torch.long, device=dev))
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            idx = (ptr[0] + torch.arange(B, device=dev)) % 4096
            queue[:, idx] = k.T
            ptr[0] = (ptr[0] + B) % 4096

    ms = timed(step, steps, 3)
    row = {"name": name, "batch": B, "msPerStep": ms, "imagesPerSecond": B * 1000 / ms}
    result["moco"].append(row)
    print(f"torch {name}: {ms:.1f} ms/step, {row['imagesPerSecond']:.0f} images/s", flush=True)


B = 16 if quick else 256
moco_step_bench(f"resnet18 b{B}", lambda: ResNet(64, 3), 512, (B, 3, 32, 32), 1 if quick else 10)
moco_step_bench("convnet-w16 b128", lambda: SmallConvNet(16, 1), 64, (16 if quick else 128, 1, 28, 28), 1 if quick else 20)

text = json.dumps(result, indent=1)
if out:
    with open(out, "w") as f:
        f.write(text)
else:
    print(text)

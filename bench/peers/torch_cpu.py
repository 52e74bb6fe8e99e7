"""PyTorch on the CPU as a peer of `npm run bench -- --peers` (bench/run.ts, bench/peers/torch-cpu.ts).

One process serves every workload over JSON lines, so that the TypeScript side times it round-robin
with wgrad's candidates (the same load hits both). Requests on stdin, one reply line each on stdout:
  {"id": 1, "op": "setup", "workload": "matmul", "args": {"S": 1024}}  -> {"id": 1, "handle": 1, "info": {...}}
  {"id": 2, "op": "run", "handle": 1, "iters": 20}                    -> {"id": 2, "value": ..., "cpu_ms": ...}
  {"id": 3, "op": "dispose", "handle": 1}                              -> {"id": 3, "cpu_ms": ...}
A failed request answers {"id": ..., "error": "..."}. The first line says whether torch loaded.
cpu_ms (in every reply) is this process's CPU time so far (the caller takes differences); value is a number from the
last iteration (a loss or a sum), for sanity checks. torch.set_num_threads is left at its default.
"""
import json
import math
import os
import random
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except Exception as e:  # no torch: say so on the first line, then stop (the caller skips this peer)
    print(json.dumps({"ready": False, "why": f"import torch failed in {sys.executable}: {e}"}), flush=True)
    sys.exit(0)

# wgrad's encoders and the official MoCo module in PyTorch (the same layers and names as src/nn).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "torch"))
from wgrad_torch import build_moco  # noqa: E402


def matmul(S):
    a, b = torch.randn(S, S), torch.randn(S, S)
    return lambda: float((a @ b)[0, 0]), {}


def conv(N, C, H, W, Co, k, which):
    """The rows of benchConv: forward, one gradient of the backward (autograd's own kernel), fused."""
    x, w, b, gy = torch.randn(N, C, H, W), torch.randn(Co, C, k, k) * 0.1, torch.randn(Co) * 0.1, torch.randn(N, Co, H, W)
    p = k // 2
    if which == "forward":
        return lambda: float(F.conv2d(x, w, padding=p)[0, 0, 0, 0]), {}
    if which == "bias_relu":
        return lambda: float(F.relu(F.conv2d(x, w, b, padding=p))[0, 0, 0, 0]), {}
    mask = [which == "input_grad", which == "weight_grad", False]
    back = torch.ops.aten.convolution_backward

    def step():
        gi, gw, _ = back(gy, x, w, None, [1, 1], [p, p], [1, 1], False, [0, 0], 1, mask)
        return float((gi if mask[0] else gw).flatten()[0])
    return step, {}


def mlp(B, D, H, O):
    model = nn.Sequential(nn.Linear(D, H), nn.ReLU(), nn.Linear(H, H), nn.ReLU(), nn.Linear(H, O))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.randn(B, D), torch.arange(B) % O

    def step():
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return float(loss)
    return step, {"params": sum(p.numel() for p in model.parameters())}


def views(x, jitter_p, scale=(0.2, 1.0), ratio=(3 / 4, 4 / 3)):
    """wgrad's augmentation of bench/run.ts' MoCo row, batched as wgrad does it: RandomResizedCrop
    (torchvision's get_params per image, bilinear resize) with the flip folded into the sampling
    grid, then brightness/contrast jitter (0.4) with probability jitter_p. No blur, 1 channel."""
    B, _, H, W = x.shape
    theta = torch.zeros(B, 2, 3)
    for i in range(B):
        h, w = H, W
        for _ in range(10):
            area = H * W * random.uniform(*scale)
            aspect = math.exp(random.uniform(math.log(ratio[0]), math.log(ratio[1])))
            cw, ch = round(math.sqrt(area * aspect)), round(math.sqrt(area / aspect))
            if 0 < cw <= W and 0 < ch <= H:
                h, w = ch, cw
                break
        top, left = random.randint(0, H - h), random.randint(0, W - w)
        flip = -1.0 if random.random() < 0.5 else 1.0
        # affine_grid maps output [-1, 1] to input coordinates: scale to the box, move to its centre.
        theta[i, 0, 0], theta[i, 0, 2] = flip * w / W, (2 * left + w) / W - 1
        theta[i, 1, 1], theta[i, 1, 2] = h / H, (2 * top + h) / H - 1
    grid = F.affine_grid(theta, [B, 1, H, W], align_corners=False)
    y = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    on = (torch.rand(B, 1, 1, 1) < jitter_p).float()
    bright = 1 + on * (torch.rand(B, 1, 1, 1) * 0.8 - 0.4)
    contrast = 1 + on * (torch.rand(B, 1, 1, 1) * 0.8 - 0.4)
    y = (y * bright).clamp(0, 1)
    mean = y.mean(dim=(1, 2, 3), keepdim=True)
    return ((y - mean) * contrast + mean).clamp(0, 1)


def moco(batch, width, K, dim, m, T, lr, wd, bnSplits, mlp=True, augment=True, jitter_p=0.8):
    """One MoCo step of the train CLI's default config: SmallConvNet + MLP head, SplitBatchNorm with
    the key batch shuffled locally, InfoNCE against the queue, SGD with momentum and weight decay."""
    cfg = {"encoder": "convnet", "width": width, "dim": dim, "K": K, "m": m, "T": T, "mlp": mlp}
    model = build_moco(cfg, 1, bnSplits)
    model.train()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr, momentum=0.9, weight_decay=wd)
    x = torch.rand(batch, 1, 28, 28)

    def step():
        xq, xk = (views(x, jitter_p), views(x, jitter_p)) if augment else (x, x)
        logits, labels = model(xq, xk, shuffle="local" if bnSplits > 1 else "none")
        loss = F.cross_entropy(logits, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return float(loss)
    return step, {"params": sum(p.numel() for p in model.encoder_q.parameters())}


WORKLOADS = {"matmul": matmul, "conv": conv, "mlp": mlp, "moco": moco}


def main():
    print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    steps, next_handle = {}, 1
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        out = {"id": req.get("id")}
        try:
            op = req["op"]
            if op == "setup":
                if req["workload"] not in WORKLOADS:
                    raise ValueError(f"unknown workload {req['workload']!r} (workloads: {', '.join(WORKLOADS)})")
                with torch.no_grad() if req["workload"] in ("matmul", "conv") else torch.enable_grad():
                    step, info = WORKLOADS[req["workload"]](**req.get("args", {}))
                steps[next_handle] = (step, req["workload"] in ("matmul", "conv"))
                out.update(handle=next_handle, info=info)
                next_handle += 1
            elif op == "run":
                step, no_grad = steps[req["handle"]]
                value = None
                with torch.no_grad() if no_grad else torch.enable_grad():
                    for _ in range(max(1, int(req.get("iters", 1)))):
                        value = step()
                out.update(value=value)
            elif op == "dispose":
                steps.pop(req["handle"], None)
            else:
                raise ValueError(f"unknown op {op!r} (setup, run, dispose)")
        except Exception as e:
            out["error"] = f"{type(e).__name__}: {e}"
        out["cpu_ms"] = time.process_time() * 1000
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()

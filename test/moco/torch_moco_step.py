"""Independent PyTorch implementation of one MoCo step (official builder.py order), used by
crosscheck.test.ts. Reads the initial weights, inputs, queue and key-batch permutation from a
safetensors file written by wgrad, and writes loss, logits, every query-parameter gradient, the
updated key parameters and the queue after the enqueue to another safetensors file.

usage: python3 torch_moco_step.py IN.safetensors OUT.safetensors
Only numpy and torch are needed (safetensors is parsed by hand)."""
import json, struct, sys
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_default_dtype(torch.float32)


def read_st(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    out = {}
    for name, info in header.items():
        a, b = info["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype="<f4").copy().reshape(info["shape"]))
    return out, meta


def write_st(path, tensors):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        arr = tensors[name].detach().contiguous().numpy().astype("<f4")
        b = arr.tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


class SplitBatchNorm(nn.BatchNorm2d):
    """The MoCo CIFAR demo's SplitBatchNorm: statistics per group n % num_splits of the batch."""

    def __init__(self, c, num_splits):
        super().__init__(c)
        self.num_splits = num_splits

    def forward(self, x):
        N, C, H, W = x.shape
        if self.training and self.num_splits > 1:
            rm = self.running_mean.repeat(self.num_splits)
            rv = self.running_var.repeat(self.num_splits)
            out = F.batch_norm(x.reshape(-1, C * self.num_splits, H, W), rm, rv,
                               self.weight.repeat(self.num_splits), self.bias.repeat(self.num_splits),
                               True, self.momentum, self.eps).reshape(N, C, H, W)
            self.running_mean.data.copy_(rm.view(self.num_splits, C).mean(0))
            self.running_var.data.copy_(rv.view(self.num_splits, C).mean(0))
            return out
        return super().forward(x)


class Backbone(nn.Module):
    def __init__(self, w, cin, splits):
        super().__init__()
        def block(a, b):
            return [nn.Conv2d(a, b, 3, padding=1, bias=False), SplitBatchNorm(b, splits), nn.ReLU()]
        self.features = nn.Sequential(*block(cin, w), *block(w, w), nn.MaxPool2d(2),
                                      *block(w, 2 * w), *block(2 * w, 2 * w), nn.MaxPool2d(2),
                                      *block(2 * w, 4 * w))

    def forward(self, x):
        return F.adaptive_avg_pool2d(self.features(x), 1).flatten(1)


class Encoder(nn.Module):
    def __init__(self, w, cin, splits, dim):
        super().__init__()
        self.backbone = Backbone(w, cin, splits)
        f = 4 * w
        self.head = nn.Sequential(nn.Linear(f, f), nn.ReLU(), nn.Linear(f, dim))

    def forward(self, x):
        return F.normalize(self.head(self.backbone(x)), dim=1)


def load(model, tensors, prefix):
    sd = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    missing = set(model.state_dict().keys()) - set(sd.keys()) - {k for k in model.state_dict() if k.endswith("num_batches_tracked")}
    assert not missing, f"missing in wgrad's file: {sorted(missing)}"
    model.load_state_dict(sd, strict=False)


def main():
    t, meta = read_st(sys.argv[1])
    w, cin, splits, dim = (int(meta[k]) for k in ("width", "in_channels", "splits", "dim"))
    m, T = float(meta["m"]), float(meta["T"])
    enc_q, enc_k = Encoder(w, cin, splits, dim), Encoder(w, cin, splits, dim)
    load(enc_q, t, "query.")
    load(enc_k, t, "key.")
    for p in enc_k.parameters():
        p.requires_grad = False
    queue = t["queue"].clone()  # [K, dim] rows (official: dim x K columns)
    xq, xk, perm = t["xq"], t["xk"], t["perm"].long()
    # 1. query features
    q = enc_q(xq)
    with torch.no_grad():
        # 2. momentum update, then keys on the shuffled batch, un-shuffled
        for pk, pq in zip(enc_k.parameters(), enc_q.parameters()):
            pk.data = pk.data * m + pq.data * (1.0 - m)
        inv = torch.argsort(perm)
        k = enc_k(xk[perm])[inv]
    # 3. logits and loss
    l_pos = torch.einsum("nc,nc->n", q, k).unsqueeze(-1)
    l_neg = torch.einsum("nc,kc->nk", q, queue.clone().detach())
    logits = torch.cat([l_pos, l_neg], dim=1) / T
    labels = torch.zeros(logits.shape[0], dtype=torch.long)
    loss = F.cross_entropy(logits, labels)
    # 4. enqueue (ring buffer, wrapping)
    ptr = int(meta["ptr"])
    K = queue.shape[0]
    for i in range(k.shape[0]):
        queue[(ptr + i) % K] = k[i]
    loss.backward()
    out = {"loss": loss.detach().reshape([]), "logits": logits.detach(), "queue_after": queue, "k": k}
    for name, p in enc_q.named_parameters():
        out["grad." + name] = p.grad
    for name, p in enc_k.named_parameters():
        out["key_after." + name] = p.data
    write_st(sys.argv[2], out)


if __name__ == "__main__":
    main()

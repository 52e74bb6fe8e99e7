"""Independent PyTorch implementations of one NNCLR step (Dwibedi et al. 2021) and one MoCo v3 step
(Chen, Xie, He 2021, official moco-v3 builder.py order), used by methods-crosscheck.test.ts. Reads
the initial weights, inputs and support set from a safetensors file written by wgrad and writes
the loss, every gradient, the nearest-neighbour indices, the support set after the update (NNCLR)
and the momentum-updated key encoder (MoCo v3) to another.

usage: python3 torch_methods_step.py IN.safetensors OUT.safetensors"""
import math, os, sys
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_moco_step import read_st, write_st, Backbone, load  # noqa: E402


def build_mlp(num_layers, input_dim, mlp_dim, output_dim, last_bn):
    """moco-v3 builder.py's _build_mlp."""
    layers = []
    for l in range(num_layers):
        d1 = input_dim if l == 0 else mlp_dim
        d2 = output_dim if l == num_layers - 1 else mlp_dim
        layers.append(nn.Linear(d1, d2, bias=False))
        if l < num_layers - 1:
            layers += [nn.BatchNorm1d(d2), nn.ReLU()]
        elif last_bn:
            layers.append(nn.BatchNorm1d(d2, affine=False))
    return nn.Sequential(*layers)


class Heads(nn.Module):
    """NNCLR's network: backbone f, projector g, predictor h."""

    def __init__(self, backbone, projector, predictor):
        super().__init__()
        self.backbone, self.projector, self.predictor = backbone, projector, predictor


def nnclr_step(t, meta):
    w, cin, dim = int(meta["width"]), int(meta["in_channels"]), int(meta["dim"])
    tau, layers = float(meta["temperature"]), int(meta["projection_layers"])
    pw, hw = int(meta["projection_width"]), int(meta["prediction_width"])
    net = Heads(Backbone(w, cin, 1), build_mlp(layers, 4 * w, pw, dim, True), build_mlp(2, dim, hw, dim, False))
    load(net, t, "net.")
    support = t["support"].clone()
    ptr, filled = int(meta["ptr"]), int(meta["filled"])

    def embed(x):
        y = net.projector(net.backbone(x))
        return F.normalize(y.detach(), dim=1), F.normalize(net.predictor(y), dim=1)

    def nearest(z):
        if filled == 0:
            return z, torch.full((z.shape[0],), -1.0)
        idx = (z @ support[:filled].T).argmax(dim=1)  # first index on ties
        return support[idx], idx.float()

    def loss_fn(anchor, p):
        logits = anchor @ p.T / tau
        return F.cross_entropy(logits, torch.arange(p.shape[0])), logits

    z1, p1 = embed(t["x1"])
    z2, p2 = embed(t["x2"])
    nn1, i1 = nearest(z1)
    nn2, i2 = nearest(z2)
    l12, logits = loss_fn(nn1, p2)
    l21, _ = loss_fn(nn2, p1)
    loss = 0.5 * (l12 + l21)
    loss.backward()
    size = support.shape[0]
    for i in range(z1.shape[0]):
        support[(ptr + i) % size] = z1[i]
    out = {"loss": loss.detach().reshape([]), "logits": logits.detach(), "support_after": support, "nn1": i1, "nn2": i2}
    for name, p in net.named_parameters():
        out["grad." + name] = p.grad
    return out


class Base(nn.Module):
    def __init__(self, backbone, projector):
        super().__init__()
        self.backbone, self.projector = backbone, projector

    def forward(self, x):
        return self.projector(self.backbone(x))


class Query(nn.Module):
    def __init__(self, base, predictor):
        super().__init__()
        self.base, self.predictor = base, predictor

    def forward(self, x):
        return self.predictor(self.base(x))


def mocov3_step(t, meta):
    w, cin, dim, mlp_dim = int(meta["width"]), int(meta["in_channels"]), int(meta["dim"]), int(meta["mlp_dim"])
    base_m, T, progress = float(meta["m"]), float(meta["T"]), float(meta["progress"])
    query = Query(Base(Backbone(w, cin, 1), build_mlp(2, 4 * w, mlp_dim, dim, True)), build_mlp(2, dim, mlp_dim, dim, False))
    key = Base(Backbone(w, cin, 1), build_mlp(2, 4 * w, mlp_dim, dim, True))
    load(query, t, "query.")
    load(key, t, "key.")
    for p in key.parameters():
        p.requires_grad = False
    # main_moco.py adjust_moco_momentum: cosine from m to 1
    m = 1.0 - 0.5 * (1.0 + math.cos(math.pi * progress)) * (1.0 - base_m)

    def ctr(q, k):
        q, k = F.normalize(q, dim=1), F.normalize(k, dim=1)
        logits = q @ k.T / T
        return F.cross_entropy(logits, torch.arange(q.shape[0])) * (2 * T), logits

    x1, x2 = t["x1"], t["x2"]
    q1, q2 = query(x1), query(x2)
    with torch.no_grad():
        for pk, pq in zip(key.parameters(), query.base.parameters()):
            pk.data = pk.data * m + pq.data * (1.0 - m)
        k1, k2 = key(x1), key(x2)
    a, logits = ctr(q1, k2)
    b, _ = ctr(q2, k1)
    loss = a + b
    loss.backward()
    out = {"loss": loss.detach().reshape([]), "logits": logits.detach(), "momentum": torch.tensor(m)}
    for name, p in query.named_parameters():
        out["grad." + name] = p.grad
    for name, p in key.named_parameters():
        out["key_after." + name] = p.data
    return out


def main():
    t, meta = read_st(sys.argv[1])
    out = nnclr_step(t, meta) if meta["method"] == "nnclr" else mocov3_step(t, meta)
    write_st(sys.argv[2], out)


if __name__ == "__main__":
    main()

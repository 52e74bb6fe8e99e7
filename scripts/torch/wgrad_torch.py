"""Shared pieces of the PyTorch side of wgrad (convert.py, main_moco.py): safetensors without the
safetensors package, wgrad's encoders in PyTorch with wgrad's (= torchvision's) parameter names,
the official MoCo module (facebookresearch/moco builder.py, shuffle BN across processes), and the
name mapping between a wgrad-moco checkpoint and the official main_moco.py checkpoint.

Needs only torch and numpy. The table of names is in docs/MOCO.md ("Moving a run to PyTorch")."""
import gzip
import json
import math
import os
import struct

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

WGRAD_FORMAT = "wgrad-moco-checkpoint/1"

# ---- safetensors -------------------------------------------------------------------------------

_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64, "I32": np.int32}


def read_safetensors(path):
    """{name: float32 torch tensor}, metadata. Reads F32, F16, BF16, F64 and integer tensors."""
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {}) or {}
    data = raw[8 + n:]
    out = {}
    for name, info in header.items():
        a, b = info["data_offsets"]
        if info["dtype"] == "BF16":  # bfloat16 is the top half of a float32
            u16 = np.frombuffer(data[a:b], dtype="<u2").astype(np.uint32) << 16
            arr = u16.view(np.float32)
        elif info["dtype"] in _DTYPES:
            arr = np.frombuffer(data[a:b], dtype=np.dtype(_DTYPES[info["dtype"]]).newbyteorder("<"))
        else:
            raise ValueError(f"{path}: tensor {name} has dtype {info['dtype']}; F32, F16, BF16, F64, I32, I64 are read")
        out[name] = torch.from_numpy(arr.astype(np.float32).reshape(info["shape"]))
    return out, meta


def write_safetensors(path, tensors, metadata=None):
    """Writes float32 tensors (atomically: temp file + rename), names sorted, metadata as strings."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        arr = tensors[name].detach().to(torch.float32).contiguous().numpy().astype("<f4")
        b = arr.tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    os.replace(tmp, path)


# ---- encoders (same names and order as src/nn/encoders.ts) -------------------------------------

class SplitBatchNorm(nn.BatchNorm2d):
    """The MoCo CIFAR demo's SplitBatchNorm (wgrad's nn.SplitBatchNorm2d): in training, sample n is
    normalised with the statistics of group n % num_splits; running statistics are the groups' mean."""

    def __init__(self, c, num_splits):
        super().__init__(c)
        self.num_splits = num_splits

    def forward(self, x):
        N, C, H, W = x.shape
        if not (self.training and self.num_splits > 1):
            return super().forward(x)
        s = self.num_splits
        rm, rv = self.running_mean.repeat(s), self.running_var.repeat(s)
        out = F.batch_norm(x.reshape(-1, C * s, H, W), rm, rv, self.weight.repeat(s), self.bias.repeat(s),
                           True, self.momentum, self.eps).reshape(N, C, H, W)
        self.running_mean.data.copy_(rm.view(s, C).mean(0))
        self.running_var.data.copy_(rv.view(s, C).mean(0))
        return out


def norm_factory(splits):
    return (lambda c: SplitBatchNorm(c, splits)) if splits > 1 else nn.BatchNorm2d


class SmallConvNet(nn.Module):
    """wgrad's nn.SmallConvNet: [conv-norm-relu]x2 (w), pool, [conv-norm-relu]x2 (2w), pool, conv-norm-relu (4w)."""

    def __init__(self, width, in_channels, norm):
        super().__init__()
        w = width
        blk = lambda cin, cout: [nn.Conv2d(cin, cout, 3, padding=1, bias=False), norm(cout), nn.ReLU()]
        self.features = nn.Sequential(*blk(in_channels, w), *blk(w, w), nn.MaxPool2d(2), *blk(w, 2 * w),
                                      *blk(2 * w, 2 * w), nn.MaxPool2d(2), *blk(2 * w, 4 * w))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.feature_dim = 4 * w
        self.fc = nn.Identity()

    def embed(self, x):
        return self.flatten(self.pool(self.features(x)))

    def forward(self, x):
        return self.fc(self.embed(x))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin, planes, stride, norm):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = norm(planes)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = norm(planes)
        self.downsample = (nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), norm(planes))
                           if stride != 1 or cin != planes else None)

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(out + (self.downsample(x) if self.downsample is not None else x))


class Bottleneck(nn.Module):
    """torchvision's Bottleneck (stride on the 3x3 convolution)."""
    expansion = 4

    def __init__(self, cin, planes, stride, norm):
        super().__init__()
        cout = planes * 4
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = norm(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = norm(planes)
        self.conv3 = nn.Conv2d(planes, cout, 1, bias=False)
        self.bn3 = norm(cout)
        self.relu = nn.ReLU()
        self.downsample = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), norm(cout))
                           if stride != 1 or cin != cout else None)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (self.downsample(x) if self.downsample is not None else x))


class ResNet(nn.Module):
    """torchvision's ResNet layout; stem 'cifar' = 3x3 stride-1 conv and no max-pool (wgrad's resnet18Cifar)."""

    def __init__(self, block, layers, width=64, in_channels=3, stem="imagenet", norm=nn.BatchNorm2d):
        super().__init__()
        w = width
        if stem == "cifar":
            self.conv1 = nn.Conv2d(in_channels, w, 3, 1, 1, bias=False)
        else:
            self.conv1 = nn.Conv2d(in_channels, w, 7, 2, 3, bias=False)
        self.bn1 = norm(w)
        self.relu = nn.ReLU()
        self.maxpool = nn.Identity() if stem == "cifar" else nn.MaxPool2d(3, 2, 1)
        self.cin = w
        self.layer1 = self._stage(block, w, layers[0], 1, norm)
        self.layer2 = self._stage(block, 2 * w, layers[1], 2, norm)
        self.layer3 = self._stage(block, 4 * w, layers[2], 2, norm)
        self.layer4 = self._stage(block, 8 * w, layers[3], 2, norm)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.feature_dim = 8 * w * block.expansion
        self.fc = nn.Identity()
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def _stage(self, block, planes, n, stride, norm):
        blocks = []
        for i in range(n):
            blocks.append(block(self.cin, planes, stride if i == 0 else 1, norm))
            self.cin = planes * block.expansion
        return nn.Sequential(*blocks)

    def embed(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, x):
        return self.fc(self.embed(x))


def build_encoder(arch, width, in_channels, bn_splits=1):
    """The backbone of a wgrad config: arch 'convnet' | 'resnet18' | 'resnet50'."""
    norm = norm_factory(bn_splits)
    if arch == "convnet":
        return SmallConvNet(width, in_channels, norm)
    if arch == "resnet18":
        return ResNet(BasicBlock, [2, 2, 2, 2], width, in_channels, "cifar", norm)
    if arch == "resnet50":
        return ResNet(Bottleneck, [3, 4, 6, 3], width, in_channels, "imagenet", norm)
    raise ValueError(f"unknown encoder '{arch}' (expected convnet, resnet18 or resnet50)")


# ---- MoCo (builder.py) -------------------------------------------------------------------------

@torch.no_grad()
def concat_all_gather(t):
    if not (dist.is_available() and dist.is_initialized()):
        return t
    out = [torch.empty_like(t) for _ in range(dist.get_world_size())]
    dist.all_gather(out, t)
    return torch.cat(out, 0)


class MoCo(nn.Module):
    """The official MoCo: encoder_q (fc = head), encoder_k, queue [dim, K], queue_ptr. shuffle:
    'ddp' = the paper's shuffle BN across processes, 'local' = permute the local batch (SplitBatchNorm),
    'none'. Unlike the official code, a batch that does not divide K wraps around (as wgrad's KeyQueue)."""

    def __init__(self, make_encoder, dim=128, K=4096, m=0.99, T=0.1, mlp=True):
        super().__init__()
        self.K, self.m, self.T = K, m, T
        self.encoder_q, self.encoder_k = make_encoder(), make_encoder()
        f = self.encoder_q.feature_dim
        for enc in (self.encoder_q, self.encoder_k):
            enc.fc = nn.Sequential(nn.Linear(f, f), nn.ReLU(), nn.Linear(f, dim)) if mlp else nn.Linear(f, dim)
        for pq, pk in zip(self.encoder_q.parameters(), self.encoder_k.parameters()):
            pk.data.copy_(pq.data)
            pk.requires_grad = False
        self.register_buffer("queue", F.normalize(torch.randn(dim, K), dim=0))
        self.register_buffer("queue_ptr", torch.zeros(1, dtype=torch.long))

    @torch.no_grad()
    def _momentum_update_key_encoder(self, m):
        for pq, pk in zip(self.encoder_q.parameters(), self.encoder_k.parameters()):
            pk.data = pk.data * m + pq.data * (1.0 - m)

    @torch.no_grad()
    def _dequeue_and_enqueue(self, keys):
        keys = concat_all_gather(keys)
        B, ptr = keys.shape[0], int(self.queue_ptr)
        first = min(B, self.K - ptr)
        self.queue[:, ptr:ptr + first] = keys[:first].T
        if first < B:
            self.queue[:, :B - first] = keys[first:].T
        self.queue_ptr[0] = (ptr + B) % self.K

    @torch.no_grad()
    def _batch_shuffle_ddp(self, x):
        x_gather = concat_all_gather(x)
        n = x_gather.shape[0] // x.shape[0]
        idx_shuffle = torch.randperm(x_gather.shape[0])
        dist.broadcast(idx_shuffle, src=0)
        idx_unshuffle = torch.argsort(idx_shuffle)
        idx_this = idx_shuffle.view(n, -1)[dist.get_rank()]
        return x_gather[idx_this], idx_unshuffle

    @torch.no_grad()
    def _batch_unshuffle_ddp(self, x, idx_unshuffle):
        x_gather = concat_all_gather(x)
        n = x_gather.shape[0] // x.shape[0]
        return x_gather[idx_unshuffle.view(n, -1)[dist.get_rank()]]

    def forward(self, im_q, im_k, m=None, shuffle="ddp"):
        q = F.normalize(self.encoder_q(im_q), dim=1)
        with torch.no_grad():
            self._momentum_update_key_encoder(self.m if m is None else m)
            if shuffle == "ddp":
                im_k, idx_unshuffle = self._batch_shuffle_ddp(im_k)
                k = self._batch_unshuffle_ddp(F.normalize(self.encoder_k(im_k), dim=1), idx_unshuffle)
            elif shuffle == "local":
                perm = torch.randperm(im_k.shape[0])
                k = F.normalize(self.encoder_k(im_k[perm]), dim=1)[torch.argsort(perm)]
            else:
                k = F.normalize(self.encoder_k(im_k), dim=1)
        l_pos = torch.einsum("nc,nc->n", q, k).unsqueeze(-1)
        l_neg = torch.einsum("nc,ck->nk", q, self.queue.clone().detach())
        logits = torch.cat([l_pos, l_neg], dim=1) / self.T
        labels = torch.zeros(logits.shape[0], dtype=torch.long)
        self._dequeue_and_enqueue(k)
        return logits, labels


def build_moco(cfg, in_channels, bn_splits):
    enc = lambda: build_encoder(cfg["encoder"], cfg["width"], in_channels, bn_splits)
    return MoCo(enc, cfg["dim"], cfg["K"], cfg["m"], cfg["T"], cfg["mlp"])


def in_channels_of(cfg):
    return 3 if cfg["dataset"] == "cifar10" else 1


def momentum_at(m, progress, schedule):
    if schedule != "cosine":
        return m
    return 1 - (1 - m) * (math.cos(math.pi * min(1.0, max(0.0, progress))) + 1) / 2


# ---- names: wgrad checkpoint <-> official main_moco.py checkpoint ------------------------------

def wgrad_to_official(name):
    """query.backbone.X -> module.encoder_q.X, query.head.Y -> module.encoder_q.fc.Y (key: encoder_k)."""
    side, rest = name.split(".", 1)
    enc = {"query": "encoder_q", "key": "encoder_k"}[side]
    if rest.startswith("backbone."):
        return f"module.{enc}.{rest[len('backbone.'):]}"
    if rest.startswith("head."):
        return f"module.{enc}.fc.{rest[len('head.'):]}"
    raise ValueError(f"unexpected wgrad tensor name {name}")


def official_to_wgrad(name):
    """The inverse of wgrad_to_official; None for names wgrad does not keep (num_batches_tracked)."""
    if name.endswith("num_batches_tracked"):
        return None
    parts = name.split(".")
    if parts[0] == "module":
        parts = parts[1:]
    side = {"encoder_q": "query", "encoder_k": "key"}.get(parts[0])
    if side is None:
        raise ValueError(f"unexpected official tensor name {name}")
    rest = ".".join(parts[1:])
    if rest.startswith("fc."):
        return f"{side}.head.{rest[3:]}"
    return f"{side}.backbone.{rest}"


RUN_FORMAT = "wgrad-moco-run/2"


def from_run_format(tensors, meta):
    """A checkpoint in wgrad's library format (`moco.format` wgrad-moco-run/2: method state under
    extra.*, counters in moco.numbers) as the first format's names and keys, which this code reads."""
    opt = json.loads(meta["wgrad.optimizer"])
    numbers = json.loads(meta["moco.numbers"])
    old = {"format": WGRAD_FORMAT, "epoch": meta["wgrad.epoch"], "config": meta["wgrad.config"], "rng": meta["wgrad.rng"],
           "records": meta["moco.records"], "baselines": meta["moco.baselines"], "methodNumbers": meta["moco.numbers"],
           "optimizerGroups": json.dumps(opt["paramGroups"], separators=(",", ":")),
           "optimizerNumbers": json.dumps({i: s for i, s in opt["scalars"].items() if s}, separators=(",", ":"))}
    if "queuePtr" in numbers:
        old["queuePtr"] = str(numbers["queuePtr"])
    return {(k[len("extra."):] if k.startswith("extra.") else k): t for k, t in tensors.items()}, old


def load_wgrad_checkpoint(path):
    tensors, meta = read_safetensors(path)
    if meta.get("moco.format") == RUN_FORMAT:
        tensors, meta = from_run_format(tensors, meta)
    if meta.get("format") != WGRAD_FORMAT:
        raise SystemExit(f"{path}: not a wgrad-moco checkpoint (metadata format {meta.get('format')!r}, "
                         f"expected {WGRAD_FORMAT!r}); write one with `wgrad-moco train --out DIR`")
    return tensors, meta


def wgrad_to_torch_state(tensors, meta):
    """A wgrad-moco checkpoint (tensors, metadata) -> (config, model state_dict, optimizer momentum
    buffers by parameter index, wgrad extras). The names of state_dict are MoCo's (no 'module.')."""
    cfg = json.loads(meta["config"])
    sd = {}
    for name, t in tensors.items():
        if name.startswith(("query.", "key.")):
            sd[wgrad_to_official(name)[len("module."):]] = t
    sd["queue"] = tensors["queue"].T.contiguous()
    numbers = json.loads(meta.get("methodNumbers", "{}"))
    sd["queue_ptr"] = torch.tensor([int(numbers.get("queuePtr", meta.get("queuePtr", 0)))], dtype=torch.long)
    buffers = {}
    for name, t in tensors.items():
        if name.startswith("optimizer."):
            _, i, what = name.split(".")
            if what != "momentumBuffer":
                raise SystemExit(f"optimizer state '{what}' is not SGD's momentum buffer; only SGD runs move to PyTorch")
            buffers[int(i)] = t
    extras = {k: meta[k] for k in ("records", "baselines", "rng", "optimizerGroups", "optimizerNumbers") if k in meta}
    return cfg, sd, buffers, extras


def add_num_batches_tracked(model, sd, count):
    for name, b in model.state_dict().items():
        if name.endswith("num_batches_tracked") and name not in sd:
            sd[name] = torch.tensor(count, dtype=torch.long)
    return sd


def torch_to_wgrad(model_sd, optimizer_sd, epoch, wgrad_meta):
    """(official state_dict, optimizer state_dict, epoch, the checkpoint's 'wgrad' entry) -> the tensors
    and metadata of a wgrad-moco checkpoint that `wgrad-moco train --resume` and `evaluate` read."""
    tensors = {}
    for name, t in model_sd.items():
        short = name[len("module."):] if name.startswith("module.") else name
        if short == "queue":
            tensors["queue"] = t.T.contiguous().float()
        elif short == "queue_ptr":
            ptr = int(t.view(-1)[0])
        else:
            w = official_to_wgrad(name)
            if w is not None:
                tensors[w] = t.float()
    for i, st in optimizer_sd["state"].items():
        if "momentum_buffer" in st and st["momentum_buffer"] is not None:
            tensors[f"optimizer.{int(i)}.momentumBuffer"] = st["momentum_buffer"].float()
    n_query = sum(1 for k in tensors if k.startswith("query.") and not _is_buffer(k))
    groups = json.loads(wgrad_meta.get("optimizerGroups", "[]"))
    pg = optimizer_sd["param_groups"][0]
    hyper = {"lr": pg["lr"], "momentum": pg["momentum"], "dampening": pg["dampening"],
             "nesterov": pg["nesterov"], "weightDecay": pg["weight_decay"]}
    if groups:
        groups = [{**g, **hyper} for g in groups]
    else:
        groups = [{**hyper, "params": list(range(n_query))}]
    meta = {
        "format": WGRAD_FORMAT,
        "epoch": str(epoch),
        "methodNumbers": json.dumps({"queuePtr": ptr}, separators=(",", ":")),
        "records": wgrad_meta.get("records", "[]"),
        "baselines": wgrad_meta.get("baselines", "{}"),
        "config": wgrad_meta["config"],
        "optimizerGroups": json.dumps(groups, separators=(",", ":")),
        "optimizerNumbers": wgrad_meta.get("optimizerNumbers", "{}"),
        "rng": wgrad_meta["rng"],
    }
    return tensors, meta


def _is_buffer(name):
    return name.endswith(("running_mean", "running_var"))


# ---- data (the same files and subsets as wgrad's CLI) ------------------------------------------

def _mulberry32(seed):
    s = seed & 0xFFFFFFFF

    def imul(a, b):
        return (a * b) & 0xFFFFFFFF

    def rand():
        nonlocal s
        s = (s + 0x6D2B79F5) & 0xFFFFFFFF
        t = s
        t = imul(t ^ (t >> 15), t | 1)
        t ^= (t + imul(t ^ (t >> 7), t | 61)) & 0xFFFFFFFF
        return ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296
    return rand


def subset_indices(count, n, seed):
    """src/data/dataset.ts subset(): a partial Fisher-Yates with mulberry32, sorted."""
    rand = _mulberry32(seed)
    perm = list(range(count))
    for i in range(n):
        j = i + int(rand() * (count - i))
        perm[i], perm[j] = perm[j], perm[i]
    return sorted(perm[:n])


def _read_idx(path):
    raw = gzip.open(path).read() if path.endswith(".gz") else open(path, "rb").read()
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_dataset(cfg, split):
    """uint8 images [N, 1, H, W] and labels of the config's dataset (idx files), subset as wgrad does."""
    if cfg["dataset"] not in ("fashion-mnist", "mnist"):
        raise SystemExit(f"dataset {cfg['dataset']}: the PyTorch script reads the IDX datasets (fashion-mnist, mnist)")
    d = cfg.get("dataDir") or ("/usr/share/datasets/fashion-mnist/" if cfg["dataset"] == "fashion-mnist" else "")
    if not d:
        raise SystemExit("mnist: pass --data-dir, the folder of the IDX files")
    prefix = "train" if split == "train" else "t10k"

    def find(base):
        for name in (base, base + ".gz", base.replace("-idx", ".idx"), base.replace("-idx", ".idx") + ".gz"):
            if os.path.exists(os.path.join(d, name)):
                return os.path.join(d, name)
        raise SystemExit(f"{base} not found in {d}")
    images = _read_idx(find(f"{prefix}-images-idx3-ubyte"))
    labels = _read_idx(find(f"{prefix}-labels-idx1-ubyte"))
    size = cfg["trainSize"] if split == "train" else cfg["testSize"]
    if 0 < size < len(images):
        idx = subset_indices(len(images), size, cfg["seed"] + (1 if split == "train" else 2))
        images, labels = images[idx], labels[idx]
    return torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))

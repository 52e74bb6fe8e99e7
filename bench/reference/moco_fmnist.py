#!/usr/bin/python3
"""PyTorch reference run of MoCo (He et al. 2020, arXiv 1911.05722; MoCo v2
arXiv 2003.04297) on Fashion-MNIST -- the run that wgrad is compared against.

Self-contained: torch + numpy only (no torchvision, no network). Reads
/usr/share/datasets/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz.

Semantics follow the official facebookresearch/moco `moco/builder.py`:
  * query encoder f_q (SGD) and key encoder f_k (no grad), f_k starts as an
    exact copy of f_q (parameters AND buffers);
  * momentum update theta_k <- m*theta_k + (1-m)*theta_q over *parameters*
    only, every step, before the keys are computed (BN running stats of f_k
    come from its own forward passes);
  * both encoders are in train mode during training (BN uses batch stats);
  * q = normalize(f_q(x_q)), k = normalize(f_k(x_k)) (no grad);
    l_pos = q.k (N x 1), l_neg = q @ queue (N x K), logits = [l_pos, l_neg]/T,
    cross-entropy with target 0; pretext accuracy = argmax == 0;
  * queue: dim x K, randn then L2-normalised along dim, pointer; enqueue
    AFTER the loss: queue[:, ptr:ptr+B] = k.T, ptr = (ptr+B) % K. Batches are
    drop_last so every batch has B keys; if K % B != 0 the write wraps around
    (indices taken modulo K) instead of asserting;
  * shuffle BN on one device: the key batch is permuted before f_k and the
    keys are un-permuted afterwards (so f_k's BN batch statistics are
    computed on the same *set* of images but the order differs -- on a
    single device this is the official "batch shuffle"; it only matters
    when combined with split BN, see --bn-splits);
  * SGD(lr, momentum 0.9, weight decay on all f_q parameters incl. BN and
    biases, as in main_moco.py), per-epoch cosine schedule
    lr_e = lr * 0.5 * (1 + cos(pi * e / epochs)), set at the start of epoch e.

Note on single-device shuffle BN: with one BN over the whole batch, permuting
the batch does not change BN statistics at all, so it is a no-op numerically
(up to float summation order). The Colab demo therefore combines the shuffle
with SplitBatchNorm. --bn-splits S (default 1 = plain BN, the configuration
asked for) splits BN into S groups in *both* encoders (the Colab's
SplitBatchNorm: train-mode statistics per group of B/S images, running stats
averaged over groups); with S > 1 the shuffle really decorrelates the key BN
statistics from the query's.

Encoder (width w = 32 by default): bias-free conv3x3(pad 1) + BN + ReLU blocks
  1 -> w -> w -> maxpool2 -> 2w -> 2w -> maxpool2 -> 4w, global average pool
  -> 4w-d backbone features (128 for w=32);
head (MoCo v2 style, --mlp 1): Linear(4w,4w) -> ReLU -> Linear(4w,dim)
(with biases, like the official MLP); --mlp 0: Linear(4w, dim).
All initialisations are PyTorch defaults (conv/linear: kaiming_uniform(a=sqrt(5)),
bias U(+-1/sqrt(fan_in)); BN weight 1, bias 0).

Augmentation, per image, two independent views, batched in torch:
  1. RandomResizedCrop(28, scale (0.2, 1), ratio (3/4, 4/3), bilinear) with
     torchvision's get_params semantics: up to 10 attempts of
     (area ~ U(scale)*784, log-ratio ~ U(log 3/4, log 4/3), w = round(sqrt(a*r)),
     h = round(sqrt(a/r)), accept if 0<w<=28 and 0<h<=28, then
     i ~ randint(0, 28-h+1), j ~ randint(0, 28-w+1)); otherwise the central
     fallback (ratio 1 is inside the range, so the full 28x28 image).
     The crop+resize is F.affine_grid + F.grid_sample(bilinear,
     align_corners=False, padding_mode='border') with
     theta = [[w/28, 0, (2j+w)/28-1], [0, h/28, (2i+h)/28-1]], i.e. output pixel
     centres map exactly onto torchvision's resize(crop) source coordinates
     (F.interpolate(crop, 28, bilinear, align_corners=False, no antialias));
     the grid is then clamped to the crop's outer pixel centres, so the
     up-sampled crop borders replicate the crop's edge pixels exactly as
     interpolate() on the cropped tensor does (checked: max abs diff ~2e-6).
  2. horizontal flip with p = 0.5;
  3. with p = 0.8, ColorJitter(brightness 0.4, contrast 0.4): factors
     b, c ~ U(0.6, 1.4), applied in a random order (torchvision randomises the
     order per call); brightness: clamp(x*b, 0, 1); contrast:
     clamp(c*x + (1-c)*mean(x), 0, 1) where mean(x) is the image's mean gray
     value (computed on the current, possibly already brightness-adjusted image).
  No grayscale (images are already gray), no blur.
NORMALISATION: none -- pixels are only scaled to [0, 1] (uint8 / 255), for
training views and for the kNN monitor alike. (--normalize 1 switches to a
fixed mean/std 0.2860/0.3530 for both.)

kNN monitor (Colab / lightly / solo-learn protocol), after every epoch:
backbone features (before the head) of the *query* encoder in eval mode (BN
uses running stats), L2-normalised, of the 60000 train images and the 10000
test images (no augmentation); cosine similarity, top k=200, weights
exp(sim/0.1), weighted class vote, top-1 in %. Baselines printed once: kNN on
raw pixels (flattened, L2-normalised) and on the randomly initialised encoder
(the query encoder before training, eval mode, i.e. BN with its initial running
stats mean 0 / var 1).
"""

import argparse
import gzip
import json
import math
import os
import platform
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA_DIR = "/usr/share/datasets/fashion-mnist"
FMNIST_MEAN, FMNIST_STD = 0.2860, 0.3530


# ----------------------------------------------------------------------------
# data
# ----------------------------------------------------------------------------
def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    ndim = magic & 0xFF
    dtype_code = (magic >> 8) & 0xFF
    assert dtype_code == 0x08, "expected uint8 IDX data"
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    return arr.reshape(shape)


def load_fmnist(data_dir):
    def imgs(name):
        a = read_idx(os.path.join(data_dir, f"{name}-images-idx3-ubyte.gz"))
        return torch.from_numpy(a.astype(np.float32) / 255.0).unsqueeze(1)  # N,1,28,28

    def labels(name):
        a = read_idx(os.path.join(data_dir, f"{name}-labels-idx1-ubyte.gz"))
        return torch.from_numpy(a.astype(np.int64))

    return imgs("train"), labels("train"), imgs("t10k"), labels("t10k")


# ----------------------------------------------------------------------------
# augmentation (batched)
# ----------------------------------------------------------------------------
def random_resized_crop_params(n, H, W, scale=(0.2, 1.0), ratio=(3 / 4, 4 / 3), attempts=10):
    """torchvision.transforms.RandomResizedCrop.get_params, vectorised over n
    images: returns integer tensors i, j, h, w (each shape [n])."""
    area = float(H * W)
    target_area = area * torch.empty(n, attempts).uniform_(scale[0], scale[1])
    log_r = torch.empty(n, attempts).uniform_(math.log(ratio[0]), math.log(ratio[1]))
    aspect = torch.exp(log_r)
    w = torch.round(torch.sqrt(target_area * aspect))
    h = torch.round(torch.sqrt(target_area / aspect))
    ok = (w > 0) & (w <= W) & (h > 0) & (h <= H)
    # first successful attempt per image
    any_ok = ok.any(dim=1)
    first = torch.argmax(ok.to(torch.int64), dim=1)  # 0 if none
    w = w.gather(1, first[:, None]).squeeze(1).to(torch.int64)
    h = h.gather(1, first[:, None]).squeeze(1).to(torch.int64)
    # fallback: central crop
    in_ratio = W / H
    if in_ratio < min(ratio):
        fw, fh = W, int(round(W / min(ratio)))
    elif in_ratio > max(ratio):
        fh, fw = H, int(round(H * max(ratio)))
    else:
        fw, fh = W, H
    w = torch.where(any_ok, w, torch.full_like(w, fw))
    h = torch.where(any_ok, h, torch.full_like(h, fh))
    # i ~ randint(0, H-h+1), j ~ randint(0, W-w+1)
    u_i = torch.rand(n)
    u_j = torch.rand(n)
    i = torch.floor(u_i * (H - h + 1).to(torch.float32)).to(torch.int64).clamp(max=H - 1)
    j = torch.floor(u_j * (W - w + 1).to(torch.float32)).to(torch.int64).clamp(max=W - 1)
    i = torch.minimum(i, H - h)
    j = torch.minimum(j, W - w)
    fi, fj = (H - fh) // 2, (W - fw) // 2
    i = torch.where(any_ok, i, torch.full_like(i, fi))
    j = torch.where(any_ok, j, torch.full_like(j, fj))
    return i, j, h, w


def augment(x, out_size=28, jitter_p=0.8, brightness=0.4, contrast=0.4, flip_p=0.5):
    """x: [N,1,H,W] in [0,1]. Returns one augmented view, [N,1,out,out]."""
    n, c, H, W = x.shape
    i, j, h, w = random_resized_crop_params(n, H, W)
    i, j, h, w = (t.to(torch.float32) for t in (i, j, h, w))
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = w / W
    theta[:, 0, 2] = (2 * j + w) / W - 1
    theta[:, 1, 1] = h / H
    theta[:, 1, 2] = (2 * i + h) / H - 1
    # horizontal flip: negate the x axis of the output grid
    flip = torch.rand(n) < flip_p
    theta[:, 0, 0] = torch.where(flip, -theta[:, 0, 0], theta[:, 0, 0])
    grid = F.affine_grid(theta, [n, c, out_size, out_size], align_corners=False)
    # clamp sample points to the crop's outer pixel centres, like interpolate()
    # on the cropped tensor does (makes the result match torchvision exactly)
    lo_x = ((2 * j + 1) / W - 1).view(n, 1, 1)
    hi_x = ((2 * (j + w - 1) + 1) / W - 1).view(n, 1, 1)
    lo_y = ((2 * i + 1) / H - 1).view(n, 1, 1)
    hi_y = ((2 * (i + h - 1) + 1) / H - 1).view(n, 1, 1)
    grid = torch.stack([torch.maximum(torch.minimum(grid[..., 0], hi_x), lo_x),
                        torch.maximum(torch.minimum(grid[..., 1], hi_y), lo_y)], dim=-1)
    y = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

    # colour jitter (gray images): brightness and contrast in random order
    apply = (torch.rand(n) < jitter_p).view(n, 1, 1, 1)
    b = torch.empty(n).uniform_(1 - brightness, 1 + brightness).view(n, 1, 1, 1)
    cf = torch.empty(n).uniform_(1 - contrast, 1 + contrast).view(n, 1, 1, 1)
    b_first = (torch.rand(n) < 0.5).view(n, 1, 1, 1)

    def bright(z):
        return (z * b).clamp(0, 1)

    def contr(z):
        m = z.mean(dim=(1, 2, 3), keepdim=True)
        return (cf * z + (1 - cf) * m).clamp(0, 1)

    y_bc = contr(bright(y))
    y_cb = bright(contr(y))
    yj = torch.where(b_first, y_bc, y_cb)
    return torch.where(apply, yj, y)


# ----------------------------------------------------------------------------
# model
# ----------------------------------------------------------------------------
class SplitBatchNorm(nn.BatchNorm2d):
    """The MoCo CIFAR-10 Colab's SplitBatchNorm (num_splits=1 == BatchNorm2d)."""

    def __init__(self, num_features, num_splits, **kw):
        super().__init__(num_features, **kw)
        self.num_splits = num_splits

    def forward(self, input):
        N, C, H, W = input.shape
        if self.training and self.num_splits > 1:
            S = self.num_splits
            running_mean_split = self.running_mean.repeat(S)
            running_var_split = self.running_var.repeat(S)
            outcome = F.batch_norm(
                input.view(-1, C * S, H, W), running_mean_split, running_var_split,
                self.weight.repeat(S), self.bias.repeat(S),
                True, self.momentum, self.eps).view(N, C, H, W)
            self.running_mean.data.copy_(running_mean_split.view(S, C).mean(dim=0))
            self.running_var.data.copy_(running_var_split.view(S, C).mean(dim=0))
            return outcome
        return super().forward(input)


def conv_bn_relu(cin, cout, bn_splits):
    bn = SplitBatchNorm(cout, bn_splits) if bn_splits > 1 else nn.BatchNorm2d(cout)
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), bn, nn.ReLU(inplace=True))


class Encoder(nn.Module):
    def __init__(self, width=32, dim=128, mlp=True, bn_splits=1, in_ch=1):
        super().__init__()
        w = width
        self.backbone = nn.Sequential(
            conv_bn_relu(in_ch, w, bn_splits),
            conv_bn_relu(w, w, bn_splits),
            nn.MaxPool2d(2),
            conv_bn_relu(w, 2 * w, bn_splits),
            conv_bn_relu(2 * w, 2 * w, bn_splits),
            nn.MaxPool2d(2),
            conv_bn_relu(2 * w, 4 * w, bn_splits),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        feat = 4 * w
        self.feat_dim = feat
        if mlp:
            self.head = nn.Sequential(nn.Linear(feat, feat), nn.ReLU(inplace=True), nn.Linear(feat, dim))
        else:
            self.head = nn.Linear(feat, dim)

    def forward(self, x):
        return self.head(self.backbone(x))


class MoCo(nn.Module):
    def __init__(self, width, dim, K, m, T, mlp, bn_splits, shuffle_bn):
        super().__init__()
        self.K, self.m, self.T, self.shuffle_bn = K, m, T, shuffle_bn
        self.encoder_q = Encoder(width, dim, mlp, bn_splits)
        self.encoder_k = Encoder(width, dim, mlp, bn_splits)
        self.encoder_k.load_state_dict(self.encoder_q.state_dict())  # exact copy (params + buffers)
        for p in self.encoder_k.parameters():
            p.requires_grad = False
        self.register_buffer("queue", F.normalize(torch.randn(dim, K), dim=0))
        self.register_buffer("queue_ptr", torch.zeros(1, dtype=torch.long))

    @torch.no_grad()
    def _momentum_update_key_encoder(self):
        for pq, pk in zip(self.encoder_q.parameters(), self.encoder_k.parameters()):
            pk.data.mul_(self.m).add_(pq.data, alpha=1.0 - self.m)

    @torch.no_grad()
    def _dequeue_and_enqueue(self, keys):
        B = keys.shape[0]
        ptr = int(self.queue_ptr)
        idx = (ptr + torch.arange(B)) % self.K  # wraps if K % B != 0
        self.queue[:, idx] = keys.T
        self.queue_ptr[0] = (ptr + B) % self.K

    def forward(self, im_q, im_k):
        q = F.normalize(self.encoder_q(im_q), dim=1)
        with torch.no_grad():
            self._momentum_update_key_encoder()
            if self.shuffle_bn:
                idx_shuffle = torch.randperm(im_k.shape[0])
                idx_unshuffle = torch.argsort(idx_shuffle)
                k = F.normalize(self.encoder_k(im_k[idx_shuffle]), dim=1)[idx_unshuffle]
            else:
                k = F.normalize(self.encoder_k(im_k), dim=1)
        l_pos = torch.einsum("nc,nc->n", q, k).unsqueeze(-1)
        l_neg = torch.einsum("nc,ck->nk", q, self.queue.clone().detach())
        logits = torch.cat([l_pos, l_neg], dim=1) / self.T
        labels = torch.zeros(logits.shape[0], dtype=torch.long)
        return logits, labels, k


# ----------------------------------------------------------------------------
# kNN monitor
# ----------------------------------------------------------------------------
@torch.no_grad()
def extract_features(backbone, x, batch=256, norm=None):
    was_training = backbone.training
    backbone.eval()
    feats = []
    for s in range(0, x.shape[0], batch):
        xb = x[s:s + batch]
        if norm is not None:
            xb = (xb - norm[0]) / norm[1]
        feats.append(F.normalize(backbone(xb), dim=1))
    backbone.train(was_training)
    return torch.cat(feats)


@torch.no_grad()
def knn_top1(train_f, train_y, test_f, test_y, k=200, t=0.1, classes=10, chunk=500):
    """Colab knn_predict: cosine sim, top-k, weights exp(sim/t), weighted vote."""
    k = min(k, train_f.shape[0])
    correct = 0
    for s in range(0, test_f.shape[0], chunk):
        f = test_f[s:s + chunk]
        sim = f @ train_f.T  # [b, N]
        sim_w, sim_i = sim.topk(k=k, dim=-1)
        sim_labels = train_y[sim_i]  # [b, k]
        sim_w = (sim_w / t).exp()
        one_hot = torch.zeros(f.shape[0] * k, classes)
        one_hot.scatter_(1, sim_labels.reshape(-1, 1), 1.0)
        scores = (one_hot.view(f.shape[0], k, classes) * sim_w.unsqueeze(-1)).sum(dim=1)
        pred = scores.argmax(dim=1)
        correct += (pred == test_y[s:s + chunk]).sum().item()
    return 100.0 * correct / test_f.shape[0]


# ----------------------------------------------------------------------------
# main
# ----------------------------------------------------------------------------
def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data-dir", default=DATA_DIR)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--K", type=int, default=4096, help="queue size")
    p.add_argument("--m", type=float, default=0.99, help="key-encoder momentum")
    p.add_argument("--T", type=float, default=0.1, help="softmax temperature")
    p.add_argument("--lr", type=float, default=0.06)
    p.add_argument("--momentum", type=float, default=0.9, help="SGD momentum")
    p.add_argument("--wd", type=float, default=5e-4)
    p.add_argument("--cos", type=int, default=1, help="per-epoch cosine lr schedule (1/0)")
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--mlp", type=int, default=1, help="MLP head (1) or linear head (0)")
    p.add_argument("--shuffle-bn", type=int, default=1, help="batch shuffle for the key encoder (1/0)")
    p.add_argument("--bn-splits", type=int, default=1, help="SplitBatchNorm groups (1 = plain BN)")
    p.add_argument("--train-subset", type=int, default=0, help="use the first N train images (0 = all 60000)")
    p.add_argument("--knn-k", type=int, default=200)
    p.add_argument("--knn-t", type=float, default=0.1)
    p.add_argument("--knn-every", type=int, default=1, help="run the kNN monitor every N epochs (0 = never)")
    p.add_argument("--knn-train", type=int, default=0, help="kNN bank = first N train images (0 = all 60000; smoke tests only)")
    p.add_argument("--knn-test", type=int, default=0, help="kNN queries = first N test images (0 = all 10000; smoke tests only)")
    p.add_argument("--normalize", type=int, default=0, help="0: [0,1] pixels; 1: fixed mean/std 0.2860/0.3530")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--log-every", type=int, default=20)
    p.add_argument("--json", default=None, help="write results to this JSON file")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    t_start = time.time()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, python {platform.python_version()}, "
          f"{platform.machine()} cpus {os.cpu_count()}", flush=True)
    print("config:", json.dumps(vars(args)), flush=True)

    xtr, ytr, xte, yte = load_fmnist(args.data_dir)
    xtrain = xtr[:args.train_subset] if args.train_subset > 0 else xtr
    if args.knn_train > 0:
        xtr, ytr = xtr[:args.knn_train], ytr[:args.knn_train]
    if args.knn_test > 0:
        xte, yte = xte[:args.knn_test], yte[:args.knn_test]
    n_train = xtrain.shape[0]
    norm = (FMNIST_MEAN, FMNIST_STD) if args.normalize else None
    print(f"data: training on {n_train} images; kNN bank {tuple(xtr.shape)}, kNN queries {tuple(xte.shape)}", flush=True)

    model = MoCo(args.width, args.dim, args.K, args.m, args.T, bool(args.mlp), args.bn_splits, bool(args.shuffle_bn))
    n_params = sum(p.numel() for p in model.encoder_q.parameters())
    print(f"encoder params: {n_params}, backbone feature dim {model.encoder_q.feat_dim}, "
          f"chance loss ln(K+1) = {math.log(args.K + 1):.3f}", flush=True)
    optimizer = torch.optim.SGD([p for p in model.encoder_q.parameters()], lr=args.lr,
                                momentum=args.momentum, weight_decay=args.wd)

    # ---- baselines (kNN on the full train set, as the monitor) ----
    results = {"config": vars(args), "torch_version": torch.__version__,
               "threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
               "platform": platform.platform(), "encoder_params": n_params,
               "baselines": {}, "epochs": []}
    if args.knn_every > 0:
        t0 = time.time()
        px_tr = F.normalize(xtr.flatten(1), dim=1)
        px_te = F.normalize(xte.flatten(1), dim=1)
        acc_px = knn_top1(px_tr, ytr, px_te, yte, args.knn_k, args.knn_t)
        t1 = time.time()
        f_tr = extract_features(model.encoder_q.backbone, xtr, norm=norm)
        f_te = extract_features(model.encoder_q.backbone, xte, norm=norm)
        acc_rand = knn_top1(f_tr, ytr, f_te, yte, args.knn_k, args.knn_t)
        t2 = time.time()
        print(f"baseline kNN top-1: raw pixels {acc_px:.2f}% ({t1 - t0:.1f}s), "
              f"random-init encoder {acc_rand:.2f}% ({t2 - t1:.1f}s)", flush=True)
        results["baselines"] = {"knn_raw_pixels": acc_px, "knn_random_encoder": acc_rand,
                                "raw_pixels_time_s": t1 - t0, "random_encoder_time_s": t2 - t1}

    steps_per_epoch = n_train // args.batch  # drop_last
    assert steps_per_epoch > 0, "train subset smaller than one batch"
    if args.K % args.batch != 0:
        print(f"note: K % batch != 0, enqueue wraps around the queue", flush=True)
    model.train()
    train_time = 0.0
    for epoch in range(args.epochs):
        lr = args.lr * 0.5 * (1.0 + math.cos(math.pi * epoch / args.epochs)) if args.cos else args.lr
        for g in optimizer.param_groups:
            g["lr"] = lr
        perm = torch.randperm(n_train)
        t_ep = time.time()
        t_win, n_win = time.time(), 0
        loss_sum, acc_sum = 0.0, 0.0
        for step in range(steps_per_epoch):
            idx = perm[step * args.batch:(step + 1) * args.batch]
            x = xtrain[idx]
            with torch.no_grad():
                im_q = augment(x)
                im_k = augment(x)
                if norm is not None:
                    im_q = (im_q - norm[0]) / norm[1]
                    im_k = (im_k - norm[0]) / norm[1]
            logits, labels, k = model(im_q, im_k)
            loss = F.cross_entropy(logits, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            model._dequeue_and_enqueue(k)
            acc = (logits.argmax(dim=1) == 0).float().mean().item()
            lv = loss.item()
            loss_sum += lv
            acc_sum += acc
            n_win += x.shape[0]
            if (step + 1) % args.log_every == 0 or step + 1 == steps_per_epoch:
                now = time.time()
                print(f"epoch {epoch + 1}/{args.epochs} step {step + 1}/{steps_per_epoch} lr {lr:.4f} "
                      f"loss {lv:.4f} acc {100 * acc:.2f}% {n_win / (now - t_win):.1f} img/s", flush=True)
                t_win, n_win = now, 0
        ep_time = time.time() - t_ep
        train_time += ep_time
        rec = {"epoch": epoch + 1, "lr": lr, "loss": loss_sum / steps_per_epoch,
               "pretext_acc": 100 * acc_sum / steps_per_epoch, "last_loss": lv,
               "wall_s": ep_time, "images_per_s": steps_per_epoch * args.batch / ep_time}
        if args.knn_every > 0 and ((epoch + 1) % args.knn_every == 0 or epoch + 1 == args.epochs):
            t0 = time.time()
            f_tr = extract_features(model.encoder_q.backbone, xtr, norm=norm)
            f_te = extract_features(model.encoder_q.backbone, xte, norm=norm)
            rec["knn_top1"] = knn_top1(f_tr, ytr, f_te, yte, args.knn_k, args.knn_t)
            rec["knn_wall_s"] = time.time() - t0
        results["epochs"].append(rec)
        print(f"== epoch {epoch + 1}: loss {rec['loss']:.4f} pretext acc {rec['pretext_acc']:.2f}% "
              f"kNN top-1 {rec.get('knn_top1', float('nan')):.2f}% train {ep_time:.1f}s "
              f"({rec['images_per_s']:.1f} img/s) kNN {rec.get('knn_wall_s', 0):.1f}s", flush=True)
        if args.json:
            results["total_wall_s"] = time.time() - t_start
            results["train_wall_s"] = train_time
            results["finished"] = epoch + 1 == args.epochs
            with open(args.json + ".tmp", "w") as f:
                json.dump(results, f, indent=2)
            os.replace(args.json + ".tmp", args.json)

    total = time.time() - t_start
    results["total_wall_s"] = total
    results["train_wall_s"] = train_time
    results["finished"] = True
    print(f"done: total wall {total:.1f}s (training {train_time:.1f}s)", flush=True)
    if args.json:
        with open(args.json + ".tmp", "w") as f:
            json.dump(results, f, indent=2)
        os.replace(args.json + ".tmp", args.json)


if __name__ == "__main__":
    sys.exit(main())

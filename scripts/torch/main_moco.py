"""MoCo v2 training in PyTorch (after facebookresearch/moco main_moco.py) for wgrad's encoders,
continuing a run exported from wgrad (convert.py export), on one process or many:

  torchrun --nproc_per_node 2 scripts/torch/main_moco.py --resume run.pth.tar --epochs 20 --out runs/ddp
      (gloo on CPU, NCCL on GPUs); the config (encoder, K, m, T, lr, batch, data) is the wgrad run's.
  python3 scripts/torch/main_moco.py --resume run.pth.tar --fixed-batch views.safetensors --out DIR
      one step on a given batch (tensors xq, xk), no shuffle, no augmentation: the cross-check with wgrad.

The checkpoint (OUT/checkpoint.pth.tar, written each epoch) has the official layout and imports
back into wgrad with convert.py import. The global batch is split across processes; BatchNorm is
per process (SplitBatchNorm with --bn-splits groups inside a process), keys shuffled across
processes (the paper's shuffle BN)."""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F

import wgrad_torch as wt


def augment(x, cfg, gen):
    """wgrad's augmentation sets on [B, 1, H, W] in [0, 1]: RandomResizedCrop(scale cropMin..1) + flip,
    ColorJitter brightness/contrast 0.4 (p 0.8 for v2, 1 for v1), in wgrad's fixed order."""
    if cfg["aug"] == "none":
        return x
    B, C, H, W = x.shape
    out = torch.empty_like(x)
    u = lambda: float(torch.rand(1, generator=gen))
    for i in range(B):
        top, left, h, w = 0, 0, H, W
        for _ in range(10):  # torchvision's RandomResizedCrop.get_params
            area = H * W * (cfg["cropMin"] + u() * (1 - cfg["cropMin"]))
            ratio = math.exp(math.log(3 / 4) + u() * (math.log(4 / 3) - math.log(3 / 4)))
            cw, ch = round(math.sqrt(area * ratio)), round(math.sqrt(area / ratio))
            if 0 < cw <= W and 0 < ch <= H:
                top, left, h, w = int(u() * (H - ch + 1)), int(u() * (W - cw + 1)), ch, cw
                break
        v = F.interpolate(x[i:i + 1, :, top:top + h, left:left + w], size=(H, W), mode="bilinear", align_corners=False)
        if u() < 0.5:
            v = v.flip(3)
        if cfg["aug"] in ("v1", "v2") and u() < (1.0 if cfg["aug"] == "v1" else 0.8):
            v = (v * (0.6 + 0.8 * u())).clamp(0, 1)
            mean = v.mean()
            v = ((v - mean) * (0.6 + 0.8 * u()) + mean).clamp(0, 1)
        out[i] = v[0]
    return out


def features(encoder, images, batch=500):
    encoder.eval()
    with torch.no_grad():
        f = torch.cat([encoder.embed(images[s:s + batch].float() / 255) for s in range(0, len(images), batch)])
    encoder.train()
    return F.normalize(f, dim=1)


def knn_top1(train_f, train_y, test_f, test_y, k=200, t=0.1, classes=10):
    """Weighted kNN (InstDisc), as wgrad's knnAccuracy: votes exp(sim / t) of the k nearest."""
    sim = test_f @ train_f.T
    w, idx = sim.topk(min(k, len(train_f)), dim=1)
    votes = torch.zeros(len(test_f), classes).scatter_add_(1, train_y[idx], (w / t).exp())
    return 100.0 * (votes.argmax(1) == test_y).float().mean().item()


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--resume", required=True, help="checkpoint.pth.tar (convert.py export, or this script's)")
    p.add_argument("--out", required=True, help="output folder (checkpoint.pth.tar, log.jsonl)")
    p.add_argument("--epochs", type=int, default=0, help="train until this epoch (default: the run's --epochs)")
    p.add_argument("--max-steps", type=int, default=0, help="stop each epoch after this many steps (0 = all)")
    p.add_argument("--bn-splits", type=int, default=0, help="SplitBatchNorm groups per process (default: the run's / processes)")
    p.add_argument("--shuffle", choices=["ddp", "local", "none"], default="", help="key shuffle (default: ddp with >1 process)")
    p.add_argument("--fixed-batch", default="", help="safetensors with xq, xk: one step on them, no shuffle, no augmentation")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads per process (0 = torch's default)")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1:
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    torch.manual_seed(a.seed + rank)

    ckpt = torch.load(a.resume, map_location="cpu")
    wmeta = ckpt["wgrad"]
    cfg = json.loads(wmeta["config"])
    if cfg["batch"] % world:
        raise SystemExit(f"--batch {cfg['batch']} of the run does not split over {world} processes")
    splits = a.bn_splits or (max(1, cfg["bnSplits"] // world) if cfg["shuffleBn"] == "split" else 1)
    shuffle = "none" if a.fixed_batch else (a.shuffle or ("ddp" if world > 1 else ("local" if cfg["shuffleBn"] != "none" else "none")))
    model = wt.build_moco(cfg, wt.in_channels_of(cfg), splits)
    model.load_state_dict({k[len("module."):]: v for k, v in ckpt["state_dict"].items()}, strict=True)
    opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=0.9, weight_decay=cfg["wd"])
    opt.load_state_dict(ckpt["optimizer"])
    ddp = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    criterion = torch.nn.CrossEntropyLoss()
    epoch0, records = ckpt["epoch"], json.loads(wmeta.get("records", "[]"))
    os.makedirs(a.out, exist_ok=True)

    def save(epoch):
        if rank != 0:
            return
        wm = {**wmeta, "records": json.dumps(records, separators=(",", ":"))}
        state = {"epoch": epoch, "arch": cfg["encoder"], "state_dict": {f"module.{k}": v for k, v in model.state_dict().items()},
                 "optimizer": opt.state_dict(), "wgrad": wm}
        tmp = os.path.join(a.out, f"checkpoint.pth.tar.tmp-{os.getpid()}")
        torch.save(state, tmp)
        os.replace(tmp, os.path.join(a.out, "checkpoint.pth.tar"))

    if a.fixed_batch:
        views, _ = wt.read_safetensors(a.fixed_batch)
        output, target = ddp(views["xq"], views["xk"], m=cfg["m"], shuffle="none")
        loss = criterion(output, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        save(epoch0)
        acc = (output.argmax(1) == 0).float().mean().item()
        print(json.dumps({"loss": loss.item(), "accuracy": acc}))
        return

    train_x, train_y = wt.load_dataset(cfg, "train")
    test_x, test_y = wt.load_dataset(cfg, "test") if rank == 0 else (None, None)
    epochs = a.epochs or cfg["epochs"]
    steps = len(train_x) // cfg["batch"]
    local = cfg["batch"] // world
    gen = torch.Generator().manual_seed(a.seed * 1000 + rank)
    if rank == 0:
        print(f"main_moco.py: {world} process(es), {cfg['encoder']} width {cfg['width']}, batch {cfg['batch']} "
              f"({local} per process), BN groups per process {splits}, shuffle {shuffle}, epochs {epoch0} -> {epochs}")
    for epoch in range(epoch0, epochs):
        lr = cfg["lr"] * 0.5 * (1 + math.cos(math.pi * epoch / cfg["epochs"])) if cfg["cosine"] else cfg["lr"]
        for g in opt.param_groups:
            g["lr"] = lr
        order = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(a.seed * 7919 + epoch))
        n_steps = min(steps, a.max_steps) if a.max_steps else steps
        t0, loss_sum, acc_sum = time.time(), torch.zeros(()), torch.zeros(())
        for step in range(n_steps):
            idx = order[step * cfg["batch"] + rank * local: step * cfg["batch"] + (rank + 1) * local]
            x = train_x[idx].float() / 255
            progress = (epoch * steps + step) / (cfg["epochs"] * steps)
            m = wt.momentum_at(cfg["m"], progress, cfg.get("momentumSchedule", "constant"))
            output, target = ddp(augment(x, cfg, gen), augment(x, cfg, gen), m=m, shuffle=shuffle)
            loss = criterion(output, target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += loss.detach()
            acc_sum += (output.argmax(1) == 0).float().mean()
        if world > 1:
            for t in (loss_sum, acc_sum):
                dist.all_reduce(t)
                t /= world
        seconds = time.time() - t0
        if rank == 0:
            knn = knn_top1(features(model.encoder_q, train_x), train_y, features(model.encoder_q, test_x), test_y,
                           cfg["knnK"], cfg["knnT"], int(train_y.max()) + 1)
            rec = {"epoch": epoch + 1, "loss": loss_sum.item() / n_steps, "accuracy": acc_sum.item() / n_steps, "knn": knn,
                   "lr": lr, "seconds": seconds, "imagesPerSecond": n_steps * cfg["batch"] / seconds,
                   "engine": f"pytorch-ddp-{world}"}
            records.append(rec)
            print(f"epoch {epoch + 1}: loss {rec['loss']:.4f}  pretext acc {100 * rec['accuracy']:.1f}%  kNN top-1 {knn:.2f}%  "
                  f"({seconds:.1f} s, {rec['imagesPerSecond']:.0f} img/s)", flush=True)
            with open(os.path.join(a.out, "log.jsonl"), "a") as f:
                f.write(json.dumps(rec) + "\n")
        save(epoch + 1)
    if epoch0 >= epochs:
        save(epoch0)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1:])

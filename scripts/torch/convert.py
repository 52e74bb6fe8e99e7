"""Moves MoCo runs between wgrad and PyTorch (the official facebookresearch/moco layout).

  python3 scripts/torch/convert.py export RUN/checkpoint.safetensors run.pth.tar
      a wgrad-moco checkpoint -> main_moco.py's checkpoint: epoch, arch, state_dict (module.encoder_q.*,
      module.encoder_k.*, module.queue [dim, K], module.queue_ptr), optimizer (SGD momentum buffers),
      plus a 'wgrad' entry (config, log, generator states) that the way back needs.
  python3 scripts/torch/convert.py import run.pth.tar OUT/checkpoint.safetensors [--like WGRAD.safetensors]
      the reverse: `wgrad-moco train --resume --out OUT` continues it, `wgrad-moco evaluate --out OUT`
      evaluates it. A checkpoint without the 'wgrad' entry takes config and generators from --like.
  python3 scripts/torch/convert.py backbone moco_v2_800ep_pretrain.pth.tar resnet50.safetensors
      the query encoder's backbone (torchvision names, fc dropped) of an official checkpoint, for
      nn.resnet50().loadStateDict in Node or a browser.

Needs torch and numpy only. Name table: docs/MOCO.md, "Moving a run to PyTorch"."""
import argparse
import json
import sys

import torch

import wgrad_torch as wt


def export(src, dst):
    tensors, meta = wt.load_wgrad_checkpoint(src)
    cfg, sd, buffers, extras = wt.wgrad_to_torch_state(tensors, meta)
    if cfg.get("method", "moco") != "moco" or cfg.get("mechanism", "queue") != "queue" or cfg.get("symmetric") or cfg.get("loss", "infonce") != "infonce":
        raise SystemExit("only MoCo runs with the queue, InfoNCE and the non-symmetric loss have an official layout")
    model = wt.build_moco(cfg, wt.in_channels_of(cfg), 1)
    wt.add_num_batches_tracked(model, sd, 0)
    model.load_state_dict(sd, strict=True)
    groups = json.loads(meta["optimizerGroups"])
    g = groups[0]
    opt = torch.optim.SGD(model.parameters(), lr=g["lr"], momentum=g["momentum"], dampening=g["dampening"],
                          weight_decay=g["weightDecay"], nesterov=g["nesterov"])
    params = list(model.parameters())
    n_query = len(list(model.encoder_q.parameters()))
    for i, buf in buffers.items():
        if i >= n_query or params[i].shape != buf.shape:
            raise SystemExit(f"optimizer.{i}.momentumBuffer {list(buf.shape)} does not fit parameter {i}")
        opt.state[params[i]]["momentum_buffer"] = buf.clone()
    ckpt = {
        "epoch": int(meta["epoch"]),
        "arch": cfg["encoder"],
        "state_dict": {f"module.{k}": v for k, v in model.state_dict().items()},
        "optimizer": opt.state_dict(),
        "wgrad": {**extras, "config": meta["config"], "format": wt.WGRAD_FORMAT},
    }
    torch.save(ckpt, dst)
    print(f"exported {src} (epoch {ckpt['epoch']}, {cfg['encoder']}) -> {dst}")


def import_(src, dst, like=None):
    ckpt = torch.load(src, map_location="cpu")
    wmeta = dict(ckpt.get("wgrad") or {})
    if like:
        _, lmeta = wt.load_wgrad_checkpoint(like)
        for k in ("config", "rng", "records", "baselines", "optimizerGroups", "optimizerNumbers"):
            wmeta.setdefault(k, lmeta.get(k))
    if "config" not in wmeta:
        raise SystemExit(f"{src} has no 'wgrad' entry (not written by convert.py export or main_moco.py): "
                         "pass --like a wgrad-moco checkpoint of the same configuration")
    tensors, meta = wt.torch_to_wgrad(ckpt["state_dict"], ckpt["optimizer"], ckpt["epoch"], wmeta)
    wt.write_safetensors(dst, tensors, meta)
    print(f"imported {src} (epoch {ckpt['epoch']}) -> {dst}")


def backbone(src, dst, encoder="encoder_q"):
    ckpt = torch.load(src, map_location="cpu")
    sd = ckpt.get("state_dict", ckpt)
    out = {}
    for name, t in sd.items():
        parts = name.split(".")
        if parts[0] == "module":
            parts = parts[1:]
        if parts[0] != encoder or parts[1] == "fc" or parts[-1] == "num_batches_tracked":
            continue
        out[".".join(parts[1:])] = t.float()
    if not out:
        raise SystemExit(f"{src}: no tensors named module.{encoder}.* (is it a MoCo checkpoint?)")
    wt.write_safetensors(dst, out, {"source": src.split("/")[-1], "arch": str(ckpt.get("arch", ""))})
    print(f"{len(out)} backbone tensors of {encoder} -> {dst}")


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export")
    e.add_argument("src")
    e.add_argument("dst")
    i = sub.add_parser("import")
    i.add_argument("src")
    i.add_argument("dst")
    i.add_argument("--like", default=None)
    b = sub.add_parser("backbone")
    b.add_argument("src")
    b.add_argument("dst")
    b.add_argument("--encoder", default="encoder_q", choices=["encoder_q", "encoder_k"])
    a = p.parse_args(argv)
    if a.cmd == "export":
        export(a.src, a.dst)
    elif a.cmd == "import":
        import_(a.src, a.dst, a.like)
    else:
        backbone(a.src, a.dst, a.encoder)


if __name__ == "__main__":
    main(sys.argv[1:])

"""A MoCo v2 ResNet-50 checkpoint in the official main_moco.py layout (module.encoder_q.*, encoder_k,
queue, queue_ptr, optimizer), filled with random weights by PyTorch, with its query backbone's
eval-mode features of a batch of images: what test/nn/resnet50.test.ts loads into wgrad.

usage: python3 torch_moco_resnet50.py OUT.pth.tar FEATURES.safetensors [batch] [side]"""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../scripts/torch"))
import wgrad_torch as wt  # noqa: E402

out, feats = sys.argv[1], sys.argv[2]
batch, side = (int(sys.argv[3]), int(sys.argv[4])) if len(sys.argv) > 4 else (2, 32)
torch.manual_seed(0)
model = wt.MoCo(lambda: wt.build_encoder("resnet50", 64, 3), dim=128, K=64, m=0.999, T=0.2, mlp=True)
enc = model.encoder_q
with torch.no_grad():
    for m in enc.modules():
        if isinstance(m, torch.nn.BatchNorm2d):  # not the init values 1 / 0, and cumulative running statistics
            m.weight.uniform_(0.5, 1.5)
            m.bias.uniform_(-0.2, 0.2)
            m.momentum = None
    enc.train()
    for _ in range(2):
        enc(torch.rand(8, 3, side, side))
    enc.eval()
    images = torch.rand(batch, 3, side, side)
    features = enc.embed(images)
opt = torch.optim.SGD(model.parameters(), lr=0.03, momentum=0.9, weight_decay=1e-4)
torch.save({"epoch": 800, "arch": "resnet50", "state_dict": {f"module.{k}": v for k, v in model.state_dict().items()},
            "optimizer": opt.state_dict()}, out)
wt.write_safetensors(feats, {"images": images, "features": features})

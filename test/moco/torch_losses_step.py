"""Independent float64 PyTorch implementations of one step of the contrastive losses and mechanisms
that wgrad's MoCo class offers besides the plain InfoNCE queue step (torch_moco_step.py), written
from the papers, used by losses-crosscheck.test.ts:

- NT-Xent (SimCLR, Chen et al. 2020, Algorithm 1): 2N views, positive = the other view of the image,
  denominator = every view except the anchor itself, averaged over the 2N anchors.
- DCL (Yeh et al. 2021, Eq. 6): NT-Xent's terms with the positive pair removed from the denominator
  (2N - 2 negatives per anchor), averaged over the 2N anchors as in the authors' code.
- MoCo's symmetric loss (MoCo CIFAR-10 demo): loss(q1, k2) + loss(q2, k1) against the same queue,
  one momentum update, then both key batches enqueued (k1 first).
- Mechanisms (MoCo section 4.1, Fig. 3): 'queue' (keys from the momentum encoder, no gradient),
  'end-to-end' (keys from the query encoder, with gradient; InfoNCE = cross-entropy of q k^T / T
  against the diagonal) and 'memory-bank' (Wu et al. 2018: positive = the image's stored row,
  negatives = K sampled rows; then v_i <- normalize(m v_i + (1 - m) q_i), in batch order).

Reads weights, views, key-batch permutations (in the order wgrad drew them: view 1's first when both
views go through a key encoder), queue / bank and sampled rows from a safetensors file written by
wgrad; writes loss, pretext accuracy, every query-parameter gradient, the key encoder after the
momentum update, the queue and the bank after the step.

usage: python3 torch_losses_step.py IN.safetensors OUT.safetensors"""
import os, sys
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_moco_step import read_st, write_st, Encoder, load  # noqa: E402


def nt_xent(a, b, tau):
    """SimCLR's loss over the 2N views, laid out as the paper's z_{2k-1} = a_k, z_{2k} = b_k."""
    n = a.shape[0]
    z = torch.stack([a, b], 1).reshape(2 * n, -1)
    s = F.normalize(z, dim=1) @ F.normalize(z, dim=1).T  # cosine similarity
    total, hits = 0.0, 0
    for i in range(2 * n):
        j = i ^ 1  # the other view of the same image
        others = [k for k in range(2 * n) if k != i]
        total = total - (s[i, j] / tau - torch.logsumexp(s[i, others] / tau, 0))
        hits += int(others[int(s[i, others].argmax())] == j)
    return total / (2 * n), hits / (2 * n)


def dcl(a, b, tau):
    """Decoupled contrastive loss: -s_ij/tau + log sum over the 2N - 2 views of other images."""
    n = a.shape[0]
    z = torch.stack([a, b], 1).reshape(2 * n, -1)
    s = F.normalize(z, dim=1) @ F.normalize(z, dim=1).T
    total, hits = 0.0, 0
    for i in range(2 * n):
        j = i ^ 1
        negatives = [k for k in range(2 * n) if k not in (i, j)]
        total = total + (-s[i, j] / tau + torch.logsumexp(s[i, negatives] / tau, 0))
        # pretext accuracy as for NT-Xent: is the partner the most similar other view?
        others = [k for k in range(2 * n) if k != i]
        hits += int(others[int(s[i, others].argmax())] == j)
    return total / (2 * n), hits / (2 * n)


def info_nce(q, pos, negatives, T):
    """MoCo Eq. 1: cross-entropy of [q.k+, q.negatives] / T against column 0."""
    logits = torch.cat([(q * pos).sum(1, keepdim=True), q @ negatives.T], 1) / T
    loss = F.cross_entropy(logits, torch.zeros(q.shape[0], dtype=torch.long))
    return loss, (logits.argmax(1) == 0).double().mean().item()


def pair_loss(kind, a, b, T, queue):
    if kind == "ntxent":
        return nt_xent(a, b, T)
    if kind == "dcl":
        return dcl(a, b, T)
    return info_nce(a, b.detach(), queue.clone(), T)  # the queue is enqueued before backward()


def main():
    t, meta = read_st(sys.argv[1])
    w, cin, splits, dim = (int(meta[k]) for k in ("width", "in_channels", "splits", "dim"))
    T, kind, mechanism = float(meta["T"]), meta["loss"], meta["mechanism"]
    symmetric = meta["symmetric"] == "1"
    enc_q = Encoder(w, cin, splits, dim)
    load(enc_q, t, "query.")
    enc_q.double().train()
    x1, x2 = t["x1"].double(), t["x2"].double()
    perms = [t[f"perm{i}"].long() for i in range(2) if f"perm{i}" in t]
    out = {}

    def shuffled(enc, x, perm):
        """Shuffle BN: the encoder sees the batch in `perm` order; outputs are put back."""
        return enc(x[perm])[torch.argsort(perm)]

    if mechanism == "end-to-end":
        q = enc_q(x1)
        k = shuffled(enc_q, x2, perms[0])  # keys from the query encoder, gradient flows
        if kind == "infonce":
            logits = q @ k.T / T
            labels = torch.arange(q.shape[0])
            loss = F.cross_entropy(logits, labels)
            acc = (logits.argmax(1) == labels).double().mean().item()
        else:
            loss, acc = pair_loss(kind, q, k, T, None)
    elif mechanism == "memory-bank":
        bank = t["bank"].double().clone()
        idx, sample = t["indices"].long(), t["sample"].long()
        m = float(meta["bank_momentum"])
        q = enc_q(x1)
        loss, acc = info_nce(q, bank[idx].clone(), bank[sample].clone(), T)
        with torch.no_grad():
            for j, i in enumerate(idx.tolist()):  # sequential: a repeated image sees its own update
                bank[i] = F.normalize(m * bank[i] + (1 - m) * q[j], dim=0)
        out["bank_after"] = bank
    else:  # queue
        m = float(meta["m"])
        enc_k = Encoder(w, cin, splits, dim)
        load(enc_k, t, "key.")
        enc_k.double().train()
        for p in enc_k.parameters():
            p.requires_grad = False
        queue = t["queue"].double().clone()
        with torch.no_grad():
            for pk, pq in zip(enc_k.parameters(), enc_q.parameters()):
                pk.data = pk.data * m + pq.data * (1.0 - m)
        if symmetric:
            q1, q2 = enc_q(x1), enc_q(x2)
            with torch.no_grad():
                k1 = shuffled(enc_k, x1, perms[0])
                k2 = shuffled(enc_k, x2, perms[1])
            l12, a12 = pair_loss(kind, q1, k2, T, queue)
            l21, a21 = pair_loss(kind, q2, k1, T, queue)
            loss, acc = l12 + l21, (a12 + a21) / 2
            keys = torch.cat([k1, k2], 0)
        else:
            q = enc_q(x1)
            with torch.no_grad():
                keys = shuffled(enc_k, x2, perms[0])
            loss, acc = pair_loss(kind, q, keys, T, queue)
        if kind == "infonce":  # only InfoNCE draws negatives from the queue, so only it enqueues
            ptr, K = int(meta["ptr"]), queue.shape[0]
            for i in range(keys.shape[0]):
                queue[(ptr + i) % K] = keys[i]
        out["queue_after"] = queue
        for name, p in enc_k.named_parameters():
            out["key_after." + name] = p.data
        for name, b in enc_k.named_buffers():
            if b.is_floating_point():
                out["key_buffer." + name] = b
    loss.backward()
    out["loss"] = loss.detach().reshape([])
    out["accuracy"] = torch.tensor(acc)
    for name, p in enc_q.named_parameters():
        out["grad." + name] = p.grad
    for name, b in enc_q.named_buffers():  # BN running statistics (the query encoder ran in train mode)
        if b.is_floating_point():
            out["buffer." + name] = b
    write_st(sys.argv[2], out)


if __name__ == "__main__":
    main()

"""Independent PyTorch FedAvg on full MNIST: the oracle for FedNoise's `config/mnist-fedavg-*.json` curves.

McMahan et al.'s CNN and setting (K = 100, C = 0.1, E = 5, B = 10, plain SGD), PyTorch's default initialisation,
inputs normalised with MNIST's mean 0.1307 and std 0.3081 (as FedNoise does). It shares no code with FedNoise: its
own IDX reader, partition, sampling and averaging. Prints one line per round and writes a CSV.

    /tmp/torch-ref/bin/python results/fedavg/torch_fedavg.py --lr 0.01 --rounds 30 --out torch-iid-lr0.01.csv
(torch==2.15.0 and numpy in a venv, as ../shared/reference/torch_reference.py says; never a FedNoise dependency)
"""
import argparse
import gzip
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(root, split):
    x = idx(f"{root}/{split}-images-idx3-ubyte.gz").astype(np.float32) / 255.0
    y = idx(f"{root}/{split}-labels-idx1-ubyte.gz").astype(np.int64)
    x = (x - 0.1307) / 0.3081
    return torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y)


def cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 512), nn.ReLU(), nn.Linear(512, 10))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="../shared/data/mnist")
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--fraction", type=float, default=0.1)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--partition", choices=["iid", "shards"], default="iid")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="torch_fedavg.csv")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    xtr, ytr = load(a.data, "train")
    xte, yte = load(a.data, "t10k")
    n = len(ytr)
    if a.partition == "iid":
        parts = np.array_split(rng.permutation(n), a.clients)
    else:  # McMahan: sort by label, 2 shards per client
        order = np.argsort(ytr.numpy(), kind="stable")
        shards = np.array_split(order, 2 * a.clients)
        pick = rng.permutation(2 * a.clients)
        parts = [np.concatenate([shards[pick[2 * k]], shards[pick[2 * k + 1]]]) for k in range(a.clients)]
    glob = cnn()
    m = max(int(a.fraction * a.clients), 1)
    rows = ["round,test_accuracy,test_loss,seconds"]
    for r in range(1, a.rounds + 1):
        t0 = time.time()
        chosen = sorted(rng.choice(a.clients, m, replace=False))
        total = sum(len(parts[k]) for k in chosen)
        acc = [torch.zeros_like(p) for p in glob.state_dict().values()]
        for k in chosen:
            local = cnn()
            local.load_state_dict(glob.state_dict())
            opt = torch.optim.SGD(local.parameters(), lr=a.lr)
            idxs = torch.from_numpy(parts[k])
            for _ in range(a.epochs):
                perm = idxs[torch.randperm(len(idxs))]
                for i in range(0, len(perm), a.batch):
                    b = perm[i:i + a.batch]
                    opt.zero_grad(set_to_none=True)
                    F.cross_entropy(local(xtr[b]), ytr[b]).backward()
                    opt.step()
            w = len(parts[k]) / total
            for s, p in zip(acc, local.state_dict().values()):
                s.add_(p, alpha=w)
        glob.load_state_dict(dict(zip(glob.state_dict().keys(), acc)))
        with torch.no_grad():
            logits = torch.cat([glob(xte[i:i + 1000]) for i in range(0, len(yte), 1000)])
            loss = F.cross_entropy(logits, yte).item()
            accuracy = (logits.argmax(1) == yte).float().mean().item()
        dt = time.time() - t0
        rows.append(f"{r},{accuracy:.4f},{loss:.5f},{dt:.1f}")
        print(f"round {r}/{a.rounds}: test accuracy {100 * accuracy:.2f}%  loss {loss:.4f}  ({dt:.1f} s)", flush=True)
    with open(a.out, "w") as f:
        f.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()

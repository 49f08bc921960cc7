"""Independent PyTorch DLG (autograd double backward): the oracle for `fednoise attack`'s single-image FedAvg row.

It attacks the same model, image and starting dummy as FedNoise, read from the JSON that
`fednoise attack --export FILE` writes (FedNN layouts: conv weights out×k×k×in then biases, the FC layer's inputs in
H×W×C order, images H×W×C); it converts them to PyTorch's NCHW layouts and shares no other code with FedNoise.
The model is the DLG LeNet (three conv5×5 with padding 2, strides 2, 2, 1, sigmoid after each, FC to the classes),
the loss cross-entropy, the label iDLG's (argmin of the last weight gradient's row sums), the matching loss
Σ‖∇W_dummy − ∇W_true‖², whose gradient in the dummy image comes from create_graph=True (a true double backward).

Modes:
  wolfe      torch.optim.LBFGS(lr=1, history_size=100, line_search_fn="strong_wolfe"), one step() of
             max_iter=ITERATIONS (the algorithm FedNoise's L-BFGS implements; iterations are comparable)
  reference  mit-han-lab/dlg main.py: LBFGS with all defaults (lr 1, no line search, max_iter 20 per step()),
             ITERATIONS calls of step()

    .build/release/fednoise attack --set 'batchSizes=[1]' --export /tmp/dlg-ref.json --output /tmp/dlg
    /tmp/torch-ref/bin/python results/dlg/torch_dlg.py /tmp/dlg-ref.json --mode wolfe --out results/dlg/torch-wolfe.csv
(torch==2.15.0 in a venv, as ../shared/reference/torch_reference.py says; never a FedNoise dependency)
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class LeNet(nn.Module):
    def __init__(self, channels, hidden, classes):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, 12, 5, padding=2, stride=2), nn.Sigmoid(),
            nn.Conv2d(12, 12, 5, padding=2, stride=2), nn.Sigmoid(),
            nn.Conv2d(12, 12, 5, padding=2, stride=1), nn.Sigmoid())
        self.fc = nn.Linear(hidden, classes)

    def forward(self, x):
        return self.fc(self.body(x).flatten(1))


def load(path):
    ref = json.load(open(path))
    h, w, c = ref["imageShape"]
    classes = ref["classes"]
    p = torch.tensor(ref["parameters"], dtype=torch.float32)
    def out(n):  # floor((n + 2·2 − 5)/2) + 1, twice (the stride-1 conv keeps the size)
        return ((n - 1) // 2 + 1 - 1) // 2 + 1

    hh, ww = out(h), out(w)
    hidden = 12 * hh * ww
    net = LeNet(c, hidden, classes)
    offset = 0
    with torch.no_grad():
        for conv in [m for m in net.body if isinstance(m, nn.Conv2d)]:
            o, i, k, _ = conv.weight.shape
            n = o * k * k * i
            conv.weight.copy_(p[offset:offset + n].reshape(o, k, k, i).permute(0, 3, 1, 2))
            conv.bias.copy_(p[offset + n:offset + n + o])
            offset += n + o
        n = classes * hidden
        net.fc.weight.copy_(p[offset:offset + n].reshape(classes, hh, ww, 12)
                            .permute(0, 3, 1, 2).reshape(classes, hidden))
        net.fc.bias.copy_(p[offset + n:offset + n + classes])
        assert offset + n + classes == len(p), "parameter count does not match the LeNet"

    def nchw(v):
        return torch.tensor(v, dtype=torch.float32).reshape(-1, h, w, c).permute(0, 3, 1, 2).contiguous()

    return net, nchw(ref["images"]), torch.tensor(ref["labels"], dtype=torch.int64), nchw(ref["dummy"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("reference")
    ap.add_argument("--mode", choices=["wolfe", "reference"], default="wolfe")
    ap.add_argument("--iterations", type=int, default=300)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    net, image, label, dummy0 = load(args.reference)
    params = list(net.parameters())
    true_grad = [g.detach() for g in torch.autograd.grad(F.cross_entropy(net(image), label), params)]
    inferred = torch.argmin(true_grad[-2].sum(dim=1)).reshape(1)  # iDLG: the last weight's most negative row
    dummy = dummy0.clone().requires_grad_(True)
    rows = []
    start = time.perf_counter()
    state = {"evals": 0}

    def closure():
        opt.zero_grad()
        grads = torch.autograd.grad(F.cross_entropy(net(dummy), inferred), params, create_graph=True)
        loss = sum(((g - t) ** 2).sum() for g, t in zip(grads, true_grad))
        loss.backward()
        state["evals"] += 1
        with torch.no_grad():
            mse = ((dummy.clamp(0, 1) - image) ** 2).mean().item()
        rows.append((state["evals"], opt.state[dummy].get("n_iter", 0), loss.item(), mse,
                     time.perf_counter() - start))
        return loss

    if args.mode == "wolfe":
        opt = torch.optim.LBFGS([dummy], lr=1, max_iter=args.iterations, max_eval=args.iterations * 25,
                                history_size=100, tolerance_grad=1e-12, tolerance_change=1e-16,
                                line_search_fn="strong_wolfe")
        opt.step(closure)
    else:
        opt = torch.optim.LBFGS([dummy])
        for _ in range(args.iterations):
            opt.step(closure)
    total = time.perf_counter() - start
    first = next((r for r in rows if r[3] <= 1e-3), None)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, mode {args.mode}: label {inferred.item()} "
          f"(true {label.item()}), {len(rows)} evaluations, final loss {rows[-1][2]:.3e}, final MSE {rows[-1][3]:.3e}, "
          f"{total:.2f} s")
    if first:
        print(f"MSE <= 1e-3 first at evaluation {first[0]} (iteration {first[1]}), {first[4]:.3f} s")
    if args.out:
        with open(args.out, "w") as f:
            f.write("evaluation,iteration,loss,mse,seconds\n")
            for r in rows:
                f.write(",".join(str(v) for v in r) + "\n")


if __name__ == "__main__":
    main()

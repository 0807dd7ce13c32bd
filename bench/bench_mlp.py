"""bench_mlp.py DIR NFEAT BATCH EPOCHS - the PyTorch peer of bench_mlp.c: the same
reference MLP (Linear 128 ReLU Dropout .5, Linear 64 ReLU Dropout .5, Linear 1 with
BCEWithLogitsLoss, Adam lr 0.001 eps 1e-7, Glorot-uniform weights and zero biases as
Keras/mlhep), one thread, same data and same epoch loop (shuffle, gather batch, step).
Prints "torch batch=B samples_per_s=S auc=A"."""
import os
import sys
import time

import numpy as np
import torch

d, nf, bs, epochs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(1)
seed = int(os.environ.get("SEED", "1"))
torch.manual_seed(seed)
tr = np.fromfile(d + "/train.bin", dtype="<f4").reshape(-1, nf + 1)
va = np.fromfile(d + "/val.bin", dtype="<f4").reshape(-1, nf + 1)
X, y = torch.from_numpy(tr[:, :nf].copy()), torch.from_numpy(tr[:, nf:].copy())
Xv, yv = torch.from_numpy(va[:, :nf].copy()), va[:, nf]

model = torch.nn.Sequential(
    torch.nn.Linear(nf, 128), torch.nn.ReLU(), torch.nn.Dropout(0.5),
    torch.nn.Linear(128, 64), torch.nn.ReLU(), torch.nn.Dropout(0.5),
    torch.nn.Linear(64, 1))
for mod in model:
    if isinstance(mod, torch.nn.Linear):
        torch.nn.init.xavier_uniform_(mod.weight)
        torch.nn.init.zeros_(mod.bias)
opt = torch.optim.Adam(model.parameters(), lr=0.001, eps=1e-7)
lossf = torch.nn.BCEWithLogitsLoss()
n = X.shape[0]
seen, t_train, cpu_train = 0, 0.0, 0.0
for ep in range(epochs):
    model.train()
    t0, c0 = time.perf_counter(), time.process_time()
    perm = torch.randperm(n)
    for b in range(0, n - bs + 1, bs):
        idx = perm[b:b + bs]
        xb, yb = X[idx], y[idx]
        opt.zero_grad(set_to_none=True)
        loss = lossf(model(xb), yb)
        loss.backward()
        opt.step()
        seen += bs
    t_train += time.perf_counter() - t0
    cpu_train += time.process_time() - c0
model.eval()
with torch.no_grad():
    pv = torch.sigmoid(model(Xv)).numpy()[:, 0]


def auc(s, lab):
    order = np.argsort(s, kind="mergesort")
    s, lab = s[order], lab[order]
    _, inv, counts = np.unique(s, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    avg = (ends - counts + 1 + ends) / 2.0  # average rank of each tie group
    ranks = avg[inv]
    npos = lab.sum()
    nneg = len(lab) - npos
    return (ranks[lab > 0.5].sum() - npos * (npos + 1) / 2) / (npos * nneg)


print("torch batch=%d samples_per_s=%.0f cpu_samples_per_s=%.0f auc=%.4f epochs=%d last_loss=%.4f" %
      (bs, seen / t_train, seen / cpu_train, auc(pv, yv), epochs, loss.item()))

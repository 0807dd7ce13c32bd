import torch.nn as nn
from collections import OrderedDict
sizes = [64, 32]
def model(idim):
    layers = []
    prev = idim
    for s in sizes:
        layers.append(nn.Linear(prev, s))
        layers += [nn.LeakyReLU(0.1), nn.BatchNorm1d(s, momentum=0.05)]
        prev = s
    layers.append(nn.Linear(prev, 3))
    return nn.Sequential(*layers)
if __name__ == "__main__":
    print(model(10))

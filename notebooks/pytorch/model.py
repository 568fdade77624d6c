"""The DCASE 2020 Task 2 baseline autoencoder in PyTorch.

Dense 640→128→128→128→128→8→128→128→128→128→640; every hidden Dense is followed by
BatchNorm and ReLU, the output layer is linear. Initialisation and BatchNorm constants follow
Keras' defaults (Glorot-uniform weights, zero biases, momentum 0.99, epsilon 1e-3), as the
original Keras model has them.
"""
from torch import nn


def dense_block(n_in: int, n_out: int) -> list[nn.Module]:
    return [glorot(nn.Linear(n_in, n_out)), nn.BatchNorm1d(n_out, eps=1e-3, momentum=0.01), nn.ReLU()]


def glorot(layer: nn.Linear) -> nn.Linear:
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class DenseAutoencoder(nn.Module):
    """Reconstructs stacked log-mel vectors. [shape=(batch, dims)] -> [shape=(batch, dims)]"""

    def __init__(self, dims: int, hidden: int = 128, bottleneck: int = 8, depth: int = 4):
        super().__init__()
        widths = [dims] + [hidden] * depth + [bottleneck] + [hidden] * depth
        layers = [layer for n_in, n_out in zip(widths[:-1], widths[1:]) for layer in dense_block(n_in, n_out)]
        self.layers = nn.Sequential(*layers, glorot(nn.Linear(hidden, dims)))

    def forward(self, x):
        return self.layers(x)


def build_model(input_shape, hidden: int = 128, bottleneck: int = 8, depth: int = 4) -> nn.Module:
    (dims,) = input_shape
    return DenseAutoencoder(dims, hidden, bottleneck, depth)

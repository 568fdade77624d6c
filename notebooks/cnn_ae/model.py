"""A convolutional autoencoder on square log-mel patches.

Encoder: stride-2 3x3 convolutions (BatchNorm, ReLU), each halving height and width, then a
dense bottleneck; the decoder mirrors it with transposed convolutions and a linear output.
Inputs are standardised inside the network and reconstructions returned in dB.
"""
from torch import nn


def conv_block(n_in: int, n_out: int) -> list[nn.Module]:
    return [nn.Conv2d(n_in, n_out, 3, stride=2, padding=1), nn.BatchNorm2d(n_out), nn.ReLU()]


def deconv_block(n_in: int, n_out: int) -> list[nn.Module]:
    return [nn.ConvTranspose2d(n_in, n_out, 4, stride=2, padding=1), nn.BatchNorm2d(n_out), nn.ReLU()]


class ConvAutoencoder(nn.Module):
    """[shape=(batch, size, size)] log-mel patches in dB -> reconstructions of the same shape."""

    def __init__(self, size: int, channels: list[int], latent: int, db_offset: float, db_scale: float):
        super().__init__()
        reduced = size // 2 ** len(channels)
        if reduced < 1 or reduced * 2 ** len(channels) != size:
            raise ValueError(f"patch size {size} must be divisible by 2**{len(channels)} (one halving per conv layer)")
        widths = [1] + list(channels)
        self.shape = (channels[-1], reduced, reduced)
        flat = channels[-1] * reduced * reduced
        self.encoder = nn.Sequential(*[m for a, b in zip(widths[:-1], widths[1:]) for m in conv_block(a, b)],
                                     nn.Flatten(), nn.Linear(flat, latent))
        self.expand = nn.Sequential(nn.Linear(latent, flat), nn.ReLU())
        ups = [m for a, b in zip(widths[:0:-1][:-1], widths[-2:0:-1]) for m in deconv_block(a, b)]
        self.decoder = nn.Sequential(*ups, nn.ConvTranspose2d(widths[1], 1, 4, stride=2, padding=1))
        self.db_offset, self.db_scale = db_offset, db_scale

    def forward(self, x):
        scaled = ((x - self.db_offset) / self.db_scale).unsqueeze(1)
        hidden = self.expand(self.encoder(scaled)).view(-1, *self.shape)
        return self.decoder(hidden).squeeze(1) * self.db_scale + self.db_offset


def build_model(input_shape, channels=(16, 32, 64), latent: int = 64, db_offset: float = -50.0,
                db_scale: float = 20.0) -> nn.Module:
    size, width = input_shape
    if size != width:
        raise ValueError(f"patches must be square, got {input_shape}")
    return ConvAutoencoder(size, list(channels), latent, float(db_offset), float(db_scale))

"""A variational autoencoder on stacked log-mel vectors.

Encoder dims→400→400→(mean, log-variance) of a 20-d latent; decoder 20→400→400→dims with a
sigmoid output. Inputs are scaled from [db_min, db_max] dB to [0, 1] inside the network.
Training loss = reconstruction_weight * squared error (summed over the inputs) +
kl_weight * KL(q(z|x) || N(0, I)), both averaged over the batch. Reconstruction and scoring
decode the latent mean (forward), so scores are deterministic; reconstructions are returned in dB.
"""
import torch
from torch import nn


class VariationalAutoencoder(nn.Module):
    """[shape=(batch, dims)] log-mel dB -> [shape=(batch, dims)] reconstruction in dB."""

    def __init__(self, dims: int, hidden: int, latent: int, reconstruction_weight: float, kl_weight: float,
                 db_min: float, db_max: float):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(dims, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.mean = nn.Linear(hidden, latent)
        self.log_variance = nn.Linear(hidden, latent)
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                     nn.Linear(hidden, dims), nn.Sigmoid())
        self.reconstruction_weight, self.kl_weight = reconstruction_weight, kl_weight
        self.db_min, self.db_span = db_min, db_max - db_min

    def scale(self, x: torch.Tensor) -> torch.Tensor:
        return ((x - self.db_min) / self.db_span).clamp(0.0, 1.0)

    def encode(self, scaled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.encoder(scaled)
        return self.mean(hidden), self.log_variance(hidden)

    def training_loss(self, x: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict]:
        mean, log_variance = self.encode(self.scale(x))
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_variance)
        reconstruction = ((self.decoder(z) - self.scale(target)) ** 2).sum(dim=1).mean()
        kl = (-0.5 * (1 + log_variance - mean ** 2 - log_variance.exp()).sum(dim=1)).mean()
        loss = self.reconstruction_weight * reconstruction + self.kl_weight * kl
        return loss, {"reconstruction": reconstruction, "kl": kl}

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        mean, _ = self.encode(self.scale(x))
        return self.decoder(mean) * self.db_span + self.db_min

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.reconstruct(x)


def build_model(input_shape, hidden: int = 400, latent: int = 20, reconstruction_weight: float = 1.0,
                kl_weight: float = 0.01, db_min: float = -90.0, db_max: float = 24.0) -> nn.Module:
    (dims,) = input_shape
    return VariationalAutoencoder(dims, hidden, latent, float(reconstruction_weight), float(kl_weight),
                                  float(db_min), float(db_max))

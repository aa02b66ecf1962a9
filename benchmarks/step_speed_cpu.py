"""CPU training-step speed of the 32-px ResNet (SN-GAN's CIFAR-10 model) beside the DCGAN.

One process, one torch thread, architectures interleaved round by round (the machine is
shared, so load drifts affect both alike); the median over rounds is reported. Data is
random 3x32x32 images: the content does not change the cost of a step.

    PYTHONPATH=. python benchmarks/step_speed_cpu.py --rounds 3 --steps 1 --batch-size 16

Each round's rates are printed as they come (a loaded machine can make a round slow).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from bench.config import JobConfig, ModelConfig, TrainConfig
from bench.train.loop import GANStep
from bench.tricks.registry import TrainContext

MODELS = {
    "dcgan (g 64, d 64)": ModelConfig(arch="dcgan", latent_dim=128, g_width=64, d_width=64),
    "resnet (g 256, d 128)": ModelConfig(arch="resnet", latent_dim=128, g_width=256, d_width=128),
    "resnet (g 64, d 64)": ModelConfig(arch="resnet", latent_dim=128, g_width=64, d_width=64),
}


def make_step(model: ModelConfig, batch_size: int) -> GANStep:
    cfg = JobConfig(model=model, train=TrainConfig(batch_size=batch_size))
    cpu = torch.device("cpu")
    ctx = TrainContext(cpu, torch.Generator().manual_seed(0), 100, batch_size,
                       model.latent_dim, (3, 32, 32))  # fmt: skip
    data = torch.rand(1024, 3, 32, 32) * 2 - 1
    return GANStep(cfg, data, [], ctx)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3, help="iterations timed per round")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    steps = {name: make_step(model, args.batch_size) for name, model in MODELS.items()}
    for step in steps.values():
        step.iteration()  # warm-up, untimed
    rates: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            for _ in range(args.steps):
                step.iteration()
            rates[name].append(args.steps / (time.perf_counter() - start))
            print(f"round {len(rates[name])}: {name}: {rates[name][-1]:.3f} it/s", flush=True)
    params = {name: sum(p.numel() for net in (s.generator, s.discriminator)
                        for p in net.parameters()) for name, s in steps.items()}  # fmt: skip
    print(f"| model (32 px, batch {args.batch_size}) | parameters G+D | iterations/s (median) |")
    print("|---|---|---|")
    for name, values in rates.items():
        print(f"| {name} | {params[name] / 1e6:.2f}M | {statistics.median(values):.3f} |")


if __name__ == "__main__":
    main()

"""PyTorch counterpart of `train-t2i`'s training step, for Docs/PERFORMANCE.md.

Builds the same architecture from a model folder written by train-t2i (unet/config.json, text_encoder/config.json:
diffusers UNet2DConditionModel + transformers CLIPTextModel), and times one full training step at the same batch:
text encoder forward, U-Net forward on noised images at random timesteps, the loss of the folder's train_config.json
(prediction_type target, min-SNR weights when snr_gamma > 0; a frozen text encoder when train_text_encoder is false),
backward, grad clipping, AdamW step (the EMA update is included too). CPU, float32, torch.set_num_threads(2) by default.

Usage (from the repository root):
    Tools/reference/.venv/bin/python Tools/reference/bench_train_t2i.py Models/shapes-t2i --batch 32 --steps 10
"""
import argparse
import json
import os
import resource
import statistics
import time

import torch
from diffusers import DDPMScheduler, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", help="model folder written by train-t2i")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sample-images", type=int, default=0, help="also time CFG sampling of this many images")
    ap.add_argument("--sample-steps", type=int, default=25)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    unet_cfg = json.load(open(os.path.join(args.model, "unet", "config.json")))
    text_cfg = json.load(open(os.path.join(args.model, "text_encoder", "config.json")))
    unet = UNet2DConditionModel.from_config(unet_cfg)
    # JSON writes 1.0 as 1; transformers 5's strict config classes want floats for these fields.
    for k in ("initializer_factor", "initializer_range", "layer_norm_eps", "attention_dropout", "dropout"):
        if k in text_cfg:
            text_cfg[k] = float(text_cfg[k])
    text = CLIPTextModel(CLIPTextConfig(**{k: v for k, v in text_cfg.items() if k not in ("architectures",)}))
    sched = DDPMScheduler.from_pretrained(args.model, subfolder="scheduler") if os.path.exists(
        os.path.join(args.model, "scheduler", "scheduler_config.json")) else DDPMScheduler()
    train_cfg = {}
    tc_path = os.path.join(args.model, "train_config.json")
    if os.path.exists(tc_path):
        train_cfg = json.load(open(tc_path))
    train_text = train_cfg.get("train_text_encoder", True)
    prediction = train_cfg.get("prediction_type", "epsilon")
    gamma = float(train_cfg.get("snr_gamma", 0))
    if not train_text:
        text.requires_grad_(False)
    # train-t2i's auxiliary caption-attribute loss (`text_parse_weight`, CaptionAttributes): a linear head on the
    # encoder's last context state, cross-entropy per label group (2 x colour 8, shape 5, size 3, count 5; relation 9).
    parse_weight = float(train_cfg.get("text_parse_weight", 0)) if train_text else 0.0
    parse_groups = [8, 5, 3, 5] * 2 + [9]
    head = torch.nn.Linear(text_cfg["hidden_size"], sum(parse_groups)) if parse_weight > 0 else None
    params = list(unet.parameters()) + (list(text.parameters()) if train_text else []) + (list(head.parameters()) if head else [])
    ema = [p.detach().clone() for p in params]
    opt = torch.optim.AdamW(params, lr=5e-4, weight_decay=0.01)
    n_params = sum(p.numel() for p in params)
    side = unet_cfg["sample_size"] if isinstance(unet_cfg["sample_size"], int) else unet_cfg["sample_size"][0]
    ctx = text_cfg["max_position_embeddings"]
    vocab = text_cfg["vocab_size"]
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, trained parameters {n_params}, batch {args.batch}, "
          f"{side}x{side}, context {ctx}, {prediction}, snr_gamma {gamma}, text encoder {'trained' if train_text else 'frozen'}, "
          f"text_parse_weight {parse_weight}")
    alphas = sched.alphas_cumprod

    def step():
        x0 = torch.rand(args.batch, 3, side, side) * 2 - 1
        ids = torch.randint(0, vocab, (args.batch, ctx))
        noise = torch.randn_like(x0)
        t = torch.randint(0, sched.config.num_train_timesteps, (args.batch,))
        xt = sched.add_noise(x0, noise, t)
        with torch.set_grad_enabled(train_text):
            h = text(input_ids=ids).last_hidden_state
        pred = unet(xt, t, encoder_hidden_states=h).sample
        target = sched.get_velocity(x0, noise, t) if prediction == "v_prediction" else noise
        if gamma > 0:
            snr = alphas[t] / (1 - alphas[t])
            w = torch.clamp(snr, max=gamma) / (snr + 1 if prediction == "v_prediction" else snr)
            loss = (((pred - target) ** 2).mean(dim=(1, 2, 3)) * w).mean()
        else:
            loss = torch.nn.functional.mse_loss(pred, target)
        if head is not None:
            logits = head(h[:, -1])
            parts, offset = [], 0
            for k in parse_groups:
                labels = torch.randint(0, k, (args.batch,))
                parts.append(torch.nn.functional.cross_entropy(logits[:, offset:offset + k], labels))
                offset += k
            loss = loss + parse_weight * torch.stack(parts).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        with torch.no_grad():
            for e, p in zip(ema, params):
                e.mul_(0.999).add_(p, alpha=0.001)
        return loss.item()

    step()  # warm-up
    times, cpus = [], []
    for i in range(args.steps):
        t0, c0 = time.perf_counter(), time.process_time()
        loss = step()
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        print(f"step {i + 1}: {times[-1]:.3f} s (loss {loss:.4f})")
    med = statistics.median(times)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"train step: median {med:.3f} s, min {min(times):.3f} s, CPU {statistics.median(cpus):.3f} s/step; "
          f"{args.batch / med:.1f} img/s (median); peak RSS {peak:.0f} MiB")

    if args.sample_images:
        from diffusers import DDIMScheduler
        ddim = DDIMScheduler.from_config(sched.config)
        ddim.set_timesteps(args.sample_steps)
        n = args.sample_images
        with torch.no_grad():
            t0 = time.perf_counter()
            ids = torch.randint(0, vocab, (2 * n, ctx))
            h = text(input_ids=ids).last_hidden_state
            x = torch.randn(n, 3, side, side)
            for t in ddim.timesteps:
                out = unet(torch.cat([x, x]), t, encoder_hidden_states=h).sample
                u, c = out.chunk(2)
                x = ddim.step(u + 3.0 * (c - u), t, x).prev_sample
            dt = time.perf_counter() - t0
        print(f"sampling: {n} images, {args.sample_steps} steps, CFG: {dt:.2f} s ({n / dt:.2f} img/s)")


if __name__ == "__main__":
    main()

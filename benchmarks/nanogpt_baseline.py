"""A nanoGPT-style character GPT in PyTorch: the `gpt` section's baseline.

Written for this benchmark from the description of nanoGPT's CPU run on
Tiny Shakespeare (`config/train_shakespeare_char.py` with the README's
"I only have a macbook" overrides), not copied from it:

- 4 pre-norm blocks, 4 heads, width 128, context (block) 64, GELU MLP 4x,
  dropout 0, no biases in Linear or LayerNorm, a final LayerNorm, output
  logits through the token embedding (tied);
- normal(0, 0.02) initialisation, the residual output projections (attention
  out, MLP out) at 0.02 / sqrt(2 * layers);
- AdamW lr 1e-3, betas (0.9, 0.99), weight decay 0.1 on >= 2-D weights
  only; 100 linear warm-up steps, then cosine to 1e-4 at step 2,000, then
  1e-4; gradient clipping at global norm 1.0;
- batch 12 windows of 64 characters drawn uniformly at random from the
  training text every step; `torch.set_num_threads(2)`, no `torch.compile`.

It runs in a worker process of its own (`run.py --worker=torch_gpt`) that
never imports TensorFlow: the data come in as int arrays in an .npz written
by the TF side (`train_ids`, and the held-out `heldout_x` / `heldout_y`
windows), encoded with modelzoo's `text.chars.char_vocabulary`.
"""

import math
import time

import numpy as np

from benchmarks import common

# nanoGPT's CPU configuration (see the module docstring).
CONFIG = dict(
    num_layers=4, num_heads=4, embed_dim=128, block_size=64, batch_size=12,
    learning_rate=1e-3, min_learning_rate=1e-4, warmup_steps=100, decay_steps=2000,
    beta_1=0.9, beta_2=0.99, weight_decay=0.1, grad_clip=1.0,
)


def learning_rate(step, lr=1e-3, min_lr=1e-4, warmup_steps=100, decay_steps=2000):
    """The rate of (0-based) `step`: linear warm-up, cosine to `min_lr`, then flat."""
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    if step >= decay_steps:
        return min_lr
    progress = (step - warmup_steps) / (decay_steps - warmup_steps)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (lr - min_lr)


def build_model(vocab_size, num_layers=4, num_heads=4, embed_dim=128, block_size=64, seed=0):
    """The GPT as an `nn.Module` mapping ids `[b, t]` to logits `[b, t, vocab]`."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    class SelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = nn.Linear(embed_dim, 3 * embed_dim, bias=False)
            self.out = nn.Linear(embed_dim, embed_dim, bias=False)

        def forward(self, x):
            b, t, c = x.shape
            q, k, v = self.qkv(x).split(embed_dim, dim=2)
            heads = [z.view(b, t, num_heads, c // num_heads).transpose(1, 2) for z in (q, k, v)]
            y = F.scaled_dot_product_attention(*heads, is_causal=True)
            return self.out(y.transpose(1, 2).contiguous().view(b, t, c))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm_1 = nn.LayerNorm(embed_dim, bias=False)
            self.attention = SelfAttention()
            self.norm_2 = nn.LayerNorm(embed_dim, bias=False)
            self.up = nn.Linear(embed_dim, 4 * embed_dim, bias=False)
            self.down = nn.Linear(4 * embed_dim, embed_dim, bias=False)

        def forward(self, x):
            x = x + self.attention(self.norm_1(x))
            return x + self.down(F.gelu(self.up(self.norm_2(x))))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.block_size = block_size
            self.tokens = nn.Embedding(vocab_size, embed_dim)
            self.positions = nn.Embedding(block_size, embed_dim)
            self.blocks = nn.ModuleList(Block() for _ in range(num_layers))
            self.final_norm = nn.LayerNorm(embed_dim, bias=False)
            self.head = nn.Linear(embed_dim, vocab_size, bias=False)
            self.head.weight = self.tokens.weight  # tied input/output embeddings
            for module in self.modules():
                if isinstance(module, (nn.Linear, nn.Embedding)):
                    nn.init.normal_(module.weight, 0.0, 0.02)
            residual_std = 0.02 / math.sqrt(2 * num_layers)
            for block in self.blocks:
                nn.init.normal_(block.attention.out.weight, 0.0, residual_std)
                nn.init.normal_(block.down.weight, 0.0, residual_std)

        def forward(self, ids):
            positions = torch.arange(ids.shape[1], device=ids.device)
            x = self.tokens(ids) + self.positions(positions)
            for block in self.blocks:
                x = block(x)
            return self.head(self.final_norm(x))

    torch.manual_seed(seed)
    return GPT()


def make_optimizer(model, lr, betas, weight_decay):
    """AdamW decaying the >= 2-D weights (matrices, embeddings) only."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=lr, betas=betas,
    )


def heldout_loss(model, x, y, batch_size=256):
    """Mean cross-entropy (nats/char) over every position of the held-out windows."""
    import torch
    import torch.nn.functional as F

    model.eval()
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            logits = model(x[i : i + batch_size])
            total += float(F.cross_entropy(logits.flatten(0, 1), y[i : i + batch_size].flatten(),
                                           reduction="sum"))
    model.train()
    return total / y.numel()


def warm_up():
    """Pays PyTorch's one-off start-up (kernel and allocator set-up) off the clock.

    The counterpart of the TensorFlow sections' `warm_up()`: a throwaway
    model of other sizes (a LayerNorm, causal attention, GELU, AdamW with
    clipping) runs a few steps, so the GPT's clock does not pay the
    library's first-call costs; its own first steps stay on the clock, as
    modelzoo's graph tracing does.
    """
    import torch
    import torch.nn.functional as F
    from torch import nn

    layers = nn.ModuleList([nn.Linear(24, 72, bias=False), nn.Linear(24, 24, bias=False),
                            nn.LayerNorm(24, bias=False)])
    optimizer = make_optimizer(layers, 1e-3, (0.9, 0.99), 0.1)
    for _ in range(3):
        x = layers[2](torch.randn(3, 16, 24))
        q, k, v = layers[0](x).view(3, 16, 3, 2, 12).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2)
        loss = F.cross_entropy(F.gelu(layers[1](y.reshape(3, 16, 24))).flatten(0, 1),
                               torch.randint(0, 24, (48,)))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(layers.parameters(), 1.0)
        optimizer.step()


def train(data, budget_s, eval_every_s, seed=0, threads=2, max_steps=None,
          log=print, baton=None, stop_at_target=False, loss_at_s=common.GPT_LOSS_AT_S,
          **overrides):
    """Trains for `budget_s` seconds of training time; returns a `LossClock` summary.

    Args:
        data: dict of numpy arrays: `train_ids` int `[n]`, `heldout_x` and
            `heldout_y` int `[windows, 64]`, `vocab_size` (a 0-d array).
        budget_s: float. Training seconds (held-out evaluation excluded).
        eval_every_s: float. Training seconds between held-out evaluations.
        max_steps: int or None. Also stop after this many steps.
        baton: a `common.Baton` to take turns with the other contender.
        stop_at_target: bool. Stop at the first check at or below the target loss.
        loss_at_s: the training seconds whose losses the summary reports.
        **overrides: entries of `CONFIG` to change.
    """
    import torch
    import torch.nn.functional as F

    cfg = dict(CONFIG, **overrides)
    torch.set_num_threads(threads)
    start = time.perf_counter()
    train_ids = torch.from_numpy(np.asarray(data["train_ids"], "int64"))
    heldout_x = torch.from_numpy(np.asarray(data["heldout_x"], "int64"))
    heldout_y = torch.from_numpy(np.asarray(data["heldout_y"], "int64"))
    vocab_size = int(data["vocab_size"])
    data_seconds = time.perf_counter() - start
    warm_up()
    model = build_model(vocab_size, cfg["num_layers"], cfg["num_heads"], cfg["embed_dim"],
                        cfg["block_size"], seed)
    optimizer = make_optimizer(model, cfg["learning_rate"], (cfg["beta_1"], cfg["beta_2"]),
                               cfg["weight_decay"])
    generator = torch.Generator().manual_seed(seed)
    block, batch = cfg["block_size"], cfg["batch_size"]
    offsets = torch.arange(block)

    def evaluate():
        return heldout_loss(model, heldout_x, heldout_y)

    clock = common.LossClock(budget_s, eval_every_s, chars_per_step=batch * block, baton=baton,
                             stop_at_target=stop_at_target, loss_at_s=loss_at_s)
    clock.start()
    step = 0
    while not clock.done() and (max_steps is None or step < max_steps):
        lr = learning_rate(step, cfg["learning_rate"], cfg["min_learning_rate"],
                           cfg["warmup_steps"], cfg["decay_steps"])
        for group in optimizer.param_groups:
            group["lr"] = lr
        # `batch` windows starting anywhere in the text, uniformly.
        starts = torch.randint(len(train_ids) - block, (batch,), generator=generator)
        index = starts[:, None] + offsets
        x, y = train_ids[index], train_ids[index + 1]
        logits = model(x)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
        optimizer.step()
        step += 1
        point = clock.step_end(1, evaluate)
        if point:
            log(f"[gpt] nanoGPT-style pytorch step {step}: held-out loss {point['loss']:.4f} "
                f"at {point['train_seconds']:.1f}s")
    clock.finish(evaluate)
    summary = clock.summary()
    summary["settings"] = dict(
        cfg, threads=threads, optimizer="AdamW (decay on >= 2-D weights)",
        lr_schedule=f"{cfg['warmup_steps']} linear warm-up steps, cosine to "
                    f"{cfg['min_learning_rate']} at step {cfg['decay_steps']}, then flat",
        input="random windows drawn uniformly each step", compile=False, dropout=0.0,
        bias=False, tied_embeddings=True,
        parameters=sum(p.numel() for p in model.parameters()),
    )
    summary["torch_version"] = torch.__version__
    summary["data_load_seconds"] = round(data_seconds, 3)
    return summary

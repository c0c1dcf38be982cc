"""Image -> LMM -> context: write your own context set with any Hugging Face image-text-to-text or image-to-text
model, then train on it with data.context=file:<OUT/NAME.jsonl>.

This package is the Ray-free core (model loading, prompts, batched generation, resumable sharded output); the
distributed job and its command line are in trainables/context_job.py (docs/contexts.md says why).
"""
from shapca.captioning.captioner import Captioner, GenerationSettings, ModelLoadError, check_model, load_captioner
from shapca.captioning.generate import (Job, Shard, ShardResult, caption_shard, dataset_image_ids, generate_local,
                                      local_executor, run_generation)
from shapca.captioning.store import SettingsMismatch, ShardStore, read_jsonl

__all__ = ["Captioner", "GenerationSettings", "ModelLoadError", "check_model", "load_captioner", "Job", "Shard",
           "ShardResult", "caption_shard", "dataset_image_ids", "generate_local", "local_executor",
           "run_generation", "SettingsMismatch", "ShardStore", "read_jsonl"]

"""The keys traiNNer-redux's option files may hold (its `redux_options.py` structures, which refuse any other
key), by where they sit, and what dali_sr does with each: the dataset keys it reads, and the trainer's keys it
accepts without using."""
from __future__ import annotations

from ...degrade.redux import KERNEL_DEFAULTS, MODEL_DEFAULTS
from ...schema.fields import NONE, Field, choice, flag, text

# traiNNer-redux's dataset classes, by the lower-case name its registry looks up (`type:` is case-insensitive).
DATASET_TYPES = ("pairedimagedataset", "realesrgandataset", "realesrganpaireddataset", "singleimagedataset",
                 "singlelqdataset", "singlegtdataset", "pairedvideodataset", "singlevideodataset", "basedataset")

# A dataset section (`DatasetOptions`): the keys dali_sr reads ...
DATASET_READ = ("name", "type", "io_backend", "num_worker_per_gpu", "batch_size_per_gpu", "use_hflip", "use_rot",
                "mean", "std", "gt_size", "lq_size", "color", "phase", "scale", "dataset_enlarge_ratio",
                "prefetch_mode", "pin_memory", "persistent_workers", "num_prefetch_queue", "dataroot_gt",
                "dataroot_lq", "lq_resize_mode", "meta_info", "filename_tmpl")
# ... and those it accepts without using: the trainer's (`accum_iter`, the DataLoader's `prefetch_factor`),
# `clip_size` outside the video types (which read it), and `blur_kernel_size(2)`, which traiNNer-redux stores but
# does not read either.
DATASET_UNUSED = ("accum_iter", "prefetch_factor", "clip_size", "blur_kernel_size", "blur_kernel_size2")
# The kernel keys, read with `high_order_degradation` (besides blur_kernel_size, above).
DATASET_KERNEL = tuple(k for k in KERNEL_DEFAULTS if not k.startswith("blur_kernel_size"))
DATASET_KEYS = DATASET_READ + DATASET_UNUSED + DATASET_KERNEL

# The top level (`ReduxOptions`): the keys dali_sr reads ...
TOP_READ = ("scale", "manual_seed", "high_order_degradation", "dataroot_lq_prob", "datasets") + tuple(MODEL_DEFAULTS)
# ... and the trainer's, accepted without use (`num_gpu: auto` included: dali_sr runs one loader per process).
TOP_UNUSED = ("name", "num_gpu", "path", "input_pixel_format", "output_pixel_format", "network_g",
              "network_g_teacher", "network_d", "network_ae", "deterministic", "dist", "launcher", "rank",
              "world_size", "auto_resume", "watch", "start_iter", "is_train", "root_path", "switch_iter_per_epoch",
              "use_amp", "amp_bf16", "use_channels_last", "fast_matmul", "use_compile", "compile_mode",
              "detect_anomaly", "high_order_degradations_debug", "high_order_degradations_debug_limit", "train",
              "val", "logger", "dist_params", "onnx", "find_unused_parameters", "contents")
TOP_KEYS = TOP_READ + TOP_UNUSED

# Top-level sections that are structures of their own (their keys are checked too), and theirs within them.
NESTED_KEYS: dict[str, tuple[str, ...]] = {
    "path": ("experiments_root", "models", "resume_models", "training_states", "log", "visualization",
             "results_root", "pretrain_network_g", "pretrain_network_g_teacher", "pretrain_network_g_path",
             "pretrain_network_ae_path", "param_key_g", "strict_load_g", "resume_state", "pretrain_network_g_ema",
             "pretrain_network_d", "param_key_d", "strict_load_d", "pretrain_network_ae", "pretrain_network_ae_ema",
             "pretrain_network_ae_decoder", "pretrain_network_ae_decoder_ema", "ignore_resume_networks"),
    "train": ("total_iter", "adaptive_d", "adaptive_d_ema_decay", "adaptive_d_threshold", "optim_g", "ema_decay",
              "ema_switch_iter", "ema_update_after_step", "ema_power", "grad_clip", "grad_clip_max_norm",
              "warmup_iter", "restart_scheduler", "scheduler", "optim_d", "optim_ae", "losses", "pixel_opt",
              "mssim_opt", "ms_ssim_l1_opt", "perceptual_opt", "contextual_opt", "dists_opt", "hr_inversion_opt",
              "dinov2_opt", "topiq_opt", "pd_opt", "fd_opt", "ldl_opt", "hsluv_opt", "gan_opt", "color_opt",
              "luma_opt", "avg_opt", "bicubic_opt", "use_moa", "moa_augs", "moa_probs", "moa_debug",
              "moa_debug_limit", "eco"),
    "val": ("val_enabled", "save_img", "tile_size", "tile_overlap", "val_freq", "suffix", "metrics_enabled", "metrics",
            "pbar"),
    "logger": ("print_freq", "save_checkpoint_freq", "use_tb_logger", "save_checkpoint_format", "wandb"),
    "onnx": ("dynamo", "opset", "shape", "verify", "dtype", "bf16_exclude_depthwise", "optimize", "wrap_5d_to_4d"),
    "train.eco": ("enabled", "end_ratio", "mode"),
    "logger.wandb": ("resume_id", "project"),
}

# Keys only traiNNer-redux's files have (BasicSR's and Real-ESRGAN's do not): one of them marks a file as its.
TOP_MARKERS = ("use_amp", "amp_bf16", "use_channels_last", "fast_matmul", "use_compile", "compile_mode",
               "detect_anomaly", "high_order_degradations_debug", "high_order_degradations_debug_limit",
               "dataroot_lq_prob", "lq_usm", "lq_usm_radius_range", "blur_prob", "blur_prob2", "thicklines_prob",
               "resize_mode_list", "resize_mode_prob", "resize_mode_list2", "resize_mode_prob2",
               "resize_mode_list3", "resize_mode_prob3", "jpeg_prob", "jpeg_prob2", "input_pixel_format",
               "output_pixel_format", "network_g_teacher", "network_ae", "switch_iter_per_epoch")
SECTION_MARKERS = ("lq_size", "accum_iter", "prefetch_factor", "clip_size", "lq_resize_mode", "kernel_range",
                   "kernel_range2", "final_kernel_range")

# The types of the trainer's top-level keys, checked as traiNNer-redux checks them (the degradation keys are
# checked where the chain is made, the dataset keys by the dataset types).
_FLAGS = ("use_amp", "amp_bf16", "use_channels_last", "fast_matmul", "use_compile", "detect_anomaly", "deterministic",
          "high_order_degradations_debug", "high_order_degradation", "watch", "find_unused_parameters")
_SECTIONS = ("path", "train", "val", "logger", "onnx", "dist_params", "network_g", "network_g_teacher", "network_d",
             "network_ae", "datasets")
PIXEL_FORMATS = ("rgb", "y", "uv", "yuv444")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
TOP_FIELDS: dict[str, Field] = {
    **{key: flag() for key in _FLAGS},
    **{key: Field((dict, NONE)) for key in _SECTIONS},
    "name": text(""),
    "scale": Field((int,), None, lambda v: v >= 1, "a positive integer"),
    "num_gpu": Field((int, str), "auto", lambda v: v == "auto" or isinstance(v, int) and v >= 0,
                     "'auto' or a number of GPUs"),
    "manual_seed": Field((int, NONE)),
    "compile_mode": choice(COMPILE_MODES),
    "input_pixel_format": choice(PIXEL_FORMATS),
    "output_pixel_format": choice(PIXEL_FORMATS),
    "high_order_degradations_debug_limit": Field((int,)),
    "start_iter": Field((int,)),
    "switch_iter_per_epoch": Field((int,)),
    "dataroot_lq_prob": Field((int, float), 0, lambda v: 0 <= v <= 1, "a probability in [0, 1]"),
}

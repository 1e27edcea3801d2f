"""Training and inference machinery around Match R-CNN.

Modules: ``losses`` (the one place λ1..λ5 are applied), ``schedule`` (warm-up + multi-step lr),
``checkpoint`` (atomic save/load, RNG state), ``distributed`` (torchrun helpers), ``build``
(model/device/data builders from a config), ``trainer`` (the loop), ``inference`` (Predictor),
``evaluate`` (COCO AP on a split) and ``retrieval_output`` (official retrieval result rows).
"""

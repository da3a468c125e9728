#!/usr/bin/env python3
"""check-pixel-metrics.py — the trainer's region PSNR/SSIM against scikit-image.

    check-pixel-metrics.py TEST_REWARDS_BINARY

Runs `TEST_REWARDS_BINARY --dump DIR`, which writes test images, masks and the
C++ metrics (trainer/src/rewards.cpp), then recomputes every number with an
independent implementation and asserts agreement:

  PSNR  numpy's weighted MSE over the region's pixels and 3 channels, and, for
        binary masks, skimage.metrics.peak_signal_noise_ratio on the region's
        pixel arrays (the same MSE, computed by skimage)          |Δ| ≤ 1e-3 dB
  SSIM  skimage.metrics.structural_similarity(full=True, gaussian_weights=True,
        sigma=1.5, use_sample_covariance=False, data_range=1, channel_axis=-1):
        its SSIM map, channel-averaged, averaged over the region  |Δ| ≤ 1e-4
        (images smaller than the 11×11 window, which skimage refuses: the same
        map from scipy.ndimage.gaussian_filter, which skimage calls)
  rewards  0.35·clamp(SSIM) + 0.65·clamp(PSNR/40) on the non-edit (1 − mask)
        and edit (mask) regions                                    |Δ| ≤ 1e-4

An empty region is defined (rewards.h) as PSNR = cap, SSIM = 1.
Exits 77 (meson's "skipped") when scikit-image is missing.
"""
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

try:
    import numpy as np
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity
except ImportError as e:  # pragma: no cover - platform without python3-skimage
    print(f"SKIP: {e}")
    sys.exit(77)

PSNR_TOL_DB = 1e-3
SSIM_TOL = 1e-4


def region_metrics(a, b, w, cap):
    """a, b (3, H, W); w (H, W) >= 0.  Returns (psnr, ssim) as rewards.h defines them."""
    area = w.sum()
    if area == 0:
        return cap, 1.0
    # MSE averaged over the weighted pixels and the 3 channels.
    se = ((a - b) ** 2).mean(axis=0)
    mse = (se * w).sum() / area
    psnr = min(10 * math.log10(1 / mse), cap) if mse > 0 else cap
    if min(a.shape[1:]) >= 11:
        # skimage wants channels last.
        _, smap = structural_similarity(
            a.transpose(1, 2, 0), b.transpose(1, 2, 0), full=True, gaussian_weights=True, sigma=1.5,
            use_sample_covariance=False, data_range=1.0, channel_axis=-1)
        smap = smap.mean(axis=-1)
    else:
        # skimage refuses images smaller than its window; the same SSIM map
        # straight from scipy's Gaussian filter (what skimage calls).
        smap = np.mean([ssim_map_scipy(a[c], b[c]) for c in range(3)], axis=0)
    ssim = (smap * w).sum() / area
    return psnr, ssim


def ssim_map_scipy(x, y):
    """SSIM map of one channel, Wang et al. with population variances, borders mirrored."""
    from scipy.ndimage import gaussian_filter

    def g(v):
        return gaussian_filter(v, sigma=1.5, truncate=3.5, mode="reflect")

    c1, c2 = 0.01 ** 2, 0.03 ** 2
    ux, uy = g(x), g(y)
    vx, vy, vxy = g(x * x) - ux * ux, g(y * y) - uy * uy, g(x * y) - ux * uy
    return ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux ** 2 + uy ** 2 + c1) * (vx + vy + c2))


def skimage_psnr_binary(a, b, m):
    """skimage's PSNR on the pixels of a binary region, as (N, 3) arrays."""
    sel = m > 0.5
    return peak_signal_noise_ratio(a.transpose(1, 2, 0)[sel], b.transpose(1, 2, 0)[sel], data_range=1.0)


def reward(psnr, ssim):
    return 0.35 * min(max(ssim, 0.0), 1.0) + 0.65 * min(max(psnr / 40.0, 0.0), 1.0)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    failures = []
    checked = 0

    def check(what, got, want, tol):
        nonlocal checked
        checked += 1
        ok = abs(got - want) <= tol
        print(f"{'ok  ' if ok else 'FAIL'} {what}: c++ {got:.10f} reference {want:.10f} (|Δ| {abs(got - want):.2e})")
        if not ok:
            failures.append(what)

    with tempfile.TemporaryDirectory(prefix="cocoedit-pixel-metrics-") as tmp:
        subprocess.run([sys.argv[1], "--dump", tmp], check=True, timeout=120)
        results = json.loads(Path(tmp, "results.json").read_text())
        cap = results["psnr_cap_db"]
        for case in results["cases"]:
            name = case["name"]
            a = np.load(Path(tmp, f"{name}-a.npy"))
            b = np.load(Path(tmp, f"{name}-b.npy"))
            mask = np.load(Path(tmp, f"{name}-mask.npy"))
            binary = bool(np.all((mask == 0) | (mask == 1)))
            for i in range(a.shape[0]):
                m = mask[i, 0]
                for region, w in (("ne", 1 - m), ("edit", m)):
                    psnr, ssim = region_metrics(a[i], b[i], w, cap)
                    tag = f"{name}[{i}] {region}"
                    check(f"{tag} psnr", case[f"{region}_psnr"][i], psnr, PSNR_TOL_DB)
                    check(f"{tag} ssim", case[f"{region}_ssim"][i], ssim, SSIM_TOL)
                    if binary and w.sum() > 0:
                        check(f"{tag} psnr vs skimage", case[f"{region}_psnr"][i],
                              skimage_psnr_binary(a[i], b[i], w), PSNR_TOL_DB)
                    r = reward(psnr, ssim)
                    key = "pixel_reward" if region == "ne" else "reference_reward"
                    check(f"{tag} {key}", case[key][i], r, SSIM_TOL)
            # Sanity of the test itself: the cases must not be trivial.
            if name == "speckle":
                assert max(case["ne_ssim"]) < 0.9, "speckle case too easy"
    print(f"{checked} values checked, {len(failures)} failed")
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    main()

"""The BasicSR / Real-ESRGAN re-implementation (bench baseline and reference), checked against independent facts."""
from __future__ import annotations

import cv2
import lmdb
import numpy as np
import pytest
import torch
from scipy import ndimage, special
from torch.utils.data import DataLoader

from benchmarks import basicsr_realesrgan as rb


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)))


def smooth_image(h: int = 64, w: int = 80) -> torch.Tensor:
    """A (1, 3, h, w) RGB image of slow sinusoids in [0.2, 0.8]."""
    yy, xx = np.mgrid[0:h, 0:w] / 64.0
    img = np.stack([0.5 + 0.3 * np.sin(2 * xx), 0.5 + 0.3 * np.cos(3 * yy), 0.4 + 0.2 * np.sin(xx + yy)])
    return torch.from_numpy(img.astype(np.float32))[None]


# ------------------------------------------------------------------ kernels


def test_mesh_grid_is_centred():
    xy, xx, yy = rb.mesh_grid(7)
    assert xy.shape == (7, 7, 2)
    assert list(xx[0]) == [-3, -2, -1, 0, 1, 2, 3]
    assert np.array_equal(yy, xx.T)
    assert np.array_equal(xy[..., 0], xx) and np.array_equal(xy[..., 1], yy)


@pytest.mark.parametrize("kernel", [
    rb.gaussian_kernel(21, 2.0, 0, 0, True),
    rb.gaussian_kernel(21, 3.0, 1.0, 0.7, False),
    rb.generalized_gaussian_kernel(15, 2.0, 0, 0, 0.6, True),
    rb.generalized_gaussian_kernel(15, 2.5, 1.2, -1.1, 3.0, False),
    rb.plateau_kernel(13, 1.5, 0, 0, 1.5, True),
    rb.plateau_kernel(13, 1.5, 0.8, 2.0, 1.2, False),
    rb.sinc_kernel(1.3, 11),
])
def test_kernels_sum_to_one_and_are_point_symmetric(kernel):
    assert kernel.dtype == np.float32
    assert kernel.sum() == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(kernel, kernel[::-1, ::-1], atol=1e-8)


@pytest.mark.parametrize("make", [
    lambda: rb.gaussian_kernel(11, 1.7, 0, 0, True),
    lambda: rb.plateau_kernel(11, 1.7, 0, 0, 1.5, True),
    lambda: rb.sinc_kernel(2.0, 11),
])
def test_isotropic_kernels_have_the_square_symmetries(make):
    k = make()
    np.testing.assert_allclose(k, k.T, atol=1e-8)
    np.testing.assert_allclose(k, k[::-1], atol=1e-8)


def test_isotropic_gaussian_is_the_outer_product_of_1d_gaussians():
    g = cv2.getGaussianKernel(21, 2.0)
    np.testing.assert_allclose(rb.gaussian_kernel(21, 2.0, 9.0, 1.0, True), g @ g.T, atol=1e-8)


def test_anisotropic_gaussian_sig_x_is_along_columns_and_rotates():
    k0 = rb.gaussian_kernel(21, 3.0, 1.0, 0.0, False)
    gx, gy = cv2.getGaussianKernel(21, 3.0), cv2.getGaussianKernel(21, 1.0)
    np.testing.assert_allclose(k0, gy @ gx.T, atol=1e-8)
    np.testing.assert_allclose(rb.gaussian_kernel(21, 3.0, 1.0, np.pi / 2, False), k0.T, atol=1e-7)
    np.testing.assert_allclose(rb.gaussian_kernel(21, 2.0, 2.0, 0.9, False), rb.gaussian_kernel(21, 2.0, 0, 0, True),
                               atol=1e-8)


def test_generalized_and_plateau_shapes():
    np.testing.assert_allclose(rb.generalized_gaussian_kernel(15, 2.0, 0, 0, 1.0, True),
                               rb.gaussian_kernel(15, 2.0, 0, 0, True), atol=1e-8)
    sig, beta, c = 1.5, 2.5, 7
    q = 1 / sig ** 2  # x^T Sigma^-1 x one pixel right of the centre
    g = rb.generalized_gaussian_kernel(15, sig, 0, 0, beta, True)
    assert g[c, c] / g[c, c + 1] == pytest.approx(np.exp(0.5 * q ** beta), rel=1e-5)
    p = rb.plateau_kernel(15, sig, 0, 0, beta, True)
    assert p[c, c] / p[c, c + 1] == pytest.approx(1 + q ** beta, rel=1e-5)
    assert p.argmax() == c * 15 + c


def test_sinc_kernel_centre_rule_and_padding():
    cutoff, size = 1.9, 13
    k = rb.sinc_kernel(cutoff, size)
    centre = cutoff ** 2 / (4 * np.pi)  # the r -> 0 limit of cutoff J1(cutoff r) / (2 pi r)
    neighbour = cutoff * special.j1(cutoff) / (2 * np.pi)
    assert k[6, 6] / k[6, 7] == pytest.approx(centre / neighbour, rel=1e-5)
    padded = rb.sinc_kernel(cutoff, size, pad_to=21)
    assert padded.shape == (21, 21)
    np.testing.assert_array_equal(padded[4:17, 4:17], k)
    assert not padded[:4].any() and not padded[:, 17:].any()
    assert rb.sinc_kernel(cutoff, size, pad_to=9).shape == (13, 13)
    with pytest.raises(ValueError):
        rb.sinc_kernel(cutoff, 12)


@pytest.mark.parametrize("kind", rb.KERNEL_TYPES)
def test_random_mixed_kernel_by_type(kind):
    prob = [1.0 if k == kind else 0.0 for k in rb.KERNEL_TYPES]

    def draw(seed):
        return rb.random_mixed_kernel(rb.Rngs.seeded(seed), rb.KERNEL_TYPES, prob, 9, (0.2, 3), (0.5, 4), (1, 2))

    k = draw(3)
    assert k.shape == (9, 9) and k.dtype == np.float32
    assert k.sum() == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(k, k[::-1, ::-1], atol=1e-8)
    if not kind.endswith("aniso"):
        np.testing.assert_allclose(k, k.T, atol=1e-8)
    np.testing.assert_array_equal(k, draw(3))
    assert not np.array_equal(k, draw(4))


# ------------------------------------------------------------------ filter2D, USM


def test_filter2d_pulse_is_identity():
    img = torch.rand(2, 3, 20, 17)
    pulse = torch.zeros(1, 21, 21)
    pulse[0, 10, 10] = 1
    torch.testing.assert_close(rb.filter2D(img, pulse), img)
    torch.testing.assert_close(rb.filter2D(img, pulse.repeat(2, 1, 1)), img)


def test_filter2d_is_mirror_correlation_per_sample():
    rng = np.random.default_rng(0)
    img = rng.random((2, 3, 24, 19)).astype(np.float32)
    kernels = rng.random((2, 7, 7)).astype(np.float32)
    out = rb.filter2D(torch.from_numpy(img), torch.from_numpy(kernels)).numpy()
    shared = rb.filter2D(torch.from_numpy(img), torch.from_numpy(kernels[:1])).numpy()
    for b in range(2):
        for c in range(3):
            np.testing.assert_allclose(out[b, c], ndimage.correlate(img[b, c], kernels[b], mode="mirror"), rtol=1e-5)
            np.testing.assert_allclose(shared[b, c], ndimage.correlate(img[b, c], kernels[0], mode="mirror"),
                                       rtol=1e-5)
    with pytest.raises(ValueError):
        rb.filter2D(torch.from_numpy(img), torch.ones(1, 4, 4))


def test_usm_weight_zero_is_identity_and_default_overshoots_an_edge():
    usm = rb.USMSharp()
    assert usm.kernel.shape == (1, 51, 51)
    img = torch.full((1, 3, 64, 64), 0.25)
    img[..., 32:] = 0.75
    torch.testing.assert_close(usm(img, weight=0), img)
    sharp = usm(img)
    assert sharp[..., 31].max() < 0.25 - 0.01 and sharp[..., 32].min() > 0.75 + 0.01
    torch.testing.assert_close(sharp[..., :4], img[..., :4])


# ------------------------------------------------------------------ noise, levels


def test_round_to_levels():
    x = torch.tensor([-0.2, 0.0, 0.31, 1.0 / 510 + 1e-4, 1.4])
    torch.testing.assert_close(rb.round_to_levels(x), torch.tensor([0.0, 0.0, 79 / 255, 1 / 255, 1.0]))


def test_gray_weights():
    img = torch.zeros(1, 3, 2, 2)
    img[0, 0], img[0, 1], img[0, 2] = 1.0, 0.5, 0.25
    torch.testing.assert_close(rb.rgb_to_grayscale(img), torch.full((1, 1, 2, 2), 0.2989 + 0.2935 + 0.0285))


def test_gaussian_noise_pt():
    img = torch.full((2, 3, 128, 128), 0.5)
    g = torch.Generator().manual_seed(0)
    sigma = torch.tensor([10.0, 20.0])
    out = rb.add_gaussian_noise_pt(img, sigma, torch.zeros(2), clip=False, generator=g)
    for b in range(2):
        assert (out[b] - 0.5).std().item() == pytest.approx(sigma[b].item() / 255, rel=0.05)
    gray = rb.add_gaussian_noise_pt(img, sigma, torch.tensor([1.0, 0.0]), generator=g)
    assert torch.equal(gray[0, 0], gray[0, 1]) and torch.equal(gray[0, 1], gray[0, 2])
    assert not torch.equal(gray[1, 0], gray[1, 1])
    torch.testing.assert_close(rb.add_gaussian_noise_pt(img, torch.zeros(2), torch.zeros(2), generator=g), img)
    rounded = rb.add_gaussian_noise_pt(img, sigma, torch.zeros(2), rounds=True, generator=g)
    torch.testing.assert_close(rounded * 255, (rounded * 255).round())
    again = [rb.add_gaussian_noise_pt(img, sigma, torch.ones(2), generator=torch.Generator().manual_seed(5))
             for _ in range(2)]
    assert torch.equal(*again)


def test_poisson_noise_pt():
    img = rb.round_to_levels(torch.rand(2, 3, 96, 96, generator=torch.Generator().manual_seed(1)))
    g = torch.Generator().manual_seed(0)
    out = rb.add_poisson_noise_pt(img, torch.tensor([1.0, 2.0]), torch.zeros(2), clip=False, generator=g)
    assert abs((out - img).mean().item()) < 2e-3
    assert (out[1] - img[1]).std() > 1.5 * (out[0] - img[0]).std()
    torch.testing.assert_close(rb.add_poisson_noise_pt(img, torch.zeros(2), torch.zeros(2), generator=g), img)
    gray = rb.add_poisson_noise_pt(img, torch.ones(2), torch.ones(2), clip=False, generator=g) - img
    torch.testing.assert_close(gray[:, 0], gray[:, 1])
    torch.testing.assert_close(gray[:, 1], gray[:, 2])


# ------------------------------------------------------------------ DiffJPEG


def test_diffjpeg_quality_on_a_smooth_image():
    img = smooth_image()
    hi = psnr(rb.jpeg(img, torch.tensor([95.0]))[0], img[0])
    lo = psnr(rb.jpeg(img, torch.tensor([10.0]))[0], img[0])
    print(f"DiffJPEG on a smooth image: PSNR {hi:.2f} dB at quality 95, {lo:.2f} dB at quality 10")
    assert hi > 40 and lo < hi - 10


def test_diffjpeg_quality_100_is_nan_as_basicsr():
    assert torch.isnan(rb.jpeg(smooth_image(16, 16), torch.tensor([100.0]))).all()


def test_diffjpeg_batches_and_sizes():
    img = torch.cat([smooth_image(37, 45), smooth_image(37, 45).flip(-1)])
    quality = torch.tensor([30.0, 80.0])
    out = rb.DiffJPEG()(img, quality)
    assert out.shape == img.shape and 0 <= out.min() and out.max() <= 1
    assert torch.equal(quality, torch.tensor([30.0, 80.0]))
    for b in range(2):
        torch.testing.assert_close(out[b], rb.DiffJPEG()(img[b:b + 1], quality[b:b + 1])[0])
    torch.testing.assert_close(rb.quality_to_factor(torch.tensor([25.0, 50.0, 90.0])), torch.tensor([2.0, 1.0, 0.2]))


def test_diffjpeg_is_close_to_opencv_jpeg(basicsr_fixtures):
    quality = 75
    with lmdb.open(str(basicsr_fixtures / "gt.lmdb"), readonly=True, lock=False) as env, env.begin() as txn:
        images = {key: txn.get(key.encode()) for key in ("baboon", "comic")}
    for key, data in images.items():
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255
        ours = rb.jpeg(torch.from_numpy(rgb.transpose(2, 0, 1))[None], torch.tensor([float(quality)]))
        ours = ours[0].numpy().transpose(1, 2, 0)
        ocv = cv2.imdecode(cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_COLOR)
        figure = psnr(ours, cv2.cvtColor(ocv, cv2.COLOR_BGR2RGB).astype(np.float32) / 255)
        print(f"DiffJPEG vs OpenCV JPEG, quality {quality}, {key}: PSNR {figure:.2f} dB")
        assert figure > 30


# ------------------------------------------------------------------ options, dataset

OPTION_FILE = """
name: test
model_type: RealESRGANModel
scale: 4
resize_prob: [0.2, 0.7, 0.1]
jpeg_range2: [40, 90]
gt_size: 64
queue_size: 4
datasets:
  train:
    type: RealESRGANDataset
    dataroot_gt: {root}
    io_backend:
      type: lmdb
    kernel_list: ['iso', 'aniso', 'generalized_iso', 'generalized_aniso', 'plateau_iso', 'plateau_aniso']
    kernel_prob: [0.45, 0.25, 0.12, 0.03, 0.12, 0.03]
    sinc_prob: 0.5
    blur_sigma: [0.2, 3]
    final_sinc_prob: 0.5
    gt_size: 999
    use_hflip: {hflip}
    use_rot: false
    crop_pad_size: {crop}
    num_worker_per_gpu: 5
"""


def write_gt_lmdb(root, sizes: dict[str, tuple[int, int]]) -> dict[str, np.ndarray]:
    """An LMDB of random PNG images (BGR uint8) with BasicSR's meta_info.txt; returns the images by key."""
    rng = np.random.default_rng(0)
    images = {k: rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for k, (h, w) in sizes.items()}
    root.mkdir()
    with lmdb.open(str(root), map_size=1 << 26) as env, env.begin(write=True) as txn:
        for key, img in images.items():
            txn.put(key.encode(), cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 1])[1].tobytes())
    (root / "meta_info.txt").write_text(
        "".join(f"{k}.png ({h},{w},3) 1\n" for k, (h, w) in sizes.items()))
    return images


@pytest.fixture
def gt_lmdb(tmp_path):
    root = tmp_path / "gt.lmdb"
    return root, write_gt_lmdb(root, {"small": (120, 90), "large": (430, 410)})


def options(tmp_path, root, hflip: bool = True, crop: int = 400) -> rb.RealESRGANOptions:
    path = tmp_path / f"opt_{hflip}_{crop}.yml"
    path.write_text(OPTION_FILE.format(root=root, hflip=str(hflip).lower(), crop=crop))
    return rb.RealESRGANOptions.from_option_file(path)


def test_options_from_option_file(tmp_path):
    o = options(tmp_path, "x.lmdb")
    assert o.io_backend == "lmdb" and o.dataroot_gt == "x.lmdb"
    assert o.gt_size == 64  # the top-level one, read by feed_data
    assert o.sinc_prob == 0.5 and o.jpeg_range2 == (40, 90) and o.kernel_prob[0] == 0.45
    assert o.noise_range == (1.0, 30.0)  # not in the file: the x4plus default
    assert rb.RealESRGANOptions.from_option_file({"scale": 2, "datasets": {"train": {"sinc_prob": 0}}}).scale == 2
    with pytest.raises(ValueError):
        rb.RealESRGANOptions.from_option_file({"datasets": {"train": {"io_backend": {"type": "ceph"}}}})


def test_dataset_item_shapes_and_kernels(tmp_path, gt_lmdb):
    root, _ = gt_lmdb
    ds = rb.BasicSRRealESRGANDataset(options(tmp_path, root), seed=0)
    assert len(ds) == 2 and ds.paths == ["small", "large"]
    for i in range(2):
        for _ in range(3):
            item = ds[i]
            assert item["gt"].shape == (3, 400, 400) and item["gt"].dtype == torch.float32
            assert item["gt_path"] == ds.paths[i]
            for name in ("kernel1", "kernel2", "sinc_kernel"):
                k = item[name]
                assert k.shape == (21, 21) and k.dtype == torch.float32
                assert k.sum().item() == pytest.approx(1.0, abs=1e-5)
                torch.testing.assert_close(k, k.flip(0, 1))


def test_dataset_pads_reflect_101_and_crops_inside(tmp_path, gt_lmdb):
    root, images = gt_lmdb
    ds = rb.BasicSRRealESRGANDataset(options(tmp_path, root, hflip=False), seed=0)
    small = cv2.cvtColor(images["small"], cv2.COLOR_BGR2RGB).astype(np.float32) / 255
    want = np.pad(small, ((0, 280), (0, 310), (0, 0)), mode="reflect")  # numpy 'reflect' = reflect-101
    np.testing.assert_array_equal(ds[0]["gt"].numpy().transpose(1, 2, 0), want)
    large = cv2.cvtColor(images["large"], cv2.COLOR_BGR2RGB).astype(np.float32) / 255
    crop = ds[1]["gt"].numpy().transpose(1, 2, 0)
    hits = [(t, l) for t in range(31) for l in range(11) if np.array_equal(large[t:t + 400, l:l + 400], crop)]
    assert len(hits) == 1


def test_dataset_is_seeded(tmp_path, gt_lmdb):
    root, _ = gt_lmdb
    o = options(tmp_path, root)

    def items(seed):
        ds = rb.BasicSRRealESRGANDataset(o, seed=seed)
        return [ds[i % 2] for i in range(4)]

    a, b, c = items(1), items(1), items(2)
    for x, y in zip(a, b):
        for k in ("gt", "kernel1", "kernel2", "sinc_kernel"):
            assert torch.equal(x[k], y[k])
    assert any(not torch.equal(x[k], y[k]) for x, y in zip(a, c) for k in ("kernel1", "kernel2"))


def test_dataset_disk_backend_reads_the_meta_info_list(tmp_path, gt_lmdb):
    root, images = gt_lmdb
    folder = tmp_path / "gt"
    folder.mkdir()
    for key, img in images.items():
        cv2.imwrite(str(folder / f"{key}.png"), img)
    meta = tmp_path / "meta_info.txt"
    meta.write_text("large.png (430,410,3)\nsmall.png (120,90,3)\n")
    o = rb.RealESRGANOptions(dataroot_gt=str(folder), meta_info=str(meta), use_hflip=False)
    disk, db = rb.BasicSRRealESRGANDataset(o, seed=4), rb.BasicSRRealESRGANDataset(options(tmp_path, root, False), 4)
    assert disk.paths == [str(folder / "large.png"), str(folder / "small.png")]
    assert torch.equal(disk[1]["gt"], db[0]["gt"])


# ------------------------------------------------------------------ feed_data


def batch_of_two(tmp_path, root, seed: int = 0) -> dict:
    ds = rb.BasicSRRealESRGANDataset(options(tmp_path, root, crop=128), seed=seed)
    return next(iter(DataLoader(ds, batch_size=2, num_workers=0)))


@pytest.mark.parametrize("model", ["RealESRGANModel", "RealESRNetModel"])
def test_degradation_sizes_levels_and_determinism(tmp_path, gt_lmdb, model):
    root, _ = gt_lmdb
    batch = batch_of_two(tmp_path, root)
    o = options(tmp_path, root, crop=128)
    runs = [rb.BasicSRDegradation(o, torch.device("cpu"), model=model, seed=s)(batch) for s in (7, 7, 8)]
    out = runs[0]
    assert set(out) == ({"lq", "gt", "gt_usm"} if model == "RealESRGANModel" else {"lq", "gt"})
    assert out["lq"].shape == (2, 3, 16, 16) and out["gt"].shape == (2, 3, 64, 64)
    lq = out["lq"]
    assert 0 <= lq.min() and lq.max() <= 1
    torch.testing.assert_close(lq * 255, (lq * 255).round(), atol=1e-4, rtol=0)
    for k in out:
        assert torch.equal(out[k], runs[1][k])
    assert not torch.equal(out["lq"], runs[2]["lq"])
    if model == "RealESRGANModel":
        torch.testing.assert_close(out["gt_usm"], rb.USMSharp()(out["gt"]))
        assert any(torch.equal(out["gt"], batch["gt"][..., t:t + 64, l:l + 64])
                   for t in range(0, 65, 4) for l in range(0, 65, 4))


@pytest.mark.slow
def test_degradation_training_pair_pool(tmp_path, gt_lmdb):
    root, _ = gt_lmdb
    batch = batch_of_two(tmp_path, root)
    o = options(tmp_path, root, crop=128)  # queue_size 4
    plain = rb.BasicSRDegradation(o, "cpu", seed=3)
    pooled = rb.BasicSRDegradation(o, "cpu", seed=3, use_queue=True)
    seen = []
    for step in range(3):
        want, got = plain(batch), pooled(batch)
        seen.append(want["lq"])
        if step < 2:  # filling the pool: the batch passes through
            assert torch.equal(want["lq"], got["lq"]) and torch.equal(want["gt"], got["gt"])
    pool = torch.cat(seen[:2])
    assert all(any(torch.equal(x, p) for p in pool) for x in got["lq"])
    with pytest.raises(ValueError):
        rb.BasicSRDegradation(rb.RealESRGANOptions(queue_size=3, gt_size=64), "cpu", use_queue=True)(batch)

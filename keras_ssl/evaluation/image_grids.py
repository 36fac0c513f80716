"""PNG grids of images: inpaintings, colourisations, denoised inputs."""

import numpy as np

# Layout of `plot_image_grid`, in output pixels (the figure is drawn at 100 dpi).
_DPI = 100
_PAD = 4
_ROW_TITLE_WIDTH = 120
_COL_TITLE_HEIGHT = 24


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _as_image(image, value_range):
    """One image as float32 [H, W] or [H, W, 3] in [0, 1] for `imshow`."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] not in (3, 4)):
        raise ValueError(
            f"plot_image_grid: every image must be [H, W], [H, W, 1] or [H, W, 3], got shape {image.shape}; "
            "pass rows as lists (or [N, H, W, C] arrays) of single images."
        )
    low, high = value_range
    image = (image.astype("float32") - low) / float(high - low)
    return np.clip(image, 0.0, 1.0)


def image_grid_size(num_rows, num_cols, row_titles=False, col_titles=False, cell_pixels=96):
    """(width, height) in pixels of the PNG that `plot_image_grid` writes."""
    width = num_cols * (cell_pixels + _PAD) + _PAD + (_ROW_TITLE_WIDTH if row_titles else 0)
    height = num_rows * (cell_pixels + _PAD) + _PAD + (_COL_TITLE_HEIGHT if col_titles else 0)
    return width, height


def plot_image_grid(rows, path, row_titles=None, col_titles=None, cell_pixels=96, value_range=(0, 255)):
    """Draws images as a grid (one list of images per row) and saves a PNG.

    Pixels are read in `value_range` (the repo's convention: raw pixels in
    [0, 255], uint8 or float) and clipped to it; grey images are drawn with a
    fixed grey scale (no per-image contrast stretch), so grids compare
    brightness honestly. Rows may have different lengths (missing cells stay
    blank). The PNG is exactly `image_grid_size(...)` pixels.

    Args:
        rows: list of rows; each row a list of images or an array
            `[N, H, W]`, `[N, H, W, 1]` or `[N, H, W, 3]`.
        path: str. Where to write the PNG.
        row_titles: optional list of str, one per row, drawn on the left.
        col_titles: optional list of str, one per column, drawn on top.
        cell_pixels: int. Side of each cell in output pixels.
        value_range: (low, high). Pixel values mapped to black and white.

    Returns:
        `path`.

    Example:

    >>> import numpy as np
    >>> images = np.random.randint(0, 256, (2, 4, 28, 28, 1), dtype="uint8")
    >>> plot_image_grid([images[0], images[1]], "/tmp/grid.png", row_titles=["input", "output"])
    '/tmp/grid.png'
    """
    rows = [list(row) for row in rows]
    if not rows or not any(rows):
        raise ValueError("plot_image_grid: `rows` is empty; pass a list of rows, each a list of images.")
    num_rows = len(rows)
    num_cols = max(len(row) for row in rows)
    if row_titles is not None and len(row_titles) != num_rows:
        raise ValueError(f"plot_image_grid: got {len(row_titles)} row_titles for {num_rows} rows; pass one per row.")
    if col_titles is not None and len(col_titles) != num_cols:
        raise ValueError(
            f"plot_image_grid: got {len(col_titles)} col_titles for {num_cols} columns; pass one per column."
        )
    plt = _pyplot()
    left = _ROW_TITLE_WIDTH if row_titles is not None else 0
    top = _COL_TITLE_HEIGHT if col_titles is not None else 0
    width, height = image_grid_size(num_rows, num_cols, row_titles is not None, col_titles is not None, cell_pixels)
    fig = plt.figure(figsize=(width / _DPI, height / _DPI), dpi=_DPI)
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            x0 = left + _PAD + c * (cell_pixels + _PAD)
            y0 = top + _PAD + r * (cell_pixels + _PAD)
            # add_axes takes [left, bottom, width, height] as figure fractions.
            ax = fig.add_axes([x0 / width, 1 - (y0 + cell_pixels) / height, cell_pixels / width, cell_pixels / height])
            image = _as_image(image, value_range)
            ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0.0, vmax=1.0, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0 and col_titles is not None:
                ax.set_title(col_titles[c], fontsize=8, pad=3)
            if c == 0 and row_titles is not None:
                ax.text(-0.06, 0.5, row_titles[r], transform=ax.transAxes, ha="right", va="center", fontsize=8)
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)
    return path


def inpainting_comparison(models, images, masks, path, fill_value=None, cell_pixels=96):
    """PNG grid comparing the inpaintings of several context encoders.

    Rows: the original images, the masked inputs (removed region shown at
    the fill value), then one row per model with its filled-in images (e.g.
    the L2-only and the L2 + adversarial `ContextEncoder`, side by side as
    in the paper's figure 1 and 6).

    Args:
        models: dict `{row title: model}`; each model has
            `inpaint(images, masks)` returning pixels in [0, 255].
        images: uint8 or float pixels `[N, H, W, C]` in [0, 255].
        masks: `[N, H, W]` or `[N, H, W, 1]`, 1 where pixels are removed
            (e.g. `keras_ssl.augment.central_mask(images)`).
        path: str. Where to write the PNG.
        fill_value: float. Pixel value shown in the removed region of the
            masked inputs (default: the first model's `fill_value`, else 127.5).
        cell_pixels: int. Side of each cell in output pixels.

    Returns:
        `path`.

    Example:

    >>> masks = keras_ssl.augment.central_mask(x_test[:8])
    >>> inpainting_comparison({"L2": l2_model, "L2 + adv": adv_model}, x_test[:8], masks, "inpainting.png")
    """
    if not models:
        raise ValueError("inpainting_comparison: `models` is empty; pass {title: model} with an inpaint() method.")
    images = np.asarray(images)
    masks = np.asarray(masks, dtype="float32")
    if masks.ndim == images.ndim - 1:
        masks = masks[..., None]
    if masks.shape[:3] != images.shape[:3]:
        raise ValueError(
            f"inpainting_comparison: masks {masks.shape} do not match images {images.shape}; pass one "
            "[H, W] mask per image."
        )
    if fill_value is None:
        fill_value = float(getattr(next(iter(models.values())), "fill_value", 127.5))
    masked = images.astype("float32") * (1.0 - masks) + fill_value * masks
    rows = [images, masked] + [np.asarray(model.inpaint(images, masks)) for model in models.values()]
    titles = ["original", "input"] + list(models)
    return plot_image_grid(rows, path, row_titles=titles, cell_pixels=cell_pixels)


def plot_colorizations(model, images, path, temperature=None, num_images=8):
    """Writes a PNG grid of colourisations: the grey input (L), the
    prediction (annealed mean) and the ground truth, one row each, for the
    first `num_images` of RGB `images`. `model` is anything with a
    `colorize(images, temperature)` (`Colorization`, `SplitBrainAutoencoder`).
    Returns `path`."""
    from keras_ssl.augment.color_space import lightness_pixels

    images = np.asarray(images)[:num_images]
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"plot_colorizations needs RGB images [N, H, W, 3], got shape {images.shape}")
    grey = np.round(lightness_pixels(images.astype("float32")).numpy())
    predicted = model.colorize(images, temperature=temperature)
    return plot_image_grid([grey, predicted, images], path, row_titles=["input (L)", "colourised", "ground truth"])


def plot_denoising_grid(models, images, path, noises=None, noise_levels=None, seed=0):
    """PNG of denoised inputs: the clean images, then for each noise type a
    row of corrupted images and a row of their reconstructions.

    Args:
        models: a `DenoisingAutoencoder` (reconstructs every noise type) or
            a dict `{noise: DenoisingAutoencoder}` (each row pair uses the
            model trained with that noise).
        images: uint8 array `[N, H, W, C]`, a few images (columns).
        path: str. Where to write the PNG.
        noises: names of the noise types (keys of `models` if a dict;
            default: every type of `keras_ssl.augment.make_corruption`).
        noise_levels: dict `{noise: level}` (the paper's [0, 1] scale);
            default: each model's level if `models` is a dict, else the
            defaults of `keras_ssl.augment.make_corruption`.
        seed: int. Seed of the corruptions, so the grid is reproducible.

    Returns:
        `path`.

    Example:

    >>> plot_denoising_grid(model, x_test[:8], "denoising.png")
    'denoising.png'
    """
    import tensorflow as tf

    from keras_ssl.augment.corruptions import DEFAULT_NOISE_LEVELS, NOISE_TYPES, make_corruption
    from keras_ssl.methods.autoencoding.base import corrupt_with

    noises = NOISE_TYPES if noises is None else noises
    images = np.asarray(images)
    rows, titles = [images], ["clean"]
    for i, noise in enumerate(noises):
        model = models[noise] if isinstance(models, dict) else models
        level = (noise_levels or {}).get(noise)
        if level is None and isinstance(models, dict) and model.noise == noise:
            level = model.noise_level
        if level is None:
            level = DEFAULT_NOISE_LEVELS[noise]
        corruption = make_corruption(noise, level, value_range=(0.0, 255.0), seed=seed + i)
        corrupted = corrupt_with(corruption, tf.cast(images, "float32"))[0]
        rows += [np.asarray(corrupted), np.asarray(model.reconstruct(corrupted))]
        label = f"sigma={level:g}" if noise == "gaussian" else f"{100 * level:g}%"
        titles += [f"{noise.replace('_', ' ')} {label}", "reconstructed"]
    return plot_image_grid(rows, path, row_titles=titles)

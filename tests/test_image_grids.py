"""Tests of the PNG image grids (keras_ssl/evaluation/image_grids.py)."""

import matplotlib.image
import numpy as np
import pytest

from keras_ssl.evaluation import image_grid_size, plot_image_grid


def test_plot_image_grid_writes_png_of_the_stated_size(tmp_path):
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, size=(4, 28, 28, 1), dtype="uint8")
    colour = rng.uniform(0, 255, size=(3, 20, 20, 3)).astype("float32")  # ragged row, float pixels
    path = str(tmp_path / "grid.png")
    assert plot_image_grid([grey, colour], path, row_titles=["grey", "colour"], col_titles=list("abcd")) == path
    png = matplotlib.image.imread(path)
    width, height = image_grid_size(2, 4, row_titles=True, col_titles=True)
    assert png.shape[:2] == (height, width)
    # Without titles the grid is 4 cells of 96 px plus 4 px padding each way.
    plot_image_grid([grey], path)
    assert matplotlib.image.imread(path).shape[:2] == (96 + 8, 4 * 100 + 4)


def test_plot_image_grid_keeps_grey_levels(tmp_path):
    # A constant mid-grey image must stay mid-grey (no per-image contrast stretch)
    # and white (255) must come out white.
    path = str(tmp_path / "grid.png")
    plot_image_grid([[np.full((8, 8), 128, "uint8"), np.full((8, 8, 1), 255.0)]], path, cell_pixels=40)
    png = matplotlib.image.imread(path)
    np.testing.assert_allclose(png[4 + 20, 4 + 20, :3], 128 / 255, atol=0.01)
    np.testing.assert_allclose(png[4 + 20, 4 + 44 + 20, :3], 1.0, atol=0.01)


def test_plot_image_grid_bad_input(tmp_path):
    with pytest.raises(ValueError, match="rows"):
        plot_image_grid([[np.zeros((4, 4))]], str(tmp_path / "x.png"), row_titles=["a", "b"])
    with pytest.raises(ValueError, match="shape"):
        plot_image_grid([[np.zeros((4, 4, 2))]], str(tmp_path / "x.png"))
    with pytest.raises(ValueError, match="empty"):
        plot_image_grid([], str(tmp_path / "x.png"))

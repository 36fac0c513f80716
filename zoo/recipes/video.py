"""The recipe of video colourisation (Vondrick et al. 2018): clips of
frames, the colour-copying model built on an embedding network, and the
tracking evaluation (masks propagated by the learned pointer) beside the
baselines that need no learning."""

import dataclasses
import os

import numpy as np

from zoo.recipes.base import Recipe, build_optimizer

STRIP_FRAMES = 8


@dataclasses.dataclass
class VideoData:
    """Training clips and test clips (with instance masks)."""

    name: str
    train: object  # keras_ssl.data.videos.VideoClips
    test: object

    @property
    def frame_shape(self):
        return tuple(self.train.frame_shape)

    @property
    def image_shape(self):
        return self.frame_shape

    def describe(self):
        return (
            f"{self.name}: {self.train.num_clips} training clips and {self.test.num_clips} test clips of "
            f"{self.train.num_frames} frames at {self.frame_shape} ({self.train.source})"
        )


class VideoRecipe(Recipe):
    """Clips of `keras_ssl.data.videos` (`moving_objects`, generated) or a
    user's folders of frames (`frames:PATH`)."""

    data_key = "dataset"
    default_data = "moving_objects"
    foreign_flags = {
        "num_labels": ("semi-supervised methods", "learns from videos without labels"),
        "unlabelled_ratio": ("semi-supervised methods", "learns from videos without labels"),
        "unlabelled_dataset": ("semi-supervised methods", "learns from videos without labels"),
        "knn_every": ("image representation methods", "is evaluated by tracking (zoo.evaluate --protocol=tracking)"),
    }

    def load_data(self, config):
        from keras_ssl.data.videos import load_frame_folders, load_video_clips

        name = config["dataset"]
        if name == "moving_objects":
            clips = {
                split: load_video_clips(
                    split,
                    num_clips=config["train_size"] if split == "train" else config["test_clips"],
                    num_frames=config["num_frames"],
                    size=config["frame_size"],
                    seed=config["seed"],
                )
                for split in ("train", "test")
            }
            return VideoData(name, clips["train"], clips["test"])
        if name.startswith("frames:") and len(name) > len("frames:"):
            clips = load_frame_folders(name[len("frames:") :], size=config.get("image_size"))
            if clips.masks is None:
                raise ValueError(f"{name} has no masks/ folders: tracking needs the first frame's mask of test clips")
            return VideoData(name, clips, clips)
        raise ValueError(f"video colourisation trains on moving_objects or frames:PATH, got --dataset={name}")

    def complete_config(self, config, data):
        if config.get("image_shape") is None:
            config["image_shape"] = list(data.frame_shape)
        return config

    def build(self, config, data, model_dir, strategy):
        import tensorflow as tf

        from keras_ssl.backbones.stages import feature_map_model
        from keras_ssl.methods.video.video_colorization import VideoColorization
        from zoo.recipes.images import build_backbone, for_strategy

        frames = data.train.frames
        batch_size = config["batch_size"]
        if batch_size > len(frames):
            raise ValueError(f"--batch_size {batch_size} is larger than the {len(frames)} training clips: lower it")
        steps_per_epoch = len(frames) // batch_size
        batches = (
            tf.data.Dataset.from_tensor_slices(frames)
            .shuffle(len(frames), seed=config["seed"], reshuffle_each_iteration=True)
            .batch(batch_size, drop_remainder=True)
            .prefetch(tf.data.AUTOTUNE)
        )
        spec = dict(config["model"])
        spec.pop("class")
        colours = VideoColorization.arguments_from_data(
            frames, num_colours=spec.pop("num_colours"), seed=config["seed"]
        )
        with strategy.scope():
            embedding = feature_map_model(build_backbone(config, data.frame_shape), name="embedding")
            model = VideoColorization(embedding, seed=config["seed"], **colours, **spec)
            model.compile(optimizer=build_optimizer(config, steps_per_epoch))
        return model, for_strategy(batches, strategy), {"shuffle": False}

    def finish(self, model, config, data, model_dir, history, chief):
        """`history.png`, the tracking table of the test clips in
        `evaluation.json` and `tracking.png` (a strip of propagated masks)."""
        from keras_ssl.evaluation import plot_history
        from zoo.runs import EVALUATION_FILE, read_json, write_json_atomic

        results = tracking_results(model, data, config)
        if chief:
            plot_history(history, os.path.join(model_dir, "history.png"), title=f"{config['method']} on {data.name}")
            path = os.path.join(model_dir, EVALUATION_FILE)
            evaluation = read_json(path) if os.path.exists(path) else {}
            write_json_atomic(path, {**evaluation, "tracking": results})
            write_strip(model, data, config, os.path.join(model_dir, "tracking.png"))
        return results


def propagation_settings(config):
    """The test-time propagation of the config (the paper's temperature,
    local window and top-k)."""
    return {key: config["tracking"][key] for key in ("temperature", "radius", "top_k", "num_reference")}


def tracking_results(model, data, config, baselines=True):
    """`{name: {"J": ..., "F": ...}}` on the test clips: the learned pointer,
    and (with `baselines`) the same network at random initialisation, the
    same attention on raw pixels (the L channel the network sees, and full
    Lab colour, which it never sees), the first mask copied and optical
    flow."""
    from keras_ssl.evaluation.protocols import random_init_copy
    from keras_ssl.evaluation.tracking import (
        copy_first_mask,
        evaluate_tracking,
        optical_flow_propagation,
        propagate_masks,
        raw_pixel_embed,
    )

    settings = propagation_settings(config)
    frames, masks = data.test.frames, data.test.masks
    stride = data.frame_shape[0] // model.feature_size[0]  # Raw pixels pooled as the embedding is.

    def pointer(embed):
        return lambda clip, first: propagate_masks(embed, clip, first, **settings)

    rows = {"learned pointer": pointer(model.embed)}
    if baselines:
        random_model = model.__class__.from_config(model.get_config())
        random_model.embedding.set_weights(random_init_copy(model.embedding, config["seed"]).get_weights())
        rows["random init"] = pointer(random_model.embed)
        rows["raw-pixel attention (L)"] = pointer(lambda clip: raw_pixel_embed(clip, stride=stride, colour=False))
        rows["raw-pixel attention (Lab)"] = pointer(lambda clip: raw_pixel_embed(clip, stride=stride))
        rows["copy first mask"] = copy_first_mask
        rows["optical flow (TV-L1)"] = optical_flow_propagation
    results = {}
    for name, propagate in rows.items():
        print(f"tracking: {name}", flush=True)
        scores = evaluate_tracking(propagate, frames, masks, verbose=0)
        results[name] = {"J": float(scores["J"]), "F": float(scores["F"])}
    return results


def write_strip(model, data, config, path, clip=0):
    """A PNG: the test clip's frames, then the masks the learned pointer
    propagated from the first, then the true masks."""
    from PIL import Image

    from keras_ssl.data.videos import VideoClips, clip_strip
    from keras_ssl.evaluation.tracking import propagate_masks

    frames, truth = data.test.frames[clip][:STRIP_FRAMES], data.test.masks[clip][:STRIP_FRAMES]
    predicted = propagate_masks(model.embed, frames, truth[0], **propagation_settings(config))
    clips = VideoClips("strip", frames[None], truth[None])
    tracked = clip_strip(clips, 0, masks=predicted.astype("uint8"))
    true = clip_strip(clips, 0, masks=True)
    Image.fromarray(np.concatenate([tracked, true[tracked.shape[0] // 2 :]], axis=0)).save(path)
    return path

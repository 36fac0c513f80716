"""Random draws on two replicas fed the same images: are they different?

Run in a fresh process (the `cpu:2` strategy must split the CPU before
TensorFlow runs any op):

    python tests/workers/replica_randomness.py

Builds every augmenter and random draw of a train step inside
`MirroredStrategy` on two logical CPUs, runs each on the same batch on both
replicas in one `strategy.run`, and prints one JSON line per case:
`{"case": NAME, "equal": false}` when the two replicas' outputs differ (what
a global batch needs: N replicas must not make N copies of one set of
views). The case `plain_seed_generator` (a `keras.random.SeedGenerator`)
is the control: its draws are equal on both replicas.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def main():
    from keras_ssl.distribute import get_strategy

    strategy = get_strategy("cpu:2")  # Before any TF op.

    import keras
    import numpy as np
    import tensorflow as tf

    from keras_ssl import augment
    from keras_ssl.backbones import ConvNet
    from keras_ssl.distribute import ReplicaSeedGenerator
    from keras_ssl.methods import ContextEncoder, JigsawPuzzle, MixMatch, RelativePatchPosition

    images = tf.constant(np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3)), "float32")
    with strategy.scope():
        generator = ReplicaSeedGenerator(0)
        plain = keras.random.SeedGenerator(0)
        layers = {
            "simclr_augmenter": augment.SimCLRAugmenter((32, 32, 3), blur_rate=0.5, seed=0),
            "weak_augmenter": augment.WeakAugmenter((32, 32, 3), noise_stddev=10.0, seed=0),
            "random_resized_crop": augment.RandomResizedCrop(32, 32, seed=0),
            "color_jitter": augment.ColorJitter((0, 255), 0.4, 0.4, (0.1, 0.9), 0.1, seed=0),
            "random_apply": augment.RandomApply(keras.layers.RandomFlip("horizontal"), rate=0.5, seed=0),
            "gaussian_corruption": augment.GaussianCorruption(seed=0),
            "masking_corruption": augment.MaskingCorruption(seed=0),
            "salt_and_pepper_corruption": augment.SaltAndPepperCorruption(seed=0),
        }
        for layer in layers.values():
            layer.build(images.shape)
        backbone = ConvNet(input_shape=(32, 32, 3), filters=(4, 8))
        methods = {
            "jigsaw": JigsawPuzzle(ConvNet(input_shape=(9, 9, 3), filters=(4,)), seed=0),
            "relative_patch": RelativePatchPosition(ConvNet(input_shape=(9, 9, 3), filters=(4,)), seed=0),
            "context_encoder": ContextEncoder(backbone, seed=0),
            "mix_match": MixMatch(backbone, num_classes=4, seed=0),
        }

    def draws():
        out = {name: layer(images, training=True) for name, layer in layers.items()}
        out["mixup_weights"] = augment.sample_mixup_weights(8, 0.75, seed=generator)
        out["random_block_mask"] = augment.random_block_mask(images, seed=generator)
        out["random_region_mask"] = augment.random_region_mask(images, seed=generator)
        out["plain_seed_generator"] = keras.random.uniform((8,), seed=plain)
        # What each method's own per-example draws come from.
        for name, model in methods.items():
            out[f"{name}_replica_seed"] = keras.random.uniform((8,), seed=model.replica_seed_generator)
        return out

    results = tf.function(lambda: strategy.run(draws))()
    for name, value in results.items():
        first, second = (np.asarray(v) for v in strategy.experimental_local_results(value))
        print(json.dumps({"case": name, "equal": bool(np.allclose(first, second))}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

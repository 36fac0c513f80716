"""Records which images each worker of a MultiWorkerMirroredStrategy reads
from a streamed folder, through the zoo's input path.

Start one process per worker with the same cluster in `TF_CONFIG` and its
own task index:

    python tests/workers/multi_worker_shards.py --folder=IMAGES --output=ids0.json

The folder holds `tests.test_streams.numbered_folder` images (image i is a
flat grey of value 5 i). The worker builds the input as `zoo.train` does
(`runs.distribute_input` of `StreamedImageDataset.train_batches`, which
calls `strategy.distribute_datasets_from_function`), reads one pass of its
shard (`steps` per-replica batches), and writes the image numbers it got.
"""

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--batch_size", type=int, default=4, help="global batch")
    args = parser.parse_args(argv)

    from keras_ssl.distribute import get_strategy

    strategy = get_strategy("multi_worker")

    import numpy as np

    from keras_ssl.data import FolderDataset
    from zoo.runs import distribute_input

    data = FolderDataset(args.folder, image_size=8, test_fraction=0.0)
    steps = data.num_train // args.batch_size
    batches = iter(
        distribute_input(lambda context: data.train_batches(args.batch_size, input_context=context), strategy)
    )
    ids = []
    for _ in range(steps):
        for local in strategy.experimental_local_results(next(batches)):
            ids.extend(int(round(v / 5)) for v in np.asarray(local)[:, 0, 0, 0])
    with open(args.output, "w") as file:
        json.dump({"ids": ids, "replicas": int(strategy.num_replicas_in_sync), "train": data.num_train}, file)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""BERT pretraining (Devlin et al. 2019): masked LM + next-sentence
prediction on WordNet's glosses and examples, keras-hub's BertBackbone.

    python -m zoo.train --method=bert --model_dir=runs/bert
    python -m zoo.train --method=bert --dataset=all --model_dir=runs/bert_all
    python -m zoo.train --method=bert --model_dir=runs/bert_quick --quick
    python -m export.text_encoder --model_dir=runs/bert --export_base=serving/bert

Writes `vocab.txt` (the WordPiece vocabulary learned from the training
sentences) and `evaluation.json` (held-out masked-LM and NSP accuracy beside
the most-frequent-token and majority baselines; with `fine_tune` set, WordNet
gloss -> lexname accuracy fine-tuned from the pretrained and from a
random-init backbone) into the run directory.

Scaled down from BERT-base for a 2-core CPU: 4 layers of width 128
(Turc et al.'s "BERT-mini" depth at "BERT-tiny" width), sequences of 64
tokens, a 8000-piece vocabulary, a higher peak learning rate (1e-3; 1e-4 in
the paper, which trains 1M steps) with 5% warm-up.
"""


def get_config(quick=False):
    config = {
        "family": "language",
        "model": {"class": "BertPretraining", "next_sentence_weight": 1.0},
        "backbone": {"num_layers": 4, "num_heads": 4, "hidden_dim": 128, "intermediate_dim": 512, "dropout": 0.1},
        "vocabulary_size": 8000,
        "vocabulary_sentences": 50000,  # Learn the vocabulary from a sample (the learner is pure Python).
        "sequence_length": 64,
        "mask_selection_rate": 0.15,
        "mask_token_rate": 0.8,
        "random_token_rate": 0.1,
        "optimizer": {"class": "AdamW", "learning_rate": 1e-3, "weight_decay": 0.01, "warmup_fraction": 0.05},
        "epochs": 10,
        "batch_size": 64,
        "steps_per_epoch": None,  # None: one pass over the sentence pairs per epoch.
        "validation_pairs": 1024,
        "evaluation_pairs": 4096,
        "fine_tune": {"train_size": 10000, "test_size": 2000, "epochs": 3, "batch_size": 32, "learning_rate": 3e-4},
        "seed": 0,
        "corpus": "wordnet",
    }
    if quick:
        config["backbone"] = {
            "num_layers": 2,
            "num_heads": 2,
            "hidden_dim": 64,
            "intermediate_dim": 256,
            "dropout": 0.1,
        }
        config["vocabulary_size"] = 2000
        config["vocabulary_sentences"] = 5000
        config["optimizer"] = {**config["optimizer"], "learning_rate": 3e-3}
        config["sequence_length"] = 32
        config["epochs"] = 2
        config["batch_size"] = 32
        config["steps_per_epoch"] = 300
        config["validation_pairs"] = 256
        config["evaluation_pairs"] = 1024
        config["fine_tune"] = None
    return config

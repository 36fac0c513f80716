"""One recipe per family: what `zoo.runs.train` calls to train any method.

A recipe turns a config (plain data, `zoo.configs`) and the family's data
into a compiled model and what `fit` trains on, and finishes a run with the
family's plots and evaluation. The runner (`zoo.runs`) does the rest the
same way for every method: seeds, the run directory, resuming, callbacks,
saving.

    Recipe.data_key                 the config entry naming the data ("dataset", "corpus")
    Recipe.check_overrides(method, overrides)   flags that do not apply -> one-line ValueError
    Recipe.load_data(config)        the data (an image Dataset, a TextCorpus)
    Recipe.peek_data(config)        the data as far as complete_config needs it (a finished
                                    run's check; by default load_data, without its decoding)
    Recipe.complete_config(config, data)        entries known once the data is (image_shape)
    Recipe.build(config, data, model_dir, strategy)
                                    -> (model, fit data, fit keyword arguments)
    Recipe.callbacks(config, data)  the family's extra callbacks
    Recipe.finish(model, config, data, model_dir, history, chief)
                                    plots and evaluation after training

A new family adds a module here and an entry in `RECIPES`; a new method of an
existing family only adds its config.
"""

from zoo.recipes.base import Recipe
from zoo.recipes.density import DensityRecipe
from zoo.recipes.images import ImageRecipe
from zoo.recipes.language import LanguageRecipe
from zoo.recipes.semi_supervised import SemiSupervisedRecipe
from zoo.recipes.video import VideoRecipe

RECIPES = {
    "contrastive": ImageRecipe,
    "pretext": ImageRecipe,
    "autoencoding": ImageRecipe,
    "semi_supervised": SemiSupervisedRecipe,
    "language": LanguageRecipe,
    "density": DensityRecipe,
    "video": VideoRecipe,
}


def recipe_for(config):
    """The recipe of `config["family"]`."""
    family = config.get("family")
    if family not in RECIPES:
        raise ValueError(f"config family {family!r} has no recipe: use one of {', '.join(RECIPES)}")
    return RECIPES[family]()


__all__ = ["RECIPES", "Recipe", "recipe_for"]

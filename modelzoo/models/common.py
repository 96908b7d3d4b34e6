"""Parts the model builders share: a base for functional model classes, encoder stacks."""

import keras

from modelzoo.layers.transformer_encoder import TransformerEncoder

__all__ = []


class FunctionalModel(keras.Model):
    """Base of the functional models whose config is their constructor's arguments.

    A subclass (`GPT`, `BertBackbone`, `LstmGenerator`) builds its layers in
    `__init__`, passes inputs and outputs to `super().__init__` and returns
    its arguments from `get_config`, the dtype policy serialized.
    `from_config` calls the constructor with them, the policy deserialized,
    so the subclass, not a plain `keras.Model`, comes back (KerasHub's
    `Backbone` does the same).

    Example:
    >>> from modelzoo.models.lstm_generator import build_lstm_generator
    >>> model = build_lstm_generator(30, embed_dim=8, lstm_units=(16,))
    >>> clone = type(model).from_config(model.get_config())
    >>> type(clone).__name__, clone.get_config() == model.get_config()
    ('LstmGenerator', True)
    """

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
        return cls(**config)


def encoder_stack(x, num_layers, **kwargs):
    """`x` through `num_layers` `TransformerEncoder(**kwargs)` blocks, `encoder_0`, ....

    Example:
    >>> x = keras.Input((5, 8))
    >>> y = encoder_stack(x, 2, intermediate_dim=16, num_heads=2)
    >>> [layer.name for layer in keras.Model(x, y).layers[1:]]
    ['encoder_0', 'encoder_1']
    """
    for i in range(num_layers):
        x = TransformerEncoder(name=f"encoder_{i}", **kwargs)(x)
    return x


class CharLanguageModel(FunctionalModel):
    """Base of the character language models (`GPT`, `LstmGenerator`): their `generate`.

    A subclass provides `_make_sampler()`, the exported generator's sampler
    built on this model, which `generate` builds once and reuses.
    """

    def _make_sampler(self):
        raise NotImplementedError

    def generate(self, prompts, max_length=200, sampler="greedy", temperature=1.0, top_k=None,
                 top_p=None, seed=None, stop=None, strip_prompt=False, jit_compile=False):
        """Continues each prompt, with the exported generator's own sampler.

        The same function as the export's `serving_default` (see
        `modelzoo.export.char_sampling`), called in this process: given the
        same inputs and `seed`, Python and the export give the same text.
        The model must hold its character table (`vocabulary`).

        Args:
            prompts: str or list of str.
            max_length: int. Characters to generate after each prompt (the
                export's `num_chars`); at most 2,000. Defaults to `200`.
            sampler: str. `"greedy"` (argmax), `"top_k"` or `"top_p"`.
                Defaults to `"greedy"`.
            temperature: float > 0. Logits are divided by it before sampling;
                ignored by `"greedy"`. Defaults to `1.0`.
            top_k: int or None. Sample among the `top_k` likeliest; None is
                10 for `"top_k"` and no limit for `"top_p"`. Defaults to `None`.
            top_p: float in (0, 1] or None. `"top_p"` samples from the
                smallest set of likeliest characters whose probability
                reaches it; None is 0.9. Defaults to `None`.
            seed: int in [0, 2**31) or None. The same seed and settings give
                the same text (stateless sampling); None draws one. Defaults
                to `None`.
            stop: str, list of str or None. A row ends at the first of these
                it generates; the text excludes it. Defaults to `None`.
            strip_prompt: bool. Return only the continuation. Defaults to
                `False`.
            jit_compile: bool. Run the loop compiled by XLA (the export's
                `generate_xla`). Defaults to `False`.

        Returns:
            The prompt(s) with their continuation: a str for a str prompt,
            else a list of str.

        Raises:
            ValueError: naming the first bad argument and its value.

        Example:
        >>> model = modelzoo.from_preset("shakespeare_gpt")  # doctest: +SKIP
        >>> model.generate("ROMEO:", 50, sampler="top_p", top_p=0.9, seed=1)  # doctest: +SKIP
        """
        from modelzoo.export import char_sampling

        generator = self.__dict__.get("_generator")
        if generator is None:
            generator = self._make_sampler()
            # Not a tracked attribute: the sampler holds no weights of its own.
            object.__setattr__(self, "_generator", generator)
        return char_sampling.generate(
            generator, prompts, max_length, sampler, temperature, top_k, top_p, seed, stop,
            strip_prompt, jit_compile)

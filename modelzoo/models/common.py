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

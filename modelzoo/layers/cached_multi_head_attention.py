"""Multi-head attention that can also attend through a key/value cache."""

import keras
import numpy as np
from keras import ops

__all__ = ["CachedMultiHeadAttention"]


@keras.saving.register_keras_serializable(package="modelzoo")
class CachedMultiHeadAttention(keras.layers.MultiHeadAttention):
    """`keras.layers.MultiHeadAttention` with a key/value cache for decoding.

    Without `cache` it is exactly its parent. With
    `cache=(key_cache, value_cache)`, each `[batch, max_length,
    num_heads * key_dim]` (`empty_cache` makes one), it is causal self-attention of `query` `[batch, n, dim]`
    placed at positions `cache_update_index .. cache_update_index + n - 1`:
    the new keys and values are written into the cache there, each query
    attends to the cached positions up to its own, and the call returns
    `(outputs, (key_cache, value_cache))`. Fed token by token, it gives the
    outputs of the uncached causal call on the whole prefix (up to float
    rounding) at a cost linear in `max_length` per new position.

    The cached path uses the layer's own projection weights, but computes
    with plain matmuls and elementwise products instead of the parent's
    einsums: at one query per step, oneDNN's einsum, batched matmul,
    transpose and softmax kernels cost far more per call than their
    arithmetic (measured in the GPT generator's profile).

    Args:
        num_heads: int. Number of attention heads.
        key_dim: int. Size of each head for query and key (and value).
        **kwargs: every other `keras.layers.MultiHeadAttention` argument,
            e.g. `dropout`, `kernel_initializer`, `name`, `dtype`.

    Returns:
        Without a cache, the attention output `[batch, n, dim]`; with one,
        the tuple `(outputs, (key_cache, value_cache))`.

    Example:
    >>> layer = CachedMultiHeadAttention(num_heads=2, key_dim=4)
    >>> x = np.random.rand(1, 3, 8).astype("float32")
    >>> cache = layer.empty_cache(1, 5, dtype="float32")
    >>> outputs, cache = layer(x, x, cache=cache, cache_update_index=0)
    >>> tuple(outputs.shape), tuple(cache[0].shape)
    ((1, 3, 8), (1, 5, 8))
    """

    def call(
        self,
        query,
        value,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
        cache=None,
        cache_update_index=None,
    ):
        if cache is None:
            return super().call(
                query, value, key=key, query_mask=query_mask, value_mask=value_mask,
                key_mask=key_mask, attention_mask=attention_mask,
                return_attention_scores=return_attention_scores, training=training,
                use_causal_mask=use_causal_mask,
            )
        if cache_update_index is None:
            raise ValueError("`cache_update_index` is needed with a `cache`.")
        return self._call_with_cache(query, cache, cache_update_index)

    def empty_cache(self, batch_size, max_length, dtype=None):
        """A zero `(key_cache, value_cache)`, each `[batch, max_length, num_heads * key_dim]`."""
        shape = (batch_size, max_length, self.num_heads * self.key_dim)
        dtype = dtype or self.compute_dtype
        return ops.zeros(shape, dtype=dtype), ops.zeros(shape, dtype=dtype)

    def _project(self, dense, x):
        # EinsumDense as one matmul on [tokens, dim]; heads stay side by side.
        kernel = ops.cast(dense.kernel, x.dtype)
        y = ops.matmul(x, ops.reshape(kernel, (x.shape[-1], -1)))
        if dense.bias is None:
            return y
        return y + ops.reshape(ops.cast(dense.bias, x.dtype), (-1,))

    def _call_with_cache(self, x, cache, index):
        # Shapes are kept static wherever they are known (`length` is, in a
        # decoding loop): each dynamic shape costs graph ops at every step.
        length, width = x.shape[1] or ops.shape(x)[1], self.num_heads * self.key_dim
        key_cache, value_cache = cache
        max_length = key_cache.shape[1] or ops.shape(key_cache)[1]
        flat = ops.reshape(x, (-1, x.shape[-1]))
        # [batch, length, heads * key_dim], scaled as the parent scales queries.
        scale = ops.cast(1.0 / self.key_dim**0.5, x.dtype)
        query = ops.reshape(self._project(self._query_dense, flat) * scale, (-1, length, width))
        new_key = ops.reshape(self._project(self._key_dense, flat), (-1, length, width))
        new_value = ops.reshape(self._project(self._value_dense, flat), (-1, length, width))
        positions = index + ops.arange(length, dtype="int32")
        # Scatter, not `ops.slice_update`: TensorFlow runs the latter's
        # XlaDynamicUpdateSlice by compiling it on demand, ~8 us a call
        # (measured), while the scatter updates the loop's buffer in place.
        rows = ops.arange(ops.shape(x)[0], dtype="int32")
        where = ops.stack(ops.meshgrid(rows, positions, indexing="ij"), axis=-1)
        key_cache = ops.scatter_update(key_cache, where, new_key)
        value_cache = ops.scatter_update(value_cache, where, new_value)
        # head_of[i, h] = 1 where feature i belongs to head h: summing each
        # head's features is one small matmul, and every product stays 4-D
        # (5-D broadcasts are far slower in TensorFlow's CPU kernels).
        head_of = np.equal.outer(np.arange(width) // self.key_dim, np.arange(self.num_heads))
        head_of = ops.convert_to_tensor(head_of, dtype=x.dtype)
        products = query[:, :, None, :] * key_cache[:, None, :, :]
        scores = ops.matmul(ops.reshape(products, (-1, width)), head_of)
        # [batch, queries, keys, heads]; softmax over the keys.
        scores = ops.reshape(scores, (-1, length, max_length, self.num_heads))
        visible = ops.arange(max_length, dtype="int32")[None, :] <= positions[:, None]
        scores = ops.where(visible[None, :, :, None], scores, ops.cast(-1e9, scores.dtype))
        weights = ops.exp(scores - ops.max(scores, axis=2, keepdims=True))
        weights = weights / ops.sum(weights, axis=2, keepdims=True)
        weights = ops.matmul(ops.reshape(weights, (-1, self.num_heads)), ops.transpose(head_of))
        weights = ops.reshape(weights, (-1, length, max_length, width))
        attended = ops.sum(weights * value_cache[:, None, :, :], axis=2)
        outputs = self._project(self._output_dense, ops.reshape(attended, (-1, width)))
        return ops.reshape(outputs, (-1, length, outputs.shape[-1])), (key_cache, value_cache)

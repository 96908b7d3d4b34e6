"""Multi-head attention that can also attend through a key/value cache."""

import contextlib

import keras
from keras import ops

__all__ = ["CachedMultiHeadAttention"]


@keras.saving.register_keras_serializable(package="modelzoo")
class CachedMultiHeadAttention(keras.layers.MultiHeadAttention):
    """`keras.layers.MultiHeadAttention` with a key/value cache for decoding.

    Without `cache` it is exactly its parent. With `cache`, the keys and
    values stacked in one tensor `[2, max_length, batch, num_heads *
    key_dim]` (`cache[0]` the keys, `cache[1]` the values; `empty_cache`
    makes one), it is causal
    self-attention of `query` `[batch, n, dim]` placed at positions
    `cache_update_index .. cache_update_index + n - 1`: the new keys and
    values are written into the cache there, each query attends to the
    cached positions up to its own, and the call returns
    `(outputs, cache)`. Fed token by token, it gives the
    outputs of the uncached causal call on the whole prefix (up to float
    rounding) at a cost linear in `max_length` per new position.

    The cache is position-major, so writing one position is an in-place
    update of two contiguous rows (one `scatter_update`, at `[0, position]`
    and `[1, position]`) whatever the batch size, and a decoding loop
    carries one tensor per layer. The cached path uses the layer's own weights,
    with the query, key and value projections fused into one matmul
    (`decoding_weights`). A prompt of n tokens is read in one pass with
    batched matmuls; one token at a time, the attention is a few
    elementwise products and reductions instead, because at one query per
    step oneDNN's batched matmul and transpose kernels cost far more per
    call than their arithmetic (measured in the GPT generator's profile).

    Args:
        num_heads: int. Number of attention heads.
        key_dim: int. Size of each head for query and key (and value).
        **kwargs: every other `keras.layers.MultiHeadAttention` argument,
            e.g. `dropout`, `kernel_initializer`, `name`, `dtype`.

    Returns:
        Without a cache, the attention output `[batch, n, dim]`; with one,
        the tuple `(outputs, cache)`.

    Example:
    >>> layer = CachedMultiHeadAttention(num_heads=2, key_dim=4)
    >>> x = np.random.rand(1, 3, 8).astype("float32")
    >>> cache = layer.empty_cache(1, 5, dtype="float32")
    >>> outputs, cache = layer(x, x, cache=cache, cache_update_index=0)
    >>> tuple(outputs.shape), tuple(cache.shape)
    ((1, 3, 8), (2, 5, 1, 8))
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
        """A zero cache `[2, max_length, batch, num_heads * key_dim]` (keys, values)."""
        shape = (2, max_length, batch_size, self.num_heads * self.key_dim)
        return ops.zeros(shape, dtype=dtype or self.compute_dtype)

    def decoding_weights(self):
        """The cached path's weights, from the layer's own variables.

        Returns:
            A dict: `qkv_kernel` `[dim, 3 * num_heads * key_dim]` (the query,
            key and value kernels side by side, the query's already scaled
            by `1 / sqrt(key_dim)` as the parent scales queries),
            `qkv_bias` (or None without biases), `output_kernel`
            `[num_heads * key_dim, dim]` and `output_bias` (or None).
        """
        width = self.num_heads * self.key_dim
        scale = 1.0 / self.key_dim**0.5
        dense = (self._query_dense, self._key_dense, self._value_dense)
        kernels = [ops.reshape(d.kernel, (-1, width)) for d in dense]
        weights = {
            "qkv_kernel": ops.concatenate([kernels[0] * scale, *kernels[1:]], axis=-1),
            "qkv_bias": None,
            "output_kernel": ops.reshape(self._output_dense.kernel, (width, -1)),
            "output_bias": self._output_dense.bias,
        }
        if self._query_dense.bias is not None:
            biases = [ops.reshape(d.bias, (-1,)) for d in dense]
            weights["qkv_bias"] = ops.concatenate([biases[0] * scale, *biases[1:]], axis=-1)
        return weights

    def _call_with_cache(self, x, cache, index):
        # Shapes are kept static wherever they are known (`length` is, in a
        # decoding loop): each dynamic shape costs graph ops at every step.
        weights = self._hoisted or self.decoding_weights()
        length = x.shape[1] or ops.shape(x)[1]
        heads, head_dim, width = self.num_heads, self.key_dim, self.num_heads * self.key_dim
        max_length = cache.shape[1] or ops.shape(cache)[1]
        dtype = x.dtype
        qkv = ops.matmul(ops.reshape(x, (-1, x.shape[-1])), ops.cast(weights["qkv_kernel"], dtype))
        if weights["qkv_bias"] is not None:
            qkv = qkv + ops.cast(weights["qkv_bias"], dtype)
        # [batch * length, width] each, rows in (batch, position) order.
        query, key, value = ops.split(qkv, 3, axis=-1)
        positions = index + ops.arange(length, dtype="int32")
        # [2, length, batch, width] rows written in place at [part, position].
        parts = ops.arange(2, dtype="int32")[:, None] + 0 * positions[None, :]
        where = ops.stack([parts, ops.broadcast_to(positions[None, :], ops.shape(parts))], -1)
        new = ops.stack([self._position_major(key, length), self._position_major(value, length)])
        cache = ops.scatter_update(cache, where, new)
        key_cache, value_cache = cache[0], cache[1]
        # visible[q, k]: key position k is at or before query position q.
        visible = ops.arange(max_length, dtype="int32")[None, :] <= positions[:, None]
        if x.shape[1] == 1:
            # One query: per-head dot products as a product and a sum over
            # each head's features, softmax over the positions (axis 0).
            keys = ops.reshape(key_cache, (max_length, -1, heads, head_dim))
            scores = ops.sum(ops.reshape(query, (1, -1, heads, head_dim)) * keys, axis=-1)
            scores = ops.where(ops.reshape(visible, (max_length, 1, 1)), scores, -1e9)
            probs = ops.exp(scores - ops.max(scores, axis=0, keepdims=True))
            probs = probs / ops.sum(probs, axis=0, keepdims=True)
            values = ops.reshape(value_cache, (max_length, -1, heads, head_dim))
            attended = ops.sum(probs[..., None] * values, axis=0)
        else:
            # [batch, heads, length, head_dim] queries against
            # [batch, heads, head_dim, max_length] keys.
            query = ops.transpose(ops.reshape(query, (-1, length, heads, head_dim)), (0, 2, 1, 3))
            keys = ops.transpose(
                ops.reshape(key_cache, (max_length, -1, heads, head_dim)), (1, 2, 3, 0)
            )
            scores = ops.where(visible, ops.matmul(query, keys), -1e9)
            probs = ops.softmax(scores, axis=-1)
            values = ops.transpose(
                ops.reshape(value_cache, (max_length, -1, heads, head_dim)), (1, 2, 0, 3)
            )
            attended = ops.transpose(ops.matmul(probs, values), (0, 2, 1, 3))
        attended = ops.reshape(attended, (-1, width))
        outputs = ops.matmul(attended, ops.cast(weights["output_kernel"], dtype))
        if weights["output_bias"] is not None:
            outputs = outputs + ops.cast(weights["output_bias"], dtype)
        return ops.reshape(outputs, (-1, length, outputs.shape[-1])), cache

    _hoisted = None

    @contextlib.contextmanager
    def hoisted_weights(self, weights):
        """Makes the cached calls traced inside use `weights` as `decoding_weights`.

        A decoding loop passes variables holding `decoding_weights()` (kept
        up to date by its owner): a step then reads the fused kernels instead
        of concatenating and reshaping the layer's own at every step.

        Args:
            weights: a dict like `decoding_weights()`'s, e.g. of variables.
        """
        # A plain attribute: Keras must not track these as the layer's state.
        object.__setattr__(self, "_hoisted", weights)
        try:
            yield
        finally:
            object.__setattr__(self, "_hoisted", None)

    @staticmethod
    def _position_major(rows, length):
        # [batch * length, width] in (batch, position) order → [length, batch, width].
        if isinstance(length, int) and length == 1:
            return rows[None]
        return ops.transpose(ops.reshape(rows, (-1, length, rows.shape[-1])), (1, 0, 2))

"""The peers modelzoo is measured against, re-implemented faithfully.

- `seed_mlp`: the TensorFlow 2 quickstart ("seed tutorial") MLP, trained on
  x/255 numpy arrays with `model.fit(x, y, epochs=5)` (batch 32, Adam
  defaults).
- `torch_cnn_train`: the classic PyTorch MNIST example's training loop with
  the architecture of `modelzoo.models.cnn` (5×5 'same' convs), SGD with
  momentum, batch 64.
- `keras_io_transformer`: keras-io `text_classification_with_transformer.py`.
- `keras_io_lstm` / `keras_io_generate`: keras-io
  `lstm_character_level_text_generation.py`.

The Keras peers are written for Keras 3 as the current keras-io versions of
those examples are, and import `keras` lazily so the PyTorch worker never
loads TensorFlow.
"""

import time

import numpy as np

from benchmarks import common

# --- the TF quickstart MLP ---------------------------------------------------


def seed_mlp():
    """Flatten → Dense(128, relu) → Dropout(0.2) → Dense(10), compiled as the quickstart."""
    import keras

    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28)),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(10),
        ]
    )
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


# --- keras-io text classification with a Transformer -------------------------


def keras_io_transformer(maxlen=200, vocab_size=20000, embed_dim=32, num_heads=2, ff_dim=32):
    """The keras-io IMDB Transformer classifier, compiled as in the example."""
    import keras
    from keras import layers, ops

    class TransformerBlock(layers.Layer):
        def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
            super().__init__()
            self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.ffn = keras.Sequential(
                [layers.Dense(ff_dim, activation="relu"), layers.Dense(embed_dim)]
            )
            self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
            self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
            self.dropout1 = layers.Dropout(rate)
            self.dropout2 = layers.Dropout(rate)

        def call(self, inputs):
            attn_output = self.att(inputs, inputs)
            attn_output = self.dropout1(attn_output)
            out1 = self.layernorm1(inputs + attn_output)
            ffn_output = self.ffn(out1)
            ffn_output = self.dropout2(ffn_output)
            return self.layernorm2(out1 + ffn_output)

    class TokenAndPositionEmbedding(layers.Layer):
        def __init__(self, maxlen, vocab_size, embed_dim):
            super().__init__()
            self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
            self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

        def call(self, x):
            maxlen = ops.shape(x)[-1]
            positions = ops.arange(start=0, stop=maxlen, step=1)
            positions = self.pos_emb(positions)
            x = self.token_emb(x)
            return x + positions

    inputs = layers.Input(shape=(maxlen,))
    x = TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)(inputs)
    x = TransformerBlock(embed_dim, num_heads, ff_dim)(x)
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dropout(0.1)(x)
    x = layers.Dense(20, activation="relu")(x)
    x = layers.Dropout(0.1)(x)
    outputs = layers.Dense(2, activation="softmax")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


# --- keras-io character-level LSTM text generation ---------------------------


def keras_io_sentences(text, maxlen=40, step=3, max_examples=None):
    """The example's `(sentences, next_chars)`: 40-char windows every 3 chars."""
    sentences, next_chars = [], []
    for i in range(0, len(text) - maxlen, step):
        sentences.append(text[i : i + maxlen])
        next_chars.append(text[i + maxlen])
        if max_examples and len(sentences) >= max_examples:
            break
    return sentences, next_chars


def keras_io_vectorize(sentences, next_chars, char_indices, maxlen=40):
    """One-hot bool `x [n, maxlen, chars]` and `y [n, chars]`, as the example."""
    x = np.zeros((len(sentences), maxlen, len(char_indices)), dtype="bool")
    y = np.zeros((len(sentences), len(char_indices)), dtype="bool")
    for i, sentence in enumerate(sentences):
        for t, char in enumerate(sentence):
            x[i, t, char_indices[char]] = 1
        y[i, char_indices[next_chars[i]]] = 1
    return x, y


def keras_io_lstm(maxlen, num_chars, units=128):
    """LSTM(128) → Dense(chars, softmax), RMSprop(0.01), as in the example."""
    import keras
    from keras import layers

    model = keras.Sequential(
        [
            keras.Input(shape=(maxlen, num_chars)),
            layers.LSTM(units),
            layers.Dense(num_chars, activation="softmax"),
        ]
    )
    model.compile(
        loss="categorical_crossentropy", optimizer=keras.optimizers.RMSprop(learning_rate=0.01)
    )
    return model


def keras_io_sample(preds, temperature=1.0, rng=np.random):
    """The example's `sample`: reweight by temperature, draw one index."""
    preds = np.asarray(preds).astype("float64")
    preds = np.log(preds) / temperature
    exp_preds = np.exp(preds)
    preds = exp_preds / np.sum(exp_preds)
    probas = rng.multinomial(1, preds, 1)
    return int(np.argmax(probas))


def keras_io_generate(model, sentence, chars, char_indices, num_chars, temperature, maxlen=40):
    """The example's generation loop: one `model.predict` per character."""
    generated = ""
    for _ in range(num_chars):
        x_pred = np.zeros((1, maxlen, len(chars)))
        for t, char in enumerate(sentence):
            x_pred[0, t, char_indices[char]] = 1.0
        preds = model.predict(x_pred, verbose=0)[0]
        next_char = chars[keras_io_sample(preds, temperature)]
        sentence = sentence[1:] + next_char
        generated += next_char
    return generated


# --- the classic PyTorch MNIST loop, modelzoo's CNN architecture -------------


def torch_cnn():
    """The CNN in PyTorch (5x5 'same' convs 32/64, max-pool 2, FC 128, FC 10)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 5, padding=2)
            self.conv2 = nn.Conv2d(32, 64, 5, padding=2)
            self.fc1 = nn.Linear(7 * 7 * 64, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = torch.flatten(x, 1)
            x = F.relu(self.fc1(x))
            return F.log_softmax(self.fc2(x), dim=1)

    return Net()


def torch_cnn_train(data, epochs, target, stop_at_target, seed=0, threads=2,
                    batch_size=64, lr=0.01, momentum=0.9, log=print):
    """Trains the CNN with PyTorch and returns an `AccuracyClock` summary.

    As the classic example (pytorch/examples mnist): pixels scaled to [0, 1]
    and normalized with the training mean and std, SGD(lr=0.01, momentum),
    batch 64, cross-entropy on log-softmax outputs, test accuracy after each
    epoch. The data sit in memory as tensors (a permutation indexes the
    batches each epoch) rather than behind a per-image `DataLoader`, which
    only makes the peer faster.

    Args:
        data: dict of numpy arrays `x_train` uint8 `[n, 28, 28, 1]`,
            `y_train`, `x_test`, `y_test`.
    """
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    torch.manual_seed(seed)

    def tensors(images, labels):
        x = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).float() / 255.0
        return x, torch.from_numpy(labels.astype("int64"))

    start = time.perf_counter()
    x_train, y_train = tensors(data["x_train"], data["y_train"])
    x_test, y_test = tensors(data["x_test"], data["y_test"])
    mean, std = x_train.mean(), x_train.std()
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std

    data_seconds = time.perf_counter() - start
    model = torch_cnn()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    clock = common.AccuracyClock(target)

    def evaluate():
        model.eval()
        correct = 0
        with torch.no_grad():
            for i in range(0, len(x_test), 1000):
                pred = model(x_test[i : i + 1000]).argmax(dim=1)
                correct += int((pred == y_test[i : i + 1000]).sum())
        return correct / len(x_test)

    clock.start()
    for epoch in range(epochs):
        clock.epoch_begin()
        model.train()
        perm = torch.randperm(len(x_train))
        for i in range(0, len(x_train), batch_size):
            idx = perm[i : i + batch_size]
            optimizer.zero_grad()
            loss = F.nll_loss(model(x_train[idx]), y_train[idx])
            loss.backward()
            optimizer.step()
        accuracy = clock.epoch_end(evaluate)
        log(f"[cnn] pytorch epoch {epoch + 1}: test accuracy {accuracy:.4f} "
            f"at {clock.train_seconds():.1f}s")
        if stop_at_target and clock.reached():
            break
    summary = clock.summary(len(x_train))
    summary["settings"] = dict(batch_size=batch_size, learning_rate=lr, momentum=momentum,
                               optimizer="SGD", threads=threads, max_epochs=epochs,
                               stop_at_target=stop_at_target)
    summary["torch_version"] = torch.__version__
    summary["data_load_seconds"] = round(data_seconds, 3)
    return summary


def timed(fn, *args, **kwargs):
    """`(result, seconds)` of one call."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start

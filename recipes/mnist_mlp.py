"""Train the quickstart MLP on MNIST or Fashion-MNIST and export it.

    python recipes/mnist_mlp.py --manual_dir=MANUAL_DIR   # MNIST, prepared by TFDS offline
    python recipes/mnist_mlp.py --dataset=fashion_mnist --data_dir=DIR --download=false

The defaults are the experiment `mnist_mlp` (modelzoo/configs/image_classification.py);
`--help` lists every flag.
"""

from modelzoo.recipe import main

if __name__ == "__main__":
    main("mnist_mlp")

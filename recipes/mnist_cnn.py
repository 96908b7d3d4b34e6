"""Train the two-block CNN on MNIST or Fashion-MNIST and export it.

    python recipes/mnist_cnn.py --manual_dir=MANUAL_DIR
    python recipes/mnist_cnn.py --dataset=fashion_mnist --data_dir=DIR --download=false

The defaults are the experiment `mnist_cnn` (modelzoo/configs/image_classification.py);
`--help` lists every flag.
"""

from modelzoo.recipe import main

if __name__ == "__main__":
    main("mnist_cnn")

"""Train a small Vision Transformer on MNIST or Fashion-MNIST and export it.

    python recipes/mnist_vit.py --manual_dir=MANUAL_DIR --seed=0

The defaults are the experiment `mnist_vit` (modelzoo/configs/image_classification.py);
`--help` lists every flag.
"""

from modelzoo.recipe import main

if __name__ == "__main__":
    main("mnist_vit")

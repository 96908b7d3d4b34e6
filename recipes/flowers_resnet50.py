"""Fine-tune an ImageNet ResNet50 on TFDS tf_flowers (or a folder of images).

    python recipes/flowers_resnet50.py --weights=resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5
    python recipes/flowers_resnet50.py --image_dir=photos --image_size=160 --fine_tune_layers=30

The head trains first with the backbone frozen; --fine_tune_layers then
unfreezes the backbone's top layers for --fine_tune_epochs at a lower rate.
The export takes encoded JPEG/PNG bytes and decodes and resizes in the graph.

The defaults are the experiment `flowers_resnet50` (modelzoo/configs/transfer_classification.py);
`--help` lists every flag.
"""

from modelzoo.recipe import main

if __name__ == "__main__":
    main("flowers_resnet50")

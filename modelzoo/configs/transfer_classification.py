"""ImageNet backbones fine-tuned on tf_flowers or a folder of images."""

from modelzoo.configs import register_experiment
from modelzoo.experiment_config import OptimizerConfig, TrainingConfig
from modelzoo.models.transfer import TransferConfig
from modelzoo.tasks.transfer_classification import (
    ImageDataConfig,
    TransferClassificationConfig,
)


@register_experiment("flowers_resnet50", smoke=dict(epochs=1, batch_size=4, image_size=32, weights="none"))
def flowers_resnet50():
    """ResNet-50's head on tf_flowers, then optionally its top layers."""
    return TransferClassificationConfig(
        data=ImageDataConfig(image_size=224, validation_fraction=0.15),
        model=TransferConfig(backbone="resnet50", weights="imagenet", dropout=0.2),
        optimizer=OptimizerConfig(learning_rate=1e-3),
        training=TrainingConfig(epochs=5, batch_size=32),
    )

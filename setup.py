from setuptools import find_packages, setup

setup(
    name="modelzoo",
    version="0.1.0",
    description="Keras 3 / TensorFlow model zoo: builders, recipes and TF Serving exports.",
    python_requires=">=3.11,<3.12",
    packages=find_packages(include=["modelzoo", "modelzoo.*"]),
    install_requires=[
        "tensorflow~=2.21.0",
        "keras>=3.15,<4",
        "tensorflow-datasets~=4.9.10",
        # TFDS's store_as_tfds_dataset imports it without declaring it.
        "importlib_resources",
        "tensorflow-text~=2.21.0",
        "absl-py",
        # TensorFlow 2.21 no longer pulls it in; --model_dir writes TensorBoard logs.
        "tensorboard",
        # The PredictionLog/PredictRequest protos of the warm-up records and the
        # ModelServerConfig of `modelzoo serving-config`; `pip check` is clean with TF 2.21.
        "tensorflow-serving-api~=2.21.0",
    ],
    extras_require={
        "test": ["pytest>=8", "pytest-timeout", "pytest-xdist", "hypothesis", "matplotlib"],
        # The CPU build: on Linux, plain torch==2.13.0 is the CUDA one.
        "bench": ["matplotlib", "torch==2.13.0+cpu"],
        # TensorFlow with its CUDA libraries, for a GPU machine without a system CUDA.
        "gpu": ["tensorflow[and-cuda]~=2.21.0"],
    },
    entry_points={"console_scripts": ["modelzoo=modelzoo.cli:main"]},
)

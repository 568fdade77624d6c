"""The DCASE 2020 Task 2 baseline autoencoder, as the official keras_model.get_model builds it.

Dense 640→128→128→128→128→8→128→128→128→128→640; every hidden Dense is followed by
BatchNormalization and ReLU, the output layer is linear. Keras defaults throughout
(Glorot-uniform weights, zero biases, BatchNorm momentum 0.99, epsilon 1e-3).
"""
import keras
from keras import layers


def dense_block(x, units: int):
    x = layers.Dense(units)(x)
    x = layers.BatchNormalization()(x)
    return layers.Activation("relu")(x)


def build_model(input_shape, hidden: int = 128, bottleneck: int = 8, depth: int = 4) -> keras.Model:
    """The autoencoder. [shape=(batch, dims)] -> [shape=(batch, dims)]"""
    (dims,) = input_shape
    inputs = keras.Input(shape=(dims,))
    x = inputs
    for units in [hidden] * depth + [bottleneck] + [hidden] * depth:
        x = dense_block(x, units)
    outputs = layers.Dense(dims)(x)
    return keras.Model(inputs=inputs, outputs=outputs)

"""
Keras model of the MLaaS4HEP compatibility test, written as MLaaS4HEP's examples write
theirs: model(idim) returns a compiled keras.Sequential model.
"""
import tensorflow as tf
from tensorflow import keras
from keras.models import Sequential
from keras.layers import Dense


def model(idim):
    "Simple Keras model for testing purposes"
    ml_model = keras.Sequential([keras.layers.Dense(64, activation='relu', input_shape=(idim,), name='inputs'),
                                 keras.layers.Dropout(0.3),
                                 keras.layers.Dense(32, activation='relu'),
                                 keras.layers.Dropout(0.3),
                                 keras.layers.Dense(1, activation='sigmoid')])
    ml_model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss=keras.losses.BinaryCrossentropy(),
                     metrics=[keras.metrics.BinaryAccuracy(name='accuracy'), keras.metrics.AUC(name='auc')])
    return ml_model

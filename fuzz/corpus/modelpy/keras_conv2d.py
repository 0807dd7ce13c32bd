from tensorflow import keras
from tensorflow.keras import layers

def model(idim):
    m = keras.Sequential()
    m.add(layers.Dense(64, activation="relu", input_shape=(idim,)))
    m.add(layers.Conv2D(32, 3))
    return m

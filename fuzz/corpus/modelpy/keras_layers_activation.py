# Two-class softmax classifier, layers and activations as separate objects.
from keras.models import Sequential
from keras.layers import Dense, Activation, Dropout


def model(idim):
    "softmax over two classes"
    net = Sequential([
        Dense(48, input_shape=(idim,)),
        Activation('tanh'),
        Dropout(0.25),
        Dense(2),  # two output units
        Activation('softmax'),
    ])
    net.compile(optimizer='sgd', \
                loss='sparse_categorical_crossentropy', \  # trailing comment after a continuation
                metrics=['accuracy'])
    return net

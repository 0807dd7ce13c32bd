import tensorflow as tf
def build_model(n_hidden=3, width=64):
    model = tf.keras.Sequential()
    model.add(tf.keras.Input(shape=(45,)))
    for i in range(n_hidden):
        model.add(tf.keras.layers.Dense(width // (2 ** i), activation=tf.nn.relu, kernel_regularizer=tf.keras.regularizers.l2(1e-4), kernel_initializer='he_normal'))
        model.add(tf.keras.layers.BatchNormalization())
    model.add(tf.keras.layers.Dense(4))
    model.compile(optimizer=tf.keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model

/* test_modelpy.c - the model.py reader (model/modelpy.h): the Keras and PyTorch forms
 * MLaaS4HEP users write give exactly the expected MLP spec (checked as whole JSON
 * documents), the specs build with mlp_build, and everything the reader cannot or will
 * not read is refused with the file, the line and what it is. Limits (steps, nesting,
 * calls, list sizes, file size) end hostile files quickly. The MLaaS4HEP example files of
 * tests/data/mlaas4hep are read too. */
#include <stdlib.h>

#include "model/mlp.h"
#include "model/modelpy.h"
#include "test.h"

/* src must read into a spec equal to the JSON text want. */
static int reads_as(const char *src, const char *want)
{
    json_t *spec = NULL, *w = json_loads(want, 0, NULL);
    mlhep_err e;
    int rc = modelpy_read(src, strlen(src), "m.py", &spec, &e);
    int ok = rc == 0 && w && json_equal(spec, w);
    if (!ok) {
        char *got = spec ? json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        printf("  got %s\n  want %s\n", rc ? e.msg : got, want);
        free(got);
    }
    json_decref(spec);
    json_decref(w);
    return ok;
}

/* src must be refused with code and a message starting "m.py:LINE: " that holds what. */
static int refused(const char *src, int code, int line, const char *what)
{
    json_t *spec = NULL;
    mlhep_err e;
    int rc = modelpy_read(src, strlen(src), "m.py", &spec, &e);
    char prefix[32];
    if (line > 0)
        snprintf(prefix, sizeof prefix, "m.py:%d: ", line);
    else
        snprintf(prefix, sizeof prefix, "m.py: ");
    int ok = rc == code && !spec && !strncmp(e.msg, prefix, strlen(prefix)) && strstr(e.msg, what);
    if (!ok)
        printf("  rc %d (want %d): %s\n  (want '%s...%s')\n", rc, code, rc ? e.msg : "(read)", prefix, what);
    json_decref(spec);
    return ok;
}

TEST(keras_list_form)
{
    CHECK(reads_as("\"\"\"Docstring\"\"\"\n"
                   "from tensorflow import keras\n"
                   "from keras.models import Sequential\n"
                   "\n"
                   "def model(idim):\n"
                   "    \"Simple model\"\n"
                   "    ml_model = keras.Sequential([keras.layers.Dense(128, activation='relu', input_shape=(idim,),\n"
                   "                                                    name='inputs'),\n"
                   "                                 keras.layers.Dropout(0.5),   # comment\n"
                   "                                 keras.layers.Dense(1, activation='sigmoid')])\n"
                   "    ml_model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3),\n"
                   "                     loss=keras.losses.BinaryCrossentropy(),\n"
                   "                     metrics=[keras.metrics.BinaryAccuracy(name='accuracy'), keras.metrics.AUC()])\n"
                   "    return ml_model\n",
                   "{\"type\":\"mlp\",\"layers\":[{\"dense\":128,\"activation\":\"relu\"},{\"dropout\":0.5},"
                   "{\"dense\":1,\"activation\":\"sigmoid\"}],\"optimizer\":{\"adam\":{\"lr\":0.001}},"
                   "\"loss\":\"binary_crossentropy\",\"metrics\":[\"accuracy\",\"auc\"]}"));
    /* Keras 2's lr=, string optimizer and loss, layers imported by name, activation layers */
    CHECK(reads_as("from keras.models import Sequential\n"
                   "from keras.layers import Dense, Activation, BatchNormalization\n"
                   "def model(idim):\n"
                   "    m = Sequential([Dense(32, input_shape=(idim,)), Activation('relu'),\n"
                   "                    BatchNormalization(momentum=0.9, epsilon=1e-5),\n"
                   "                    Dense(3), Activation('softmax')])\n"
                   "    m.compile(optimizer='Adam', loss='categorical_crossentropy', \\\n"
                   "              metrics=['accuracy'])\n"
                   "    return m\n",
                   "{\"type\":\"mlp\",\"layers\":[{\"dense\":32,\"activation\":\"linear\"},{\"activation\":\"relu\"},"
                   "{\"batchnorm\":{\"momentum\":0.9,\"epsilon\":1e-5,\"center\":true,\"scale\":true}},"
                   "{\"dense\":3,\"activation\":\"linear\"},{\"activation\":\"softmax\"}],\"optimizer\":\"adam\","
                   "\"loss\":\"categorical_crossentropy\",\"metrics\":[\"accuracy\"]}"));
}

TEST(keras_add_loops_and_options)
{
    CHECK(reads_as("import tensorflow as tf\n"
                   "from tensorflow.keras import layers as L, regularizers\n"
                   "WIDTHS = [64, 32]\n"
                   "def build_model(n_out=4):\n"
                   "    model = tf.keras.Sequential()\n"
                   "    model.add(tf.keras.Input(shape=(45,)))\n"
                   "    for i, w in enumerate(WIDTHS):\n"
                   "        model.add(L.Dense(w // 2 * 2, activation=tf.nn.relu, use_bias=False,\n"
                   "                          kernel_initializer='he_normal',\n"
                   "                          kernel_regularizer=regularizers.l2(1e-4)))\n"
                   "        if i == 0 and w > 40:\n"
                   "            model.add(L.LeakyReLU(alpha=0.2))\n"
                   "        else:\n"
                   "            model.add(L.ELU())\n"
                   "    model.add(L.Dense(n_out))\n"
                   "    model.compile(tf.keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True),\n"
                   "                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))\n"
                   "    model.summary()\n"
                   "    return model\n"
                   "if __name__ == '__main__':\n"
                   "    build_model().fit(x, y)\n",
                   "{\"type\":\"mlp\",\"n_inputs\":45,\"layers\":["
                   "{\"dense\":64,\"activation\":\"relu\",\"use_bias\":false,\"init\":\"he_normal\",\"l2\":0.0001},"
                   "{\"activation\":\"leaky_relu\",\"alpha\":0.2},"
                   "{\"dense\":32,\"activation\":\"relu\",\"use_bias\":false,\"init\":\"he_normal\",\"l2\":0.0001},"
                   "{\"activation\":\"elu\",\"alpha\":1.0},"
                   "{\"dense\":4,\"activation\":\"softmax\"}],"
                   "\"optimizer\":{\"sgd\":{\"lr\":0.01,\"momentum\":0.9,\"nesterov\":true}},"
                   "\"loss\":\"categorical_crossentropy\"}"));
    /* a top-level model, star import, activation functions, CRLF line ends and tabs */
    CHECK(reads_as("from keras.layers import *\r\n"
                   "from keras import activations, Sequential\r\n"
                   "model = Sequential(name='top')\r\n"
                   "model.add(Dense(8, input_dim=12, activation=activations.tanh))\r\n"
                   "if True:\r\n"
                   "\tmodel.add(Dense(1, activation=\"sigmoid\"))\r\n",
                   "{\"type\":\"mlp\",\"n_inputs\":12,\"layers\":[{\"dense\":8,\"activation\":\"tanh\"},"
                   "{\"dense\":1,\"activation\":\"sigmoid\"}]}"));
}

TEST(pytorch_forms)
{
    /* MLaaS4HEP's PyTorch example: no loss in the file; the 1-unit Linear output gets a
     * sigmoid and binary cross-entropy (BCEWithLogitsLoss) */
    CHECK(reads_as("from MLaaS4HEP.jarray.pytorch import JaggedArrayLinear\n"
                   "try:\n"
                   "    import torch\n"
                   "except ImportError:\n"
                   "    torch = None\n"
                   "def model(idim):\n"
                   "    if not torch:\n"
                   "        raise Exception('install pytorch')\n"
                   "    return torch.nn.Sequential(JaggedArrayLinear(idim, 5), torch.nn.ReLU(), torch.nn.Linear(5, 1))\n",
                   "{\"type\":\"mlp\",\"loss\":\"binary_crossentropy\",\"layers\":[{\"dense\":5,\"activation\":\"linear\"},"
                   "{\"activation\":\"relu\"},{\"dense\":1,\"activation\":\"sigmoid\"}]}"));
    /* nn alias, list built in a loop and unpacked, BatchNorm1d momentum -> Keras's 1 - m,
     * k > 1 outputs: softmax + categorical cross-entropy (CrossEntropyLoss) */
    CHECK(reads_as("import torch.nn as nn\n"
                   "def model(idim, hidden=(32, 16)):\n"
                   "    layers, prev = [], idim\n"
                   "    for h in hidden:\n"
                   "        layers += [nn.Linear(prev, h), nn.BatchNorm1d(h, momentum=0.25), nn.LeakyReLU()]\n"
                   "        layers.append(nn.Dropout(p=0.5))\n"
                   "        prev = h\n"
                   "    layers.append(nn.Linear(prev, 3))\n"
                   "    return nn.Sequential(*layers).to('cpu')\n",
                   "{\"type\":\"mlp\",\"loss\":\"categorical_crossentropy\",\"layers\":["
                   "{\"dense\":32,\"activation\":\"linear\"},"
                   "{\"batchnorm\":{\"momentum\":0.75,\"epsilon\":1e-5,\"center\":true,\"scale\":true}},"
                   "{\"activation\":\"leaky_relu\",\"alpha\":0.01},{\"dropout\":0.5},"
                   "{\"dense\":16,\"activation\":\"linear\"},"
                   "{\"batchnorm\":{\"momentum\":0.75,\"epsilon\":1e-5,\"center\":true,\"scale\":true}},"
                   "{\"activation\":\"leaky_relu\",\"alpha\":0.01},{\"dropout\":0.5},"
                   "{\"dense\":3,\"activation\":\"softmax\"}]}"));
    /* OrderedDict, a literal input width, an explicit Sigmoid, no bias */
    CHECK(reads_as("from collections import OrderedDict\n"
                   "from torch import nn\n"
                   "net = nn.Sequential(OrderedDict([('fc1', nn.Linear(30, 8, bias=False)), ('act', nn.Tanh()),\n"
                   "                                 ('out', nn.Linear(8, 1)), ('p', nn.Sigmoid())]))\n",
                   "{\"type\":\"mlp\",\"n_inputs\":30,\"loss\":\"binary_crossentropy\",\"layers\":["
                   "{\"dense\":8,\"activation\":\"linear\",\"use_bias\":false},{\"activation\":\"tanh\"},"
                   "{\"dense\":1,\"activation\":\"linear\"},{\"activation\":\"sigmoid\"}]}"));
}

TEST(refusals_name_file_and_line)
{
    const char *K = "from tensorflow import keras\nfrom tensorflow.keras import layers\n";
    char src[1024];
    snprintf(src, sizeof src, "%sdef model(idim):\n    m = keras.Sequential()\n    m.add(layers.Dense(64))\n"
             "    m.add(layers.Conv2D(32, 3))\n    return m\n", K);
    CHECK(refused(src, MLHEP_EUNSUPPORTED, 6,
                  "Conv2D is not supported (mlhep trains dense networks: Dense, Dropout, BatchNormalization and "
                  "activations)"));
    CHECK(refused("import torch\ndef model(n):\n    return torch.nn.Sequential(torch.nn.Linear(n, 4),\n"
                  "        torch.nn.LSTM(4, 4))\n",
                  MLHEP_EUNSUPPORTED, 4, "LSTM is not supported (mlhep trains dense networks: Linear, Dropout, "
                  "BatchNorm1d and activations)"));
    snprintf(src, sizeof src, "%sdef model(idim):\n    return keras.Sequential([layers.Dense(4, activation='selu')])\n",
             K);
    CHECK(refused(src, MLHEP_EUNSUPPORTED, 4, "activation 'selu' is not supported"));
    snprintf(src, sizeof src,
             "%sdef model(idim):\n    m = keras.Sequential([layers.Dense(1)])\n\n    m.compile(optimizer='rmsprop')\n"
             "    return m\n", K);
    CHECK(refused(src, MLHEP_EUNSUPPORTED, 6, "the optimizer rmsprop is not supported (mlhep trains with Adam or SGD)"));
    snprintf(src, sizeof src,
             "%sdef model(idim):\n    m = keras.Sequential([layers.Dense(1)])\n    m.compile(loss='hinge')\n"
             "    return m\n", K);
    CHECK(refused(src, MLHEP_EUNSUPPORTED, 5, "the loss hinge is not supported"));
    snprintf(src, sizeof src,
             "%sdef model(idim):\n    m = keras.Sequential([layers.Dense(1)])\n    m.load_weights('w.h5')\n"
             "    return m\n", K);
    CHECK(refused(src, MLHEP_EINVAL, 5, "load_weights() on the model is not read"));
    CHECK(refused("import torch.nn as nn\ndef model(idim):\n    return nn.Sequential(nn.Linear(idim, 32), nn.ReLU(),\n"
                  "                         nn.Linear(16, 1))\n",
                  MLHEP_EINVAL, 4, "Linear in_features takes 16 values but the layer before gives 32"));
    CHECK(refused("import torch\nclass Net(torch.nn.Module):\n    pass\ndef model(idim):\n    return Net()\n",
                  MLHEP_EINVAL, 5, "an instance of Net, a class defined in m.py"));
    snprintf(src, sizeof src, "%sdef model(idim):\n    x = keras.Input(shape=(idim,))\n    y = layers.Dense(1)(x)\n"
             "    return keras.Model(x, y)\n", K);
    CHECK(refused(src, MLHEP_EINVAL, 6, "returns Model(...), not a Sequential model"));
    snprintf(src, sizeof src, "%sdef model(idim):\n    return keras.Sequential([layers.Dense(idim * 2)])\n", K);
    CHECK(refused(src, MLHEP_EINVAL, 4, "computed from the input width"));
    snprintf(src, sizeof src, "%sdef model(idim):\n    return keras.Sequential([layers.Dense(hidden)])\n", K);
    CHECK(refused(src, MLHEP_EINVAL, 4, "'hidden' is not defined"));
    snprintf(src, sizeof src, "%sdef model(idim):\n    return keras.Sequential([layers.Dense(8, input_shape=(28, 28))])\n",
             K);
    CHECK(refused(src, MLHEP_EUNSUPPORTED, 4, "an input shape of 2 dimensions"));
    snprintf(src, sizeof src, "%sdef model(idim):\n    return keras.Sequential([layers.Dense(8, kernel_constraint=c)])\n",
             K);
    CHECK(refused(src, MLHEP_EUNSUPPORTED, 4, "Dense: kernel_constraint is not supported"));
    snprintf(src, sizeof src, "%sdef model(idim):\n    return keras.Sequential([layers.Dense(8, mystery=1)])\n", K);
    CHECK(refused(src, MLHEP_EUNSUPPORTED, 4, "Dense: the argument 'mystery' is not read by mlhep"));
    CHECK(refused("def model(idim):\n    n = 0\n    while n < 3:\n        n += 1\n", MLHEP_EINVAL, 3,
                  "while loops are not read"));
    CHECK(refused("import numpy as np\nx = 1\n", MLHEP_EINVAL, 0, "no model found: define model(idim)"));
    CHECK(refused("def model(idim):\n    return 3\n", MLHEP_EINVAL, 2, "model() returns the number 3, not a Sequential"));
    CHECK(refused("def model(idim):\n    return keras.Sequential([])\n", MLHEP_EINVAL, 2,
                  "the Sequential model has no layers"));
    CHECK(refused("def model(idim):\n    return keras.Sequential([keras.layers.Dropout(0.1)])\n", MLHEP_EINVAL, 2,
                  "the model has no Dense layer"));
    CHECK(refused("import torch\ndef model(i):\n    return torch.nn.Sequential(keras.layers.Dense(1))\n", MLHEP_EINVAL,
                  3, "Dense is a Keras layer in a PyTorch model"));
}

TEST(syntax_errors_name_the_line)
{
    CHECK(refused("import keras\n\ndef model(idim):\n    return keras.Sequential([keras.layers.Dense(1)\n\n",
                  MLHEP_EINVAL, 4, "bracket opened here is never closed"));
    CHECK(refused("def model(idim):\n    x = 1\n      y = 2\n", MLHEP_EINVAL, 3, "unexpected indentation"));
    CHECK(refused("def model(idim):\n        x = 1\n    y = 2\n", MLHEP_EINVAL, 3,
                  "indentation does not match any outer block"));
    CHECK(refused("x = 'open\n", MLHEP_EINVAL, 1, "string not closed on its line"));
    CHECK(refused("x = \"\"\"\nnever closed\n", MLHEP_EINVAL, 1, "string not closed"));
    CHECK(refused("def model(idim)\n    return 1\n", MLHEP_EINVAL, 1, "expected ':' after 'def'"));
    CHECK(refused("x = 1 $ 2\n", MLHEP_EINVAL, 1, "unexpected character '$'"));
    CHECK(refused("x = )\n", MLHEP_EINVAL, 1, "')' closes nothing"));
    CHECK(refused("x = 1\nelse:\n    y = 2\n", MLHEP_EINVAL, 2, "'else' without its 'if'/'try'"));
    CHECK(refused("x = 3j\n", MLHEP_EINVAL, 1, "complex numbers"));
    CHECK(refused("return 1\n", MLHEP_EINVAL, 1, "'return' outside a function"));
}

TEST(limits_end_hostile_files)
{
    CHECK(refused("x = 0\nfor i in range(1000):\n    for j in range(1000):\n        x = j\n", MLHEP_ENOMEM, 3,
                  "stopped after"));
    CHECK(refused("def f():\n    return f()\nf()\n", MLHEP_ENOMEM, 2, "nested more than"));
    CHECK(refused("x = [0] * 10000000\n", MLHEP_ENOMEM, 1, "a list of more than"));
    char deep[1024] = "x = ";
    for (int i = 0; i < 200; i++)
        strcat(deep, "(");
    CHECK(refused(deep, MLHEP_ENOMEM, 1, "brackets nested more than"));
    char neg[1024] = "x = ";
    for (int i = 0; i < 300; i++)
        strcat(neg, "-");
    strcat(neg, "1\n");
    CHECK(refused(neg, MLHEP_ENOMEM, 1, "expression nested more than"));
    /* numbers are doubles: what they cannot hold is refused, never converted */
    CHECK(refused("x = 1\ny = 1e999\n", MLHEP_EINVAL, 2, "cannot read the number '1e999'"));
    CHECK(refused("x = 0xfffffffffffffffffff\n", MLHEP_EINVAL, 1, "beyond 2^53"));
    CHECK(refused("x = 99999999999999999999\n", MLHEP_EINVAL, 1, "beyond 2^53"));
    CHECK(refused("x = [1, 2][10 ** 30]\n", MLHEP_EINVAL, 1, "beyond 2^53"));
    CHECK(refused("x = 2 ** 5000\n", MLHEP_EINVAL, 1, "too large to compute"));
    CHECK(refused("x = 1e308 * 10\n", MLHEP_EINVAL, 1, "too large to compute"));
    CHECK(refused("x = [] * 2 ** 52\n", MLHEP_EINVAL, 0, "no model found")); /* quick, not 2^52 steps */
    json_t *spec = NULL;
    mlhep_err e;
    CHECK(modelpy_read("x = 1\0y", 7, "m.py", &spec, &e) == MLHEP_EINVAL && strstr(e.msg, "NUL byte"));
    size_t big = MODELPY_MAX_BYTES + 1;
    char *b = malloc(big);
    CHECK(b != NULL);
    memset(b, '#', big);
    int rc = modelpy_read(b, big, "m.py", &spec, &e);
    free(b);
    CHECK(rc == MLHEP_EINVAL && strstr(e.msg, "limit") && !spec);
}

/* The MLaaS4HEP example files of tests/data/mlaas4hep read and build for 70 inputs. */
TEST(mlaas4hep_examples_build)
{
    const char *top = getenv("MLHEP_TOP");
    const char *files[] = {"keras_model.py", "torch_model.py"};
    for (size_t i = 0; i < 2; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s%stests/data/mlaas4hep/%s", top ? top : "", top ? "/" : "", files[i]);
        FILE *f = fopen(path, "rb");
        CHECKF(f != NULL, "cannot open %s", path);
        char buf[8192];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        json_t *spec = NULL;
        mlhep_err e;
        CHECKF(modelpy_read(buf, n, files[i], &spec, &e) == 0, "%s", e.msg);
        char *s = json_dumps(spec, JSON_COMPACT);
        json_decref(spec);
        mlp *m = NULL;
        int rc = mlp_build(s, 70, &m, &e);
        free(s);
        CHECKF(rc == 0, "%s: %s", files[i], e.msg);
        CHECK(mlp_n_outputs(m) == 1 && mlp_get_loss(m) == MLP_LOSS_BCE);
        mlp_free(m);
    }
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    RUN(keras_list_form);
    RUN(keras_add_loops_and_options);
    RUN(pytorch_forms);
    RUN(refusals_name_file_and_line);
    RUN(syntax_errors_name_the_line);
    RUN(limits_end_hostile_files);
    RUN(mlaas4hep_examples_build);
    return test_summary();
}

/* modelpy.h - reads the model.py of an MLaaS4HEP user, without running Python, into
 * mlhep's MLP spec (mlp.h).
 *
 * How it fits: MLaaS4HEP's `workflow --model model.py` imports a Python file whose
 * model(idim) function returns a Keras Sequential model (or, in the PyTorch variant, a
 * torch.nn.Sequential). mlhep trains the same networks in C: the MLaaS4HEP inputs
 * builder (service/mlaas4hep.h, used by mlhep-run and mlhep-submit) hands the file's
 * text here and puts the spec returned into the workflow's "model".
 *
 * What is read: a small tokenizer for Python's lexical rules (comments, strings of every
 * quoting, implicit and backslash line joining, indentation) and an evaluator for the
 * part of Python such files use: import / from-import (with "as"), def with parameters
 * and defaults, return, assignments, calls with positional, keyword and *list arguments,
 * attributes, lists, tuples, numbers, strings, arithmetic and comparisons on numbers,
 * if/elif/else, for over lists and range(), try (its body; handlers are skipped), with,
 * list.append/extend. Nothing is imported or run: names of the frameworks are only
 * recognised (keras / tensorflow.keras / tf.keras, torch / torch.nn).
 * The model: model(idim) is called (its parameters without defaults stand for the input
 * width, which mlhep takes from the data); without such a function, build_model /
 * get_model / create_model, the file's only function, or a top-level variable holding a
 * Sequential model.
 *   Keras: Sequential([...]) or Sequential() + add(); Dense (units, activation,
 *   use_bias, kernel_initializer glorot/he, kernel_regularizer l2), Dropout,
 *   BatchNormalization, Activation, ReLU, LeakyReLU, ELU, Softmax, Flatten, Input /
 *   InputLayer / input_shape=(n,); compile(optimizer= "adam" | "sgd" | Adam(...) |
 *   SGD(...) with learning_rate (or lr), loss= name or keras.losses class (from_logits=True
 *   puts sigmoid/softmax on a linear output: mlhep predicts probabilities), metrics=).
 *   PyTorch: nn.Sequential(...) (or OrderedDict, or *list); Linear (JaggedArrayLinear,
 *   MLaaS4HEP's masked Linear, is read as Linear), Dropout, BatchNorm1d (its momentum m
 *   becomes Keras's 1 - m), ReLU, LeakyReLU, ELU, Tanh, Sigmoid, Softmax, Flatten,
 *   Identity. The loss is not in the file: a last Linear with 1 output is a binary
 *   classifier (sigmoid + binary cross-entropy, as BCEWithLogitsLoss), with k > 1 outputs
 *   a k-class one (softmax + categorical cross-entropy, as CrossEntropyLoss); Adam with
 *   learning rate 0.001 (MLaaS4HEP's PyTorch default).
 * Anything else that the model depends on is refused with the file name, the line and
 * what could not be read, e.g.
 *   "model.py:12: Conv2D is not supported (mlhep trains dense networks: Dense, Dropout,
 *    BatchNormalization and activations)".
 * Statements the model does not depend on (print, unrelated assignments) are ignored.
 *
 * The spec: {"type":"mlp","layers":[...],"optimizer":...,"loss":...,"metrics":[...],
 * "n_inputs":N} - optimizer/loss/metrics only when the file says them, n_inputs only when
 * the file writes the input width as a number (mlp_build then checks it against the data).
 *
 * Limits (a hostile file cannot make it run long or use much memory): MODELPY_MAX_BYTES
 * of text, nesting, call depth, executed statements and list sizes are bounded; errors
 * name the limit. */
#ifndef MLHEP_MODELPY_H
#define MLHEP_MODELPY_H

#include <jansson.h>
#include <stddef.h>

#include "base/err.h"

#define MODELPY_MAX_BYTES (1u << 20) /* a model.py larger than this is refused */

/* Reads src[0..len) (need not end in NUL); fname names the file in messages (e.g.
 * "model.py"). On success *spec is a new reference to the MLP spec object. Errors:
 * MLHEP_EINVAL (cannot be read: syntax, no model found, something the model needs that
 * mlhep cannot read), MLHEP_EUNSUPPORTED (a layer, activation, optimizer or loss mlhep
 * does not train), MLHEP_ENOMEM (out of memory or a limit). */
int modelpy_read(const char *src, size_t len, const char *fname, json_t **spec, mlhep_err *e);

#endif

/* version.h - mlhep's release, written once. It travels with what mlhep hands to other
 * programs: the ONNX exports' producer_version and "mlhep.version" metadata (model/onnx.c,
 * train/train.c). Raise it when a release changes what users see. */
#ifndef MLHEP_VERSION_H
#define MLHEP_VERSION_H

#define MLHEP_VERSION "1.0.0"

#endif

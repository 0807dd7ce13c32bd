/* infer_cmd.h - the dispatch of mlhep-submit's inference commands, `predict` and
 * `models` (program code, linked from build/libmlhep-cli.a).
 *
 * mlhep_submit.c hands the whole command line here when its command word is predict or
 * models (infer_cmd_wants). infer_cmd_main parses the options of both commands in one
 * getopt pass (options may come before or after the command word), loads the
 * configuration and the bearer token, and runs predict_cmd_run (predict_cmd.h) or
 * models_cmd_run (models_cmd.h); `--help` prints the command's own usage. What the
 * commands share (options, exit codes, the service) is infer_svc.h, below all three. */
#ifndef MLHEP_INFER_CMD_H
#define MLHEP_INFER_CMD_H

/* 1 if argv's first non-option argument is "predict" or "models". */
int infer_cmd_wants(int argc, char **argv);

/* Runs the command; returns the process exit code. */
int infer_cmd_main(int argc, char **argv);

#endif

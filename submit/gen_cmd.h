/* gen_cmd.h - `mlhep-root gen`: the command line of the synthetic event generator
 * (options, usage, progress and summary lines, exit codes). Program code, linked from
 * build/libmlhep-cli.a; the generator itself is the library's root/evgen.h. */
#ifndef MLHEP_GEN_CMD_H
#define MLHEP_GEN_CMD_H

/* argv[0] = "gen": --events N --class signal|background --out FILE [--seed S]
 * [--compression SPEC] [--preset tth|nanoaod] [--tree NAME] [--cluster N] [--help].
 * Progress on stderr (one line per step when stderr is not a terminal), a summary line
 * on stdout. Returns the exit code: 0 ok, 1 bad usage, 2 failure. */
int gen_cmd_main(int argc, char **argv);

#endif

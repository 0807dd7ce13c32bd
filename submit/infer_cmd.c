/* infer_cmd.c - mlhep-submit's predict and models commands: one getopt pass over both
 * commands' options, then the command (see infer_cmd.h). */
#include "infer_cmd.h"
#include "infer_svc.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/numarg.h"
#include "infer/treescore.h"
#include "models_cmd.h"
#include "predict_cmd.h"
#include "service/auth_glue.h"

/* longest reply wait accepted: a week (and (int) milliseconds cannot overflow) */
#define TIMEOUT_MAX_S 604800.0

static const struct option lopts[] = {{"config", required_argument, 0, 'c'},
                                      {"token-file", required_argument, 0, 't'},
                                      {"json", no_argument, 0, 'j'},
                                      {"timeout", required_argument, 0, 'T'},
                                      {"model", required_argument, 0, 'm'},
                                      {"root", required_argument, 0, 'r'},
                                      {"tree", required_argument, 0, 'R'},
                                      {"out", required_argument, 0, 'o'},
                                      {"branch", required_argument, 0, 'b'},
                                      {"batch", required_argument, 0, 'B'},
                                      {"window", required_argument, 0, 'W'},
                                      {"local", no_argument, 0, 'l'},
                                      {"wire", required_argument, 0, 'w'},
                                      {"shared", no_argument, 0, 's'},
                                      {"full", no_argument, 0, 'U'},
                                      {"help", no_argument, 0, 'h'},
                                      {0, 0, 0, 0}};

int infer_cmd_wants(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--"))
            return i + 1 < argc && (!strcmp(argv[i + 1], "predict") || !strcmp(argv[i + 1], "models"));
        if (a[0] == '-') {
            /* options taking a separate value */
            if (!strchr(a, '=') && (!strcmp(a, "-c") || !strcmp(a, "-t") || !strcmp(a, "--config") ||
                                    !strcmp(a, "--token-file") || !strcmp(a, "--timeout") || !strcmp(a, "--fetch") ||
                                    !strcmp(a, "--model")))
                i++;
            continue;
        }
        return !strcmp(a, "predict") || !strcmp(a, "models");
    }
    return 0;
}

/* The options into o; -1 and *x the exit code if the command line is refused. */
static int parse(int argc, char **argv, infer_svc_opts *o, int *x)
{
    mlhep_err e;
    err_clear(&e);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:t:h", lopts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'c': o->config = optarg; break;
        case 't': o->tokfile = optarg; break;
        case 'j': o->json = 1; break;
        case 'T': bad = numarg_double("--timeout", optarg, 0.001, TIMEOUT_MAX_S, &o->timeout, &e); break;
        case 'm': o->model = optarg; break;
        case 'r': o->root = optarg; break;
        case 'R': o->tree = optarg; break;
        case 'o': o->out = optarg; break;
        case 'b': o->branch = optarg; break;
        case 'B': bad = numarg_long("--batch", optarg, 1, TREESCORE_BATCH_MAX, &o->batch, &e); break;
        case 'W': bad = numarg_long("--window", optarg, 1, TREESCORE_WINDOW_MAX, &o->window, &e); break;
        case 'l': o->local = 1; break;
        case 'w':
            if (strcmp(optarg, "binary") && strcmp(optarg, "json")) {
                *x = infer_svc_fail(INFER_X_USAGE, "--wire takes binary or json");
                return -1;
            }
            o->wire_json = !strcmp(optarg, "json");
            break;
        case 's': o->shared = 1; break;
        case 'U': o->full = 1; break;
        case 'h': o->help = 1; break;
        default: *x = INFER_X_USAGE; return -1;
        }
        if (bad) {
            *x = infer_svc_fail(INFER_X_USAGE, "%s", e.msg);
            return -1;
        }
    }
    return 0;
}

int infer_cmd_main(int argc, char **argv)
{
    infer_svc_opts o;
    memset(&o, 0, sizeof o);
    o.timeout = 60;
    int x;
    if (parse(argc, argv, &o, &x))
        return x;
    int nargs = argc - optind;
    char **args = argv + optind;
    int predict = nargs >= 1 && !strcmp(args[0], "predict");
    if (o.help) {
        if (predict || nargs < 1)
            predict_cmd_usage(stdout);
        if (!predict)
            models_cmd_usage(stdout);
        return INFER_X_OK;
    }
    if (nargs < 1)
        return infer_svc_fail(INFER_X_USAGE, "no command");
    if (predict && (x = predict_cmd_check(&o, nargs - 1)))
        return x;
    mlhep_err e;
    err_clear(&e);
    if (config_load(&o.cfg, o.config, &e))
        return infer_svc_fail(INFER_X_CONFIG, "configuration: %s", e.msg);
    /* a local prediction from a model file asks nothing of the service: no token */
    struct stat st;
    const char *file = !o.local ? NULL
                       : predict ? o.model
                       : nargs == 3 && !strcmp(args[1], "features") ? args[2] : NULL;
    int no_token = file && !stat(file, &st) && S_ISREG(st.st_mode);
    if (!no_token && auth_token_load(o.tokfile, &o.token, &e))
        x = infer_svc_fail(INFER_X_AUTH, "%s", e.msg);
    else if (predict)
        x = predict_cmd_run(&o, nargs - 1, args + 1);
    else
        x = models_cmd_run(&o, nargs - 1, args + 1);
    if (o.token) {
        memset(o.token, 0, strlen(o.token));
        free(o.token);
    }
    config_free(&o.cfg);
    return x;
}

/*
 * scenario.h - the scenarios wsbroker-bench runs, one entry point per
 * family: main.c picks one by name, prepends its preset options to the
 * user's, and hands over argv. Each entry parses argv with getopt_long from
 * argv[1] on, runs, prints its report and returns the exit status.
 */
#ifndef WSB_BENCH_SCENARIO_H
#define WSB_BENCH_SCENARIO_H

/* The scenario's name as given on the command line ("fanout", "storm", ...),
 * for reports; set by main before the entry point runs. */
extern const char *bench_scenario;

/* fanout, fanin, market, reliable, resume: pub/sub on /v1 (pubsub.c). */
int pubsub_main(int argc, char **argv);

/* echo and storm: /echo round trips and connection storms (echo.c). */
int echo_main(int argc, char **argv);

#endif
